"""The daily summary's edges: what sits exactly on the window's start, the order of each section, and how a vault's
runs become its line (one vault however its id is spelt, a vault never read, worst first)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from backup_events.domain.exposure import MISSED_CODE
from backup_events.domain.incidents import SENT, Incident
from backup_events.domain.summary import summarise, vault_days
from backup_events.domain.watch import BlindSpot, Scope, VaultRun, held_incident
from tests.builders import make_incident

NOW = datetime(2026, 11, 26, 9, tzinfo=UTC)
DAY = timedelta(hours=24)
SINCE = NOW - DAY
V1 = "/subscriptions/3b1f9c2e-5a7d-4e21-9c0b-7d2e4f6a8b10/resourceGroups/rg/providers/Microsoft.RecoveryServices/vaults/v1"
V2 = V1.replace("/v1", "/v2")
V3 = V1.replace("/v1", "/v3")


def run(vault: str, at: datetime, **changes: object) -> VaultRun:
    base = VaultRun(vault, vault.rsplit("/", 1)[-1], at, 24, True, succeeded=9, failed=1)
    return replace(base, **changes)  # type: ignore[arg-type]


def no_good(_: object) -> None:
    return None


def test_what_happened_exactly_at_the_windows_start_is_in_the_summary() -> None:
    recovered = make_incident(V1, "vm-1", SINCE - timedelta(hours=2), operation="Backup", state="closed", closed_at=SINCE)
    restore = make_incident(V1, "vm-2", SINCE, operation="Restore", state="closed", closed_at=SINCE, code="RestoreCode")
    summary = summarise([recovered, restore], [run(V1, SINCE)], now=NOW, window=DAY, last_good=no_good)
    assert summary.since == SINCE and summary.until == NOW
    assert [i.item for i in summary.recovered] == ["vm-1"]
    assert [i.item for i in summary.restores] == ["vm-2"]
    assert [c.code for c in summary.codes] == ["RestoreCode"]  # vm-1 was last seen before the window
    assert [d.vault_name for d in summary.vaults] == ["v1"] and summary.polled


def test_a_restore_that_failed_before_the_window_is_not_in_it() -> None:
    old = make_incident(V1, "vm-2", SINCE - timedelta(minutes=1), operation="Restore", state="closed", closed_at=SINCE)
    assert summarise([old], [], now=NOW, window=DAY, last_good=no_good).restores == ()


def test_recoveries_restores_and_blind_spots_are_each_listed_in_time_order() -> None:
    def closed(item: str, hours_ago: int) -> Incident:
        at = NOW - timedelta(hours=hours_ago)
        return make_incident(V1, item, at - timedelta(hours=1), operation="Backup", state="closed", closed_at=at)

    def restore(item: str, hours_ago: int) -> Incident:
        return make_incident(V1, item, NOW - timedelta(hours=hours_ago), operation="Restore", state="closed", closed_at=NOW)

    def blind(vault: str, hours_ago: int) -> Incident:
        spot = BlindSpot(Scope.VAULT, vault, vault.rsplit("/", 1)[-1], "HTTP 403", NOW - timedelta(hours=hours_ago))
        return replace(held_incident(spot, "{}"), opened_email=SENT)

    incidents = [closed("late", 1), closed("early", 5), restore("r-late", 2), restore("r-early", 6)]
    incidents += [blind(V2, 3), blind(V3, 8)]
    summary = summarise(incidents, [], now=NOW, window=DAY, last_good=no_good)
    assert [i.item for i in summary.recovered] == ["early", "late"]
    assert [i.item for i in summary.restores] == ["r-early", "r-late"]
    assert [i.item for i in summary.blind] == ["v3", "v2"]


def test_a_failing_item_shows_its_age_its_last_good_point_and_no_data_at_risk_when_it_was_good_just_now() -> None:
    opened = NOW - timedelta(hours=30)
    failing = make_incident(V1, "vm-1", opened, operation="Backup")
    (shown,) = summarise([failing], [], now=NOW, window=DAY, last_good=lambda i: NOW).failing
    assert (shown.age, shown.last_good, shown.at_risk) == (timedelta(hours=30), NOW, timedelta(0))


def test_a_missed_backup_is_listed_as_missed_not_as_failing() -> None:
    missed = make_incident(V1, "vm-1", NOW - timedelta(hours=3), operation="Backup", code=MISSED_CODE)
    failing = make_incident(V1, "vm-2", NOW - timedelta(hours=2), operation="Backup")
    summary = summarise([missed, failing], [], now=NOW, window=DAY, last_good=no_good)
    assert [f.incident.item for f in summary.missed] == ["vm-1"]
    assert [f.incident.item for f in summary.failing] == ["vm-2"]
    assert summary.missed[0].age == timedelta(hours=3)
    assert [c.code for c in summary.codes] == ["Code"]  # a missed backup is no error code


def test_top_codes_hitting_as_many_items_are_ranked_by_failures_then_by_name() -> None:
    def hit(code: str, item: str, count: int) -> Incident:
        return make_incident(V1, item, NOW - timedelta(hours=1), operation="Backup", code=code, count=count)

    incidents = [hit("Zed", "vm-1", 1), hit("Yak", "vm-2", 1), hit("Many", "vm-3", 7), hit("Ace", "vm-4", 1)]
    summary = summarise(incidents, [], now=NOW, window=DAY, last_good=no_good)
    assert [(c.code, c.failures) for c in summary.codes] == [("Many", 7), ("Ace", 1), ("Yak", 1), ("Zed", 1)]


def test_polled_as_the_caller_says_even_when_these_runs_say_otherwise() -> None:
    assert not summarise([], [run(V1, NOW)], now=NOW, window=DAY, last_good=no_good, polled=False).polled


def test_a_vault_is_one_line_whatever_the_case_or_trailing_slash_of_its_id() -> None:
    runs = [run(V1, NOW - timedelta(hours=2)), run(V1.upper() + "/", NOW - timedelta(hours=1), succeeded=3)]
    (day,) = vault_days(runs)
    assert (day.runs, day.succeeded, day.vault_id) == (2, 3, V1.upper() + "/")
    assert day.last_error == ""


def test_a_vault_never_read_shows_no_jobs_and_its_latest_runs_window_and_error() -> None:
    runs = [run(V1, NOW - timedelta(hours=h), readable=False, error=f"HTTP 403 ({h})", window_hours=h) for h in (3, 2, 1)]
    (day,) = vault_days(runs)
    assert (day.vault_id, day.succeeded, day.failed, day.jobs, day.success_rate) == (V1, 0, 0, 0, None)
    assert (day.window_hours, day.runs, day.unreadable_runs, day.last_error) == (1, 3, 3, "HTTP 403 (1)")


def test_unreadable_vaults_come_first_then_the_lowest_rate_and_a_vault_without_jobs_last() -> None:
    at = NOW - timedelta(hours=1)
    runs = [
        run(V1, at, succeeded=0, failed=0),  # no job finished
        run(V2, at, succeeded=10, failed=0),  # 100 %
        run(V3, at - timedelta(minutes=5), succeeded=10, failed=0),
        run(V3, at, readable=False, error="HTTP 429"),  # 100 % but once unreadable
    ]
    assert [d.vault_name for d in vault_days(runs)] == ["v3", "v2", "v1"]
