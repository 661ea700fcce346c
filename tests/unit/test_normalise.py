"""Normalising jobs-API payloads: every job type, both duration formats, both id casings."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from backup_events.domain.ids import same_resource
from backup_events.domain.model import Phase, Workload
from backup_events.errors import MalformedInputError
from backup_events.wire.jobs import normalise_job, parse_duration
from tests.conftest import load

VM_DETAILS = "synth-iaasvm-failed-UserErrorGuestAgentStatusUnavailable-details.json"


def job_of(job_type: str, **properties: Any) -> dict[str, Any]:
    return {
        "id": "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-backup/providers/"
        "microsoft.recoveryservices/vaults/rsv-prod/backupJobs/11111111-2222-3333-4444-555555555555",
        "name": "11111111-2222-3333-4444-555555555555",
        "properties": {"jobType": job_type, "status": "Failed", "operation": "Backup", **properties},
    }


@pytest.mark.parametrize(
    ("job_type", "extra", "workload", "item"),
    [
        ("AzureIaaSVMJob", {"entityFriendlyName": "vm-app-02"}, Workload.AZURE_VM, "vm-app-02"),
        ("AzureIaaSVMJobV2", {"entityFriendlyName": "vm-app-03"}, Workload.AZURE_VM, "vm-app-03"),
        ("AzureStorageJob", {"entityFriendlyName": "share-finance"}, Workload.AZURE_FILES, "share-finance"),
        (
            "AzureWorkloadJob",
            {"entityFriendlyName": "MSSQLSERVER/salesdb [vm-sql-01.contoso.com]", "workloadType": "SQLDataBase"},
            Workload.SQL,
            "vm-sql-01 / salesdb",
        ),
        (
            "AzureWorkloadJob",
            {"entityFriendlyName": "HXE/SYSTEMDB [vm-hana-01]", "workloadType": "SAPHanaDatabase"},
            Workload.SAP_HANA,
            "vm-hana-01 / SYSTEMDB",
        ),
        ("MabJob", {"mabServerName": "fileserver-01"}, Workload.MARS, "fileserver-01"),
        ("DpmJob", {"entityFriendlyName": "SQL01\\Finance", "backupManagementType": "DPM"}, Workload.DPM, "SQL01\\Finance"),
        (
            "DpmJob",
            {"entityFriendlyName": "SQL01\\Finance", "backupManagementType": "AzureBackupServer"},
            Workload.MABS,
            "SQL01\\Finance",
        ),
        ("VaultJob", {"entityFriendlyName": "rsv-prod"}, Workload.VAULT, "rsv-prod"),
    ],
)
def test_every_job_type_names_its_workload_and_the_item_not_the_vault(
    job_type: str, extra: dict[str, Any], workload: Workload, item: str
) -> None:
    job = normalise_job(job_of(job_type, **extra))
    assert (job.workload, job.item_name, job.known_job_type, job.job_type) == (workload, item, True, job_type)
    assert job.vault_name == "rsv-prod"


def test_unknown_job_type_is_kept_flagged_and_still_failed() -> None:
    job = normalise_job(job_of("AzureFutureJob", entityFriendlyName="thing-01"))
    assert job.known_job_type is False
    assert job.job_type == "AzureFutureJob"
    assert job.status == "Failed"
    assert job.item_name == "thing-01"
    assert "Unknown job type" in job.notes[0]


def test_missing_job_type_is_flagged_too() -> None:
    raw = job_of("x")
    del raw["properties"]["jobType"]
    assert normalise_job(raw).job_type == "(missing)"


def test_vm_details_give_failing_phase_code_number_and_azure_advice() -> None:
    job = normalise_job(load(VM_DETAILS))
    assert job.failing_phase is Phase.TAKE_SNAPSHOT
    assert job.error is not None
    assert (job.error.code, job.error.number) == ("UserErrorGuestAgentStatusUnavailable", 999001)
    assert job.error.message == "VM Agent unable to communicate with Azure Backup"
    assert job.error.recommendations[0].startswith("Ensure that the VM agent")
    assert job.duration == timedelta(hours=4, minutes=20, seconds=31, microseconds=532100)
    assert job.start == datetime(2026, 11, 20, 16, 5, 12, 123456, tzinfo=UTC)
    assert job.subscription_id == "00000000-0000-0000-0000-000000000000"
    assert job.resource_group == "rg-backup"


def test_sql_failure_reads_string_code_from_error_title_and_transfer_phase() -> None:
    job = normalise_job(load("synth-sql-failed-conflicting-operation-details.json"))
    assert job.error is not None
    assert (job.error.code, job.error.number) == ("OperationCancelledBecauseConflictingOperationRunningUserError", 510008)
    assert job.failing_phase is Phase.TRANSFER
    assert job.item_name == "vm-sql-01 / salesdb"


def test_azure_files_failure_has_only_a_number_and_no_phase() -> None:
    job = normalise_job(load("synth-afs-failed-storage-locked-details.json"))
    assert job.error is not None
    assert (job.error.code, job.error.number) == (None, 400190)
    assert job.failing_phase is None
    assert job.workload is Workload.AZURE_FILES


def test_mars_error_without_code_keeps_its_message() -> None:
    job = normalise_job(job_of("MabJob", errorDetails=[{"errorString": "Unable to connect (ID: 100050)"}]))
    assert job.error is not None
    assert (job.error.code, job.error.number, job.error.message) == (None, None, "Unable to connect (ID: 100050)")


def test_error_title_that_is_prose_is_not_taken_for_a_code() -> None:
    job = normalise_job(job_of("AzureIaaSVMJob", errorDetails=[{"errorCode": 1, "errorTitle": "The VM", "errorString": "x"}]))
    assert job.error is not None and job.error.code is None


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        ("00:20:23.0896697", timedelta(minutes=20, seconds=23, microseconds=89669)),
        ("04:20:31", timedelta(hours=4, minutes=20, seconds=31)),
        ("1.02:03:04.5", timedelta(days=1, hours=2, minutes=3, seconds=4, microseconds=500000)),
        ("PT12.4272909S", timedelta(seconds=12.4272909)),
        ("PT1H2M3S", timedelta(hours=1, minutes=2, seconds=3)),
        ("P1DT2H", timedelta(days=1, hours=2)),
        ("PT0S", timedelta(0)),
        # InProgress jobs of the live service, and az -o json printing Python's timedelta:
        ("-PT4M20.8890416S", -timedelta(minutes=4, seconds=20.8890416)),
        ("-00:01:00", -timedelta(minutes=1)),
        ("0:00:29.718011", timedelta(seconds=29, microseconds=718011)),
        ("1 day, 2:03:04.500000", timedelta(days=1, hours=2, minutes=3, seconds=4, microseconds=500000)),
        ("-1 day, 23:55:39.110958", -timedelta(minutes=4, seconds=20, microseconds=889042)),
        ("2 days, 0:00:00", timedelta(days=2)),
        (None, None),
        ("", None),
    ],
)
def test_durations_in_dotnet_python_and_iso_formats(wire: str | None, expected: timedelta | None) -> None:
    assert parse_duration(wire) == expected


@pytest.mark.parametrize("wire", ["soon", "P", "PT", "-P", "12:3:4", "1 day 2:03:04"])
def test_unreadable_duration_names_the_field(wire: str) -> None:
    with pytest.raises(MalformedInputError) as caught:
        parse_duration(wire)
    assert caught.value.field == "properties.duration"


def test_ids_compare_case_insensitively() -> None:
    upper = load(VM_DETAILS)
    lower = copy.deepcopy(upper)
    lower["id"] = (
        lower["id"]
        .replace("/Subscriptions/", "/subscriptions/")
        .replace("Microsoft.RecoveryServices", "microsoft.recoveryservices")
    )
    a, b = normalise_job(upper), normalise_job(lower)
    assert a.vault_id != b.vault_id
    assert same_resource(a.vault_id, b.vault_id)
    assert same_resource(a.job_id, b.job_id)


@pytest.mark.parametrize(
    "name",
    [
        "spec-2025-02-01-ListJobs.json",
        "spec-2026-02-01-ListJobsWithStartTimeAndEndTimeFilters.json",
        "synth-list-failed-jobs-page1.json",
    ],
)
def test_every_recorded_list_item_normalises(name: str) -> None:
    items = load(name)
    items = items.get("value") or items["responses"]["200"]["body"]["value"]
    for item in items:
        job = normalise_job(item)
        assert job.job_name and job.vault_name and job.item_name and job.status


def test_spec_job_details_example_normalises_with_its_tasks() -> None:
    job = normalise_job(load("spec-2026-02-01-GetJobDetails.json")["responses"]["200"]["body"])
    assert [t.name for t in job.tasks] == ["Take Snapshot", "Transfer data to vault"]
    assert job.failing_phase is None  # in progress, nothing failed


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"id": "x"}, "properties"),
        ({"properties": {"status": "Failed"}}, "id"),
        (
            {
                "id": "/subscriptions/s/resourceGroups/r/providers/Microsoft.Compute/virtualMachines/vm",
                "properties": {"status": "Failed"},
            },
            "id",
        ),
        (
            {
                "id": "/subscriptions/s/resourceGroups/r/providers/Microsoft.RecoveryServices/vaults/v",
                "properties": {"status": "Failed"},
            },
            "id",
        ),
        (
            {
                "id": "/subscriptions/s/resourceGroups/r/providers/Microsoft.RecoveryServices/vaults/v/backupJobs/j",
                "properties": {},
            },
            "properties.status",
        ),
    ],
)
def test_malformed_job_names_the_offending_field(raw: dict[str, Any], field: str) -> None:
    with pytest.raises(MalformedInputError) as caught:
        normalise_job(raw)
    assert caught.value.field == field


JOB_ID = "/subscriptions/s/resourceGroups/r/providers/Microsoft.RecoveryServices/vaults/v/backupJobs/j"


@pytest.mark.parametrize(
    ("properties", "field"),
    [
        ({"startTime": "yesterday"}, "properties.startTime"),
        ({"endTime": 12}, "properties.endTime"),
        ({"duration": "soon"}, "properties.duration"),
        ({"errorDetails": ["oops", {"errorCode": 400003, "errorString": "Restore failed"}]}, "properties.errorDetails[0]"),
    ],
)
def test_unreadable_field_is_unknown_and_the_job_is_kept(properties: dict[str, Any], field: str) -> None:
    job = normalise_job({"id": JOB_ID, "properties": {"status": "Failed", "jobType": "AzureIaaSVMJob", **properties}})
    assert job.status == "Failed"
    assert any(note.startswith(field) for note in job.notes), job.notes
    if "errorDetails" in properties:
        assert job.error is not None and job.error.number == 400003


def test_null_error_details_extended_info_and_actions_are_absent_not_broken() -> None:
    job = normalise_job(
        {
            "id": JOB_ID,
            "properties": {
                "status": "InProgress",
                "jobType": "AzureStorageJobV2",
                "errorDetails": None,
                "extendedInfo": None,
                "actionsInfo": None,
                "endTime": None,
                "duration": "-PT4M20.8890416S",
                "startTime": "2021-03-01T10:00:00.1234567+00:00",
            },
        }
    )
    assert (job.errors, job.tasks, job.end, job.notes) == ((), (), None, ())
    assert job.known_job_type and job.workload is Workload.AZURE_FILES
    assert job.duration is not None and job.duration < timedelta(0)


@pytest.mark.parametrize(
    ("job_type", "workload"), [("AzureIaaSVMJobV2", Workload.AZURE_VM), ("AzureStorageJobV2", Workload.AZURE_FILES)]
)
def test_v2_job_types_are_known(job_type: str, workload: Workload) -> None:
    job = normalise_job({"id": JOB_ID, "properties": {"status": "Failed", "jobType": job_type}})
    assert job.known_job_type and job.workload is workload


def test_workload_v2_job_is_a_database_job() -> None:
    job = normalise_job(
        {
            "id": JOB_ID,
            "properties": {
                "status": "Failed",
                "jobType": "AzureWorkloadJobV2",
                "workloadType": "SAPHanaDatabase",
                "entityFriendlyName": "SYSTEMDB [hxehost]",
            },
        }
    )
    assert job.known_job_type and job.workload is Workload.SAP_HANA and job.item_name == "hxehost / SYSTEMDB"


def test_dynamic_error_message_is_kept_next_to_the_error() -> None:
    job = normalise_job(
        {
            "id": JOB_ID,
            "properties": {
                "status": "Failed",
                "jobType": "AzureWorkloadJob",
                "errorDetails": [{"errorCode": 520123, "errorTitle": "UserErrorRestoreFailedTargetFileAlreadyExists"}],
                "extendedInfo": {"dynamicErrorMessage": "File F:\\db.mdf already exists."},
            },
        }
    )
    assert job.detail == "File F:\\db.mdf already exists."
    assert job.error is not None and job.error.code == "UserErrorRestoreFailedTargetFileAlreadyExists"
