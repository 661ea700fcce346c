"""Backup vault (Microsoft.DataProtection) jobs and backup instances, read from recorded payloads of the live service."""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from backup_events import bootstrap
from backup_events.domain import remediation
from backup_events.domain.identity import incident_key, item_key
from backup_events.domain.ids import is_backup_vault, parse_vault_id, watched
from backup_events.domain.model import Diagnosis, JobError, Severity, Workload
from backup_events.domain.operations import OperationKind, kind_of
from backup_events.domain.remediation import severity_of
from backup_events.errors import MalformedInputError
from backup_events.mail.render import render_failure
from backup_events.settings import Settings
from backup_events.wire.exported import resources_in
from backup_events.wire.items import protected_item_of
from backup_events.wire.jobs import normalise_job
from tests.loopback.fixtures import FakeTokenCredential
from tests.recorded import RECORDED, document, one

CATALOG = remediation.load()

PGFLEX_BACKUP_FAILED = "jobs/azcli--test_dataprotection_backup_and_restore_pgflex--8e1899e-i030.json"
BLOB_RESTORES = "jobs/azcli--test_dataprotection_job_list_and_show--b363efa-i000.json"
RESOURCE_GRAPH_ROWS = "jobs/azcli--test_dataprotection_job_list_and_show--8655f76-i001.json"
DISK_BACKUP_COMPLETED = "jobs/azcli--test_dataprotection_backup_instance_create_backup_delete_disk--b363efa-i040.json"
PG_SINGLE_INSTANCE = "items/azcli--test_dataprotection_backup_and_restore_oss--8640f74-i017.json"
VAULT = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/clitest-dpp-rg/providers/Microsoft.DataProtection"


def failed_in(name: str) -> list[dict[str, object]]:
    return [dict(r) for r in resources_in(document(name)) if r["properties"].get("status") == "Failed"]


def test_a_failed_flexible_server_backup_names_the_server_the_code_and_azures_detail() -> None:
    job = normalise_job(one(PGFLEX_BACKUP_FAILED))
    assert (job.workload, job.item_name, job.operation, job.status) == (
        Workload.POSTGRESQL_FLEX,
        "clitest-pgflex-server-2",
        "Backup",
        "Failed",
    )
    assert job.vault_name == "clitest-bkp-vault-ecy-donotdelete"
    assert [e.code for e in job.errors] == ["PostgreSQLFlexServerError"]  # the repeated nested copy and the generic leaf dropped
    assert job.errors[0].recommendations[0].startswith("Refer https://aka.ms/DBforPostgreSQLFlexTroubleshoot")
    assert job.detail.startswith("Service request failed.\nStatus: 500 (Internal Server Error)")
    assert "x-ms-request-id" not in job.detail  # the response headers Azure pastes in are cut
    assert [(t.name, t.status) for t in job.tasks] == [("Trigger Backup", "Failed")]
    assert job.duration == timedelta(minutes=1, seconds=34.3675268)  # ISO 8601 on a GET


def test_a_listed_blob_restore_reads_its_timespan_duration_and_string_code() -> None:
    job = normalise_job(failed_in(BLOB_RESTORES)[0])
    assert (job.workload, job.item_name, job.operation) == (Workload.AZURE_BLOBS, "clitestsavltdonotdelete", "Restore")
    assert job.error is not None and job.error.code == "UserErrorStorageAccountContainerNotFound"
    assert job.error.retryable is False and job.error.user_error is False
    assert job.duration == timedelta(minutes=11, seconds=13, microseconds=991417)  # .NET TimeSpan in a list
    assert job.tasks == ()  # list items carry no extendedInfo


def test_resource_graph_rows_read_like_arm_items() -> None:
    rows = list(resources_in(document(RESOURCE_GRAPH_ROWS)))
    assert rows and all(r["type"] == "microsoft.dataprotection/backupvaults/backupjobs" for r in rows)
    failed = [normalise_job(r) for r in rows if r["properties"]["status"] == "Failed"]
    assert [(j.workload, j.error.code if j.error else None) for j in failed] == [(Workload.AZURE_DISK, "InternalServerError")]
    assert failed[0].tasks  # Resource Graph rows keep extendedInfo


