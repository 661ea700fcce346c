"""Operations: what a job was doing decides how its failure is told (subject, incident kind)."""

from __future__ import annotations

import pytest

from backup_events.domain.operations import OperationKind, failed_label, is_ongoing, kind_of, parse_kinds


@pytest.mark.parametrize(
    ("operation", "kind", "label"),
    [
        # Every operation the recorded corpus holds, as the live service spells it.
        ("Backup", OperationKind.BACKUP, "Backup failed"),
        ("Backup (Full)", OperationKind.BACKUP, "Backup failed"),
        ("Backup (Log)", OperationKind.BACKUP, "Backup failed"),
        ("Restore", OperationKind.RESTORE, "Restore failed"),
        ("Restore (Full)", OperationKind.RESTORE, "Restore failed"),
        ("Restore (Invalid)", OperationKind.RESTORE, "Restore failed"),
        ("RestoreWithRehydrate", OperationKind.RESTORE, "Restore failed"),
        ("CrossRegionRestore", OperationKind.RESTORE, "Restore failed"),
        ("ConfigureBackup", OperationKind.CONFIGURE_BACKUP, "Configure backup failed"),
        ("DeleteBackupData", OperationKind.DELETE_BACKUP_DATA, "Delete backup data failed"),
        ("DisableBackup", OperationKind.OTHER, "DisableBackup failed"),
        ("MoveRecoveryPoint", OperationKind.OTHER, "MoveRecoveryPoint failed"),
        ("UpdateCustomerManagedKey", OperationKind.OTHER, "UpdateCustomerManagedKey failed"),
        ("", OperationKind.BACKUP, "Backup failed"),
    ],
)
def test_each_operation_is_told_by_what_it_was_doing(operation: str, kind: OperationKind, label: str) -> None:
    assert kind_of(operation) is kind
    assert failed_label(operation) == label


def test_only_backups_and_configuring_them_are_ongoing() -> None:
    assert [
        op for op in ("Backup (Log)", "ConfigureBackup", "Restore", "DeleteBackupData", "MoveRecoveryPoint") if is_ongoing(op)
    ] == [
        "Backup (Log)",
        "ConfigureBackup",
    ]


def test_tell_operations_setting_reads_all_or_a_list() -> None:
    assert parse_kinds("all") == (frozenset(OperationKind), [])
    assert parse_kinds(" Backup , restore") == (frozenset({OperationKind.BACKUP, OperationKind.RESTORE}), [])
    assert parse_kinds("backup,restores") == (frozenset({OperationKind.BACKUP}), ["restores"])
