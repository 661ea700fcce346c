"""The daily summary, the pure part: what goes in which section, and the per-vault counts from the run rows."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from backup_events.domain.incidents import NONE, SENT
from backup_events.domain.summary import summarise, vault_days
from backup_events.domain.watch import BlindSpot, Scope, VaultRun, held_incident
from backup_events.mail.render import _percent
from tests.builders import make_incident

NOW = datetime(2026, 11, 26, 9, tzinfo=UTC)
DAY = timedelta(hours=24)
V1 = "/subscriptions/3b1f9c2e-5a7d-4e21-9c0b-7d2e4f6a8b10/resourceGroups/rg/providers/Microsoft.RecoveryServices/vaults/v1"
V2 = V1.replace("/v1", "/v2")


def run(vault: str, hours_ago: float, **changes: object) -> VaultRun:
    base = VaultRun(vault, vault.rsplit("/", 1)[-1], NOW - timedelta(hours=hours_ago), 24, True, succeeded=9, failed=1)
    return replace(base, **changes)  # type: ignore[arg-type]


def test_a_vaults_counts_are_its_latest_readable_runs_and_its_unreadable_runs_are_counted() -> None:
    runs = [run(V1, 3, succeeded=5), run(V1, 2, succeeded=7, failed=0), run(V1, 1, readable=False, error="HTTP 403")]
    (day,) = vault_days(runs)
    assert (day.succeeded, day.failed, day.runs, day.unreadable_runs, day.last_error) == (7, 0, 3, 1, "HTTP 403")
    assert day.success_rate == 100.0


def test_vaults_are_listed_worst_first() -> None:
    days = vault_days([run(V1, 1, succeeded=10, failed=0), run(V2, 1, succeeded=1, failed=3)])
    assert [d.vault_name for d in days] == ["v2", "v1"]


def test_ninety_nine_point_six_percent_is_not_shown_as_a_perfect_day() -> None:
    assert (_percent(99.6), _percent(100.0), _percent(None)) == ("99 %", "100 %", "—")


def test_each_incident_lands_in_its_section() -> None:
    old_good = NOW - timedelta(days=3)
    failing = make_incident(V1, "vm-1", NOW - timedelta(days=2), operation="Backup", count=4, last_seen=NOW - timedelta(hours=1))
    newer = make_incident(V1, "vm-2", NOW - timedelta(hours=5), operation="Backup", code="Other")
    recovered = make_incident(V1, "vm-3", NOW - timedelta(hours=20), operation="Backup", state="closed", closed_at=NOW)
    long_ago = replace(recovered, key="k-old", last_seen=NOW - timedelta(days=3), closed_at=NOW - timedelta(days=2))
    restore = make_incident(V1, "vm-4", NOW - timedelta(hours=1), operation="Restore", state="closed", closed_at=NOW)
    held = held_incident(BlindSpot(Scope.VAULT, V2, "v2", "HTTP 403", NOW - timedelta(hours=1)), "{}")
    told = replace(held, key="k-told", opened_email=SENT)
    summary = summarise(
        [newer, failing, recovered, long_ago, restore, held, told],
        [run(V1, 1)],
        now=NOW,
        window=DAY,
        last_good=lambda i: old_good if i.item == "vm-1" else None,
    )
    assert [f.incident.item for f in summary.failing] == ["vm-1", "vm-2"]  # oldest first
    assert summary.failing[0].at_risk == timedelta(days=3) and summary.failing[1].at_risk is None
    assert [i.item for i in summary.recovered] == ["vm-3"]
    assert [i.item for i in summary.restores] == ["vm-4"]
    assert [i.key for i in summary.blind] == ["k-told"] and held.opened_email == NONE  # a held one is not told yet
    assert [(c.code, c.items, c.failures) for c in summary.codes][:1] == [("Code", 3, 6)]  # vm-1, vm-3, vm-4
    assert not summary.all_fine


def test_only_recoveries_and_readable_vaults_make_an_all_fine_day() -> None:
    recovered = make_incident(V1, "vm-3", NOW - timedelta(hours=20), operation="Backup", state="closed", closed_at=NOW)
    ok = summarise([recovered], [run(V1, 1)], now=NOW, window=DAY, last_good=lambda i: None)
    assert ok.all_fine
    unread = summarise([], [run(V1, 2), run(V1, 1, readable=False)], now=NOW, window=DAY, last_good=lambda i: None)
    assert not unread.all_fine
    assert not summarise([], [], now=NOW, window=DAY, last_good=lambda i: None).all_fine  # nothing read is not fine