def test_a_cross_region_restore_is_told_as_a_restore() -> None:
    raw = one(DISK_BACKUP_COMPLETED)
    raw["properties"].update(operationCategory="CrossRegionRestore", operation="Restore", status="Failed")
    job = normalise_job(raw)
    assert job.operation == "CrossRegionRestore"
    assert kind_of(job.operation) is OperationKind.RESTORE


@pytest.mark.parametrize("spelling", ["backupVaults", "Backupvaults", "BackupVaults", "backupvaults"])
def test_backup_vault_ids_are_read_in_every_casing_the_service_uses(spelling: str) -> None:
    raw = one(DISK_BACKUP_COMPLETED)
    raw["id"] = raw["id"].replace("backupVaults", spelling)
    job = normalise_job(raw)
    assert is_backup_vault(job.vault_id)
    assert parse_vault_id(job.vault_id)["kind"] == "Microsoft.DataProtection/backupVaults"
    assert item_key(job.vault_id, job.item_name) == item_key(normalise_job(one(DISK_BACKUP_COMPLETED)).vault_id, job.item_name)


def test_a_backup_vault_item_never_shares_an_identity_with_a_recovery_services_item_of_the_same_name() -> None:
    backup_vault = f"{VAULT}/backupVaults/prod"
    recovery_vault = backup_vault.replace("Microsoft.DataProtection/backupVaults", "Microsoft.RecoveryServices/vaults")
    assert item_key(backup_vault, "disk-01") != item_key(recovery_vault, "disk-01")
    assert incident_key(backup_vault, "disk-01", "X") != incident_key(recovery_vault, "disk-01", "X")


def test_a_watched_subscription_covers_its_backup_vaults() -> None:
    assert watched(f"{VAULT}/backupVaults/prod", (), ("00000000-0000-0000-0000-000000000000",))


def test_a_backup_vault_id_without_a_job_is_refused_as_a_job() -> None:
    raw = one(DISK_BACKUP_COMPLETED)
    raw["id"] = raw["id"].rsplit("/backupJobs/", 1)[0]
    with pytest.raises(MalformedInputError, match="vault's, not a backup job's"):
        normalise_job(raw)


def test_a_postgresql_database_instance_is_named_server_slash_database_as_its_jobs_are() -> None:
    raw = one(PG_SINGLE_INSTANCE)
    vault = parse_vault_id(raw["id"].split("/backupInstances/")[0])["vault_id"]
    item = protected_item_of(raw, vault)
    assert (item.item, item.workload, item.policy_name, item.protection_state) == (
        "oss-clitest-server / postgres",
        Workload.POSTGRESQL,
        "osspolicy",
        "ProtectionConfigured",
    )
    assert item.last_recovery_point is None
    joined = copy.deepcopy(raw)
    joined["latestRecoveryPoint"] = {"properties": {"recoveryPointTime": "2026-11-30T02:00:05.1234567Z"}}
    assert protected_item_of(joined, vault).last_recovery_point == datetime(2026, 11, 30, 2, 0, 5, 123456, tzinfo=UTC)


@pytest.mark.parametrize(
    ("user_error", "retryable", "severity"),
    [(True, False, Severity.USER), (False, True, Severity.TRANSIENT), (False, False, None), (None, None, None)],
)
def test_azures_own_flags_tell_whose_move_it_is_when_the_catalog_does_not_know_the_code(
    user_error: bool | None, retryable: bool | None, severity: Severity | None
) -> None:
    error = JobError(code="SomeCodeNobodyDocumented", number=None, message="", user_error=user_error, retryable=retryable)
    assert severity_of(Diagnosis(None), [error]) is severity


DOCUMENTED = Path(__file__).parent.parent / "data" / "documented-codes-backup-vaults.txt"
BACKUP_VAULT_WORKLOADS = {
    Workload.AZURE_DISK,
    Workload.AZURE_BLOBS,
    Workload.ADLS,
    Workload.POSTGRESQL,
    Workload.POSTGRESQL_FLEX,
    Workload.MYSQL_FLEX,
    Workload.AKS,
}


