"""Backup vault policy intervals, hourly schedules and the edges of a missed backup (mutation survivors, group C)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from backup_events.domain.exposure import ProtectedItem, backup_interval, missed_backup, missed_key
from backup_events.domain.model import Workload

NOW = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)
RECORDED_DISK_POLICY = Path(__file__).parents[1] / "data/azcli--test_dataprotection_backup_policy_manual--b363efa-i003.json"


def rule(*repeats: str) -> dict[str, Any]:
    return {"name": "Backup", "objectType": "AzureBackupRule", "trigger": {"schedule": {"repeatingTimeIntervals": list(repeats)}}}


def vault_policy(*rules: object) -> dict[str, Any]:
    return {"properties": {"policyRules": list(rules), "objectType": "BackupPolicy"}}


def test_a_recorded_backup_vault_disk_policy_backs_up_every_six_hours() -> None:
    assert backup_interval(json.loads(RECORDED_DISK_POLICY.read_text(encoding="utf-8"))) == timedelta(hours=6)


@pytest.mark.parametrize(
    ("repeat", "interval"),
    [
        ("R/2023-06-28T07:30:00+00:00/P1W", timedelta(weeks=1)),
        ("R/2023-06-28T07:30:00+00:00/P2D", timedelta(days=2)),
        ("R/2023-06-28T07:30:00+00:00/PT4H", timedelta(hours=4)),
        (" r/2023-06-28T07:30:00+00:00/p1d ", timedelta(days=1)),
    ],
)
def test_a_backup_vault_policy_says_its_interval_in_weeks_days_or_hours(repeat: str, interval: timedelta) -> None:
    assert backup_interval(vault_policy(rule(repeat))) == interval


def test_the_shortest_backup_rule_counts_and_malformed_rules_are_passed_over() -> None:  # synth: shapes nothing real shows
    policy = vault_policy(
        "not-a-rule",
        {"name": "Default", "objectType": "AzureRetentionRule", "lifecycles": []},
        {"name": "Odd", "trigger": "not-a-trigger"},
        {"name": "Odd", "trigger": {"schedule": "not-a-schedule"}},
        {"name": "Odd", "trigger": {"schedule": {"repeatingTimeIntervals": None}}},
        rule("R/2023-06-28T07:30:00+00:00/P1W", "R/2023-06-28T07:30:00+00:00/P1D"),
        rule("R/2023-06-28T07:30:00+00:00/PT12H", "R/2023-06-28T07:30:00+00:00/PT0H", "R/x/P1M", 7),
    )
    assert backup_interval(policy) == timedelta(hours=12)


@pytest.mark.parametrize(
    "rules",
    [
        [],
        [{"name": "Default", "objectType": "AzureRetentionRule"}],
        [rule("R/2023-06-28T07:30:00+00:00/P1M", "R/2023-06-28T07:30:00+00:00/PT0H")],
    ],
)
def test_a_backup_vault_policy_without_a_usable_backup_rule_has_no_known_interval(rules: list[object]) -> None:
    assert backup_interval(vault_policy(*rules)) is None


@pytest.mark.parametrize(("hourly", "interval"), [({"interval": 1}, timedelta(hours=1)), ({"interval": 0}, None), ({}, None)])
def test_an_hourly_schedule_needs_a_positive_number_of_hours(hourly: dict[str, int], interval: timedelta | None) -> None:
    schedule = {"scheduleRunFrequency": "Hourly", "hourlySchedule": hourly}
    assert backup_interval({"properties": {"schedulePolicy": schedule}}) == interval


def item_backed_up(
    ago: timedelta, vault: str = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.RecoveryServices/vaults/v"
) -> ProtectedItem:
    return ProtectedItem(vault, "vm-1", Workload.AZURE_VM, NOW - ago, "p", "Protected")


def test_a_backup_is_missed_only_once_the_schedule_and_the_whole_grace_have_passed() -> None:
    day, grace = timedelta(days=1), timedelta(hours=6)
    assert not missed_backup(item_backed_up(timedelta(hours=27)), day, NOW, grace)  # within the grace
    assert not missed_backup(item_backed_up(timedelta(hours=30)), day, NOW, grace)  # exactly at the edge
    assert missed_backup(item_backed_up(timedelta(hours=30, seconds=1)), day, NOW, grace)


def test_a_missed_backup_key_keeps_the_whole_vault_name() -> None:
    vault = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.RecoveryServices/vaults/RSV-BOX"
    assert missed_key(item_backed_up(timedelta(days=2), vault + "/")).startswith(f"{vault.casefold()}|missed-")
