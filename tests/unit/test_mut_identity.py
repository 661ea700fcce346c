"""Identities, keys, vault ids, operation labels and routing rules at their edges (mutation survivors, group C)."""

from __future__ import annotations

import hashlib

import pytest

from backup_events.domain.decide import ledger_key_of
from backup_events.domain.exposure import ProtectedItem, missed_key
from backup_events.domain.identity import (
    alert_key,
    headline_code,
    incident_key,
    item_key,
    item_of_alert,
    item_of_protected_item,
)
from backup_events.domain.ids import parse_vault_id, same_resource, vault_of
from backup_events.domain.model import BackupJob, Diagnosis, JobError, Workload
from backup_events.domain.operations import OperationKind, failed_label, kind_of, label_of, parse_kinds
from backup_events.domain.routing import Route, parse_routes, recipients_for
from backup_events.errors import MalformedInputError

# A vault whose name ends in X: a key must keep every character of the name, only a trailing slash goes.
BOX = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.RecoveryServices/vaults/rsv-BOX"
BO = BOX.removesuffix("X")


def test_every_key_keeps_the_whole_vault_name_and_drops_only_a_trailing_slash() -> None:
    stored = BOX.casefold()
    assert ledger_key_of(BOX + "/", "Job-1") == f"{stored}|job-1"
    assert incident_key(BOX + "/", "vm-1", "Code").startswith(f"{stored}|inc-")
    assert alert_key(BOX + "/", "Alert-1") == f"{stored}|alert-{hashlib.sha256(b'alert-1').hexdigest()[:32]}"
    assert alert_key(BOX, "Alert-1") == alert_key(BOX + "/", "alert-1")
    assert missed_key(ProtectedItem(BOX + "/", "vm-1", Workload.AZURE_VM, None, "p", "Protected")).startswith(stored)
    assert item_key(BOX, "vm-1") != item_key(BO, "vm-1")


def test_two_vaults_differing_in_their_last_letter_are_different_resources() -> None:
    assert same_resource(BOX + "/", BOX.upper()) and same_resource(BOX.upper(), BOX + "/")
    assert not same_resource(BOX, BO) and not same_resource(BO, BOX)


def test_an_id_below_no_vault_has_no_vault_and_is_named_in_the_error() -> None:
    assert vault_of("/subscriptions/s/resourceGroups/rg") is None
    with pytest.raises(MalformedInputError) as raised:
        parse_vault_id("/subscriptions/s/resourceGroups/rg")
    assert "not a Recovery Services vault, Backup vault or backup job id: '/subscriptions/s/resourceGroups/rg'" in str(
        raised.value
    )


def test_a_protected_item_without_a_friendly_name_is_named_by_its_arm_name() -> None:
    assert item_of_protected_item({}, "vm-app-02", Workload.AZURE_VM) == "vm-app-02"
    assert item_of_protected_item({}, "VM;iaasvmcontainerv2;rg;vm-app-02", Workload.AZURE_VM) == "vm-app-02"


def test_an_alert_alone_names_its_item_from_the_whole_last_part_of_the_protected_item_id() -> None:
    vm = {"protectedItemId": f"{BOX}/backupFabrics/Azure/protectionContainers/c/protectedItems/VM;c;rg;vm-BOX/"}
    assert item_of_alert(vm, Workload.AZURE_VM, "rsv-BOX") == "vm-BOX"
    db = {"protectedItemId": f"{BOX}/backupFabrics/Azure/protectionContainers/c/protectedItems/SQLDataBase;INST1;salesdb"}
    assert item_of_alert(db, Workload.SQL, "rsv-BOX") == "salesdb"  # no host to put the instance beside


def job_with(*errors: JobError) -> BackupJob:
    return BackupJob(
        job_id=f"{BOX}/backupJobs/j1",
        job_name="j1",
        vault_id=BOX,
        vault_name="rsv-BOX",
        subscription_id="s",
        resource_group="rg",
        item_name="vm-1",
        workload=Workload.AZURE_VM,
        job_type="AzureIaaSVMJob",
        known_job_type=True,
        operation="Backup",
        status="Failed",
        start=None,
        end=None,
        duration=None,
        errors=errors,
    )


def test_the_headline_code_of_an_unmapped_job_is_its_number_else_says_there_is_none() -> None:
    assert headline_code(job_with(JobError(code=None, number=100050, message="m")), Diagnosis(None)) == "100050"
    assert headline_code(job_with(JobError(code=None, number=None, message="m")), Diagnosis(None)) == "no error code"
    assert headline_code(job_with(), Diagnosis(None)) == "no error code"


@pytest.mark.parametrize(
    ("operation", "kind", "label", "failed"),
    [
        ("Configure  Backup", OperationKind.CONFIGURE_BACKUP, "Configure backup", "Configure backup failed"),
        ("Delete Backup Data", OperationKind.DELETE_BACKUP_DATA, "Delete backup data", "Delete backup data failed"),
        ("Restore (Full)", OperationKind.RESTORE, "Restore", "Restore failed"),
        ("Undo   Delete", OperationKind.OTHER, "Undo Delete", "Undo Delete failed"),
    ],
)
def test_an_operation_is_told_by_its_kind_or_by_its_own_words(
    operation: str, kind: OperationKind, label: str, failed: str
) -> None:
    assert (kind_of(operation), label_of(operation), failed_label(operation)) == (kind, label, failed)


@pytest.mark.parametrize("value", ["", "  ", "ALL"])
def test_an_empty_operations_setting_tells_every_kind(value: str) -> None:
    assert parse_kinds(value) == (frozenset(OperationKind), [])


def test_empty_routing_rules_are_skipped_not_the_end_of_the_list() -> None:
    routes, problems = parse_routes(";vault:a=a@x.example;;rg:b=b@x.example;")
    assert ([(r.scope, r.value) for r in routes], problems) == ([("vault", "a"), ("rg", "b")], [])


def test_a_rule_name_runs_from_the_first_colon() -> None:
    routes, problems = parse_routes("vault:a:b=a@x.example")
    assert (routes, problems) == ((Route("vault", "a:b", ("a@x.example",)),), [])


def test_lang_without_a_value_is_a_problem_like_tz_without_one() -> None:
    routes, problems = parse_routes("vault:a=a@x.example lang=")
    assert (routes, problems) == ((), ["rule 'vault:a=a@x.example lang=': lang= or tz= without a value"])


def test_a_blind_spot_of_a_subscription_goes_to_the_default_list_not_to_a_vault_rule() -> None:
    routes, _ = parse_routes("vault:v1=team@x.example")
    assert recipients_for("/subscriptions/s", routes, ("oncall@x.example",)) == ("oncall@x.example",)