def test_every_code_learn_documents_for_backup_vaults_and_every_code_real_jobs_carry_is_in_the_catalog() -> None:
    codes = [line for line in DOCUMENTED.read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")]
    assert len(codes) >= 120
    assert [c for c in codes if c.casefold() not in CATALOG.by_code] == []


def test_every_backup_vault_workload_has_entries_with_steps_and_a_learn_link() -> None:
    entries = [e for e in CATALOG.entries if set(e.workloads) & {w.value for w in BACKUP_VAULT_WORKLOADS}]
    assert {w for e in entries for w in e.workloads} >= {w.value for w in BACKUP_VAULT_WORKLOADS}
    assert all(e.steps and e.docs_url.startswith("https://learn.microsoft.com/") for e in entries)


def test_every_failed_backup_vault_job_in_the_recorded_corpus_finds_its_entry() -> None:
    unmapped = []
    for path in sorted(RECORDED.glob("jobs/azcli--test_dataprotection_*.json")):
        for raw in resources_in(document(path.relative_to(RECORDED).as_posix())):
            job = normalise_job(raw)
            if job.status == "Failed" and CATALOG.diagnose(job.errors).remediation is None:
                unmapped.append((path.name, job.error))
    assert unmapped == []


def test_an_inner_error_code_names_the_cause_under_a_generic_code() -> None:
    error = JobError(
        code="PostgreSQLFlexOperationFailedUserError", number=None, message="", inner_code="ServerNotReadyForLongTermBackup"
    )
    found = CATALOG.diagnose([error])
    assert found.remediation is not None and found.remediation.key == "ServerNotReadyForLongTermBackup"
    unknown_inner = JobError(code="PostgreSQLFlexOperationFailedUserError", number=None, message="", inner_code="Whatever")
    assert CATALOG.diagnose([unknown_inner]).remediation.key == "PostgreSQLFlexOperationFailedUserError"  # type: ignore[union-attr]


def test_the_inner_code_is_read_from_the_wire() -> None:
    raw = one(PGFLEX_BACKUP_FAILED)
    assert normalise_job(raw).errors[0].inner_code == "NoInnerErrorFrom1PException"


def test_backup_vault_ids_are_accepted_next_to_recovery_services_ones_and_each_reaches_its_own_source() -> None:
    recovery = (
        "/subscriptions/3b1f9c2e-5a7d-4e21-9c0b-7d2e4f6a8b10/resourceGroups/rg/providers/Microsoft.RecoveryServices/vaults/rsv"
    )
    backup = (
        "/subscriptions/3b1f9c2e-5a7d-4e21-9c0b-7d2e4f6a8b10/resourceGroups/rg/providers/Microsoft.DataProtection/backupVaults/bv"
    )
    settings = Settings.from_environ(
        {
            "BACKUP_VAULT_IDS": f"{recovery},{backup}",
            "BACKUP_TABLE_ENDPOINT": "https://stbackup.table.core.windows.net",
            "BACKUP_ACS_ENDPOINT": "https://acs-backup.communication.azure.com",
            "BACKUP_MAIL_SENDER": "DoNotReply@00000000-1111-2222-3333-444444444444.azurecomm.net",
            "BACKUP_MAIL_RECIPIENTS": "oncall@contoso.com",
        }
    )
    assert settings.vault_ids == (recovery, backup)
    source = bootstrap.jobs_source(settings, lambda: FakeTokenCredential("t"))
    assert source.vault_ids() == [recovery, backup]  # no call made: both are configured, none discovered


def test_an_unknown_code_that_azure_flags_as_a_user_error_says_so_in_the_email() -> None:
    job = normalise_job(one(PGFLEX_BACKUP_FAILED))
    flagged = replace(job, errors=(replace(job.errors[0], code="UserErrorNobodyDocumented", user_error=True),))
    message = render_failure(
        flagged,
        CATALOG.diagnose(flagged.errors),
        key="k",
        sender="a@b.example",
        recipients=("c@d.example",),
        portal_url="https://portal.azure.com",
    )
    assert "Needs a fix on your side (as Azure flags this error)." in message.text
    assert "Needs a fix on your side (as Azure flags this error)." in message.html
    unflagged = render_failure(
        replace(flagged, errors=(replace(flagged.errors[0], user_error=False),)),
        CATALOG.diagnose(flagged.errors),
        key="k",
        sender="a@b.example",
        recipients=("c@d.example",),
        portal_url="https://portal.azure.com",
    )
    assert "as Azure flags this error" not in unflagged.text
