"""Protected items, their schedules, and when a backup counts as missed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from backup_events.adapters.sample_jobs import bundled
from backup_events.domain.exposure import ProtectedItem, backup_interval, missed_backup, missed_key
from backup_events.domain.incidents import Incident, recovered_by
from backup_events.domain.model import Workload
from backup_events.wire.items import protected_item_of
from tests.builders import make_incident

NOW = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)
WORLD = bundled()


def items_of(vault_fragment: str) -> list[dict[str, object]]:
    vault_id = next(v for v in WORLD["protectedItems"] if vault_fragment in v)
    return [protected_item_of(raw, vault_id) for raw in WORLD["protectedItems"][vault_id]]  # type: ignore[misc]


def test_protected_items_are_named_as_jobs_name_them() -> None:
    names = {i.item: i.workload for i in items_of("rsv-prod-weu") + items_of("rsv-data-jpe") + items_of("rsv-files-weu")}  # type: ignore[attr-defined]
    assert names["vm-app-02"] is Workload.AZURE_VM
    assert names["vm-sql-01 / salesdb"] is Workload.SQL
    assert names["share-finance"] is Workload.AZURE_FILES


@pytest.mark.parametrize(
    ("schedule", "interval"),
    [
        ({"schedulePolicy": {"scheduleRunFrequency": "Daily"}}, timedelta(days=1)),
        ({"schedulePolicy": {"scheduleRunFrequency": "Weekly"}}, timedelta(days=7)),
        ({"schedulePolicy": {"scheduleRunFrequency": "Hourly", "hourlySchedule": {"interval": 4}}}, timedelta(hours=4)),
        (
            {
                "subProtectionPolicy": [
                    {"policyType": "Log", "schedulePolicy": {"scheduleFrequencyInMins": 15}},
                    {"policyType": "Full", "schedulePolicy": {"scheduleRunFrequency": "Daily"}},
                ]
            },
            timedelta(days=1),
        ),
        ({"schedulePolicy": {"scheduleRunFrequency": "Monthly"}}, None),
        ({}, None),
    ],
)
def test_backup_interval_from_the_policy_schedule(schedule: dict[str, object], interval: timedelta | None) -> None:
    assert backup_interval({"properties": schedule}) == interval


def test_an_item_behind_its_daily_schedule_plus_grace_is_missed_and_a_stopped_one_is_not() -> None:
    items = {i.item: i for i in items_of("rsv-prod-weu")}  # type: ignore[attr-defined]
    day, grace = timedelta(days=1), timedelta(hours=6)
    assert missed_backup(items["vm-legacy-09"], day, NOW, grace)
    assert not missed_backup(items["vm-web-01"], day, NOW, grace)
    assert not missed_backup(items["vm-old-01"], day, NOW, grace)  # protection stopped on purpose
    assert not missed_backup(items["vm-web-01"], None, NOW, grace)  # unknown schedule: say nothing


def incident_for(operation: str) -> Incident:
    return make_incident(
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.RecoveryServices/vaults/v", "i", NOW, operation=operation
    )


def test_only_the_same_kind_of_database_backup_recovers_a_database_incident() -> None:
    full = incident_for("Backup (Full)")
    assert recovered_by(full, "Backup (Full)")
    assert not recovered_by(full, "Backup (Log)")
    assert not recovered_by(full, None)  # a newer recovery point may be a log point
    vm = incident_for("Backup")
    assert recovered_by(vm, "Backup") and recovered_by(vm, None)
    assert not recovered_by(vm, "Restore")


def test_a_missed_backup_is_keyed_by_its_item_and_last_recovery_point_stably_across_releases() -> None:
    vault = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.RecoveryServices/vaults/v1"
    never = ProtectedItem(vault, "vm-1", Workload.AZURE_VM, None, "p", "Protected")
    once = ProtectedItem(vault + "/", "VM-1", Workload.AZURE_VM, datetime(2026, 11, 24, 22, tzinfo=UTC), "p", "Protected")
    assert missed_key(never) == f"{vault.casefold()}|missed-b55c684348014b1140383d75616dac50"
    assert missed_key(once) == f"{vault.casefold()}|missed-92f58f2b8ac03433110a788e8c903bf9"
