"""Reminders: ``BACKUP_REMINDER_HOURS`` must increase; an open incident is reminded at exactly those hours."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from backup_events.adapters.sample_jobs import SampleJobSource
from backup_events.app.poll import poll_jobs
from backup_events.domain.incidents import Policy
from backup_events.errors import ConfigurationError
from tests.app.conftest import BuildServices
from tests.app.parts import VM_CODE, emails_in, failed_vm_job, settings, text_of
from tests.conftest import Clock


@pytest.mark.parametrize("hours", ["72,24", "24,24", "0,24", "24,x"])
def test_reminder_hours_that_do_not_strictly_increase_are_refused_naming_the_setting(hours: str) -> None:
    with pytest.raises(ConfigurationError) as refused:
        settings(BACKUP_REMINDER_HOURS=hours)
    assert [p for p in refused.value.problems if p.startswith("BACKUP_REMINDER_HOURS:")]


def test_increasing_reminder_hours_are_taken_as_given() -> None:
    assert settings(BACKUP_REMINDER_HOURS="24,72").reminder_hours == (24, 72)


def test_an_open_incident_is_reminded_at_exactly_24_and_72_hours_and_not_before(
    build: BuildServices, outbox: Path, clock: Clock
) -> None:
    policy = Policy(reminder_hours=settings(BACKUP_REMINDER_HOURS="24,72").reminder_hours)
    opened = clock()
    source = SampleJobSource([failed_vm_job(1, "vm-stuck", opened)])  # fails, and is still failing

    def reminders_at(hours: float) -> int:
        clock.now = opened + timedelta(hours=hours)
        return poll_jobs(build(source=source, policy=policy)).reminders_sent

    assert reminders_at(0) == 0  # the opening email goes out now
    one_minute = 1 / 60
    runs = [24 - one_minute, 24, 24.25, 72 - one_minute, 72, 72.25, 96, 200]
    assert [reminders_at(h) for h in runs] == [0, 1, 0, 0, 1, 0, 0, 0]
    reminders = sorted(str(m["Subject"]) for m in emails_in(outbox) if "still failing" in str(m["Subject"]))
    assert reminders == [
        # no protected item was read: the exposure is unknown, and says so (never "at least" the time since the failure)
        f"[Backup still failing] vm-stuck: {VM_CODE} (last good backup unknown, 1 failure)",
        f"[Backup still failing] vm-stuck: {VM_CODE} (last good backup unknown, 1 failure)",
    ]


def test_a_reminder_counts_from_the_last_good_recovery_point_the_incident_kept() -> None:
    from datetime import UTC, datetime, timedelta

    from backup_events.app import facts
    from backup_events.app.notify import last_good_of
    from backup_events.domain.exposure import ProtectedItem
    from backup_events.domain.model import Workload
    from backup_events.wire.alerts import parse_alert
    from backup_events.wire.jobs import normalise_job
    from tests.builders import make_incident
    from tests.conftest import load

    point = datetime(2026, 11, 22, 15, 30, tzinfo=UTC)
    job = normalise_job(load("synth-iaasvm-failed-UserErrorGuestAgentStatusUnavailable-details.json"))
    item = ProtectedItem(job.vault_id, "vm-legacy-09", Workload.AZURE_VM, point, "DefaultPolicy", "Protected")
    base = make_incident(job.vault_id, job.item_name, point + timedelta(days=1))
    told = {
        "failure": facts.dumps(facts.FailureFacts(job, point)),
        "failure, no item read": facts.dumps(facts.FailureFacts(job, None)),
        "missed": facts.dumps(facts.MissedFacts(item, timedelta(days=1))),
        "alert": facts.dumps(facts.AlertFacts(parse_alert(load("alert-security-soft-delete-disabled.json")))),
        "previous release": "",
    }
    found = {name: last_good_of(replace(base, facts=text)) for name, text in told.items()}
    assert found == {"failure": point, "failure, no item read": None, "missed": point, "alert": None, "previous release": None}


def test_reminders_due_at_once_past_the_digest_threshold_fold_into_one_digest_and_the_next_round_is_another(
    build: BuildServices, outbox: Path, clock: Clock
) -> None:
    policy = Policy(reminder_hours=(24, 72), digest_threshold=3, emails_per_run=20)
    opened = clock()
    source = SampleJobSource([failed_vm_job(n, f"vm-stuck-{n}", opened) for n in range(5)])

    def run_at(hours: float) -> tuple[int, int, int]:
        clock.now = opened + timedelta(hours=hours)
        report = poll_jobs(build(source=source, policy=policy))
        return report.digests, report.reminders_sent, report.emails_sent

    assert run_at(0) == (1, 0, 1)  # the first emails: one digest
    assert run_at(24) == (1, 5, 1)  # five reminders due: one digest of reminders
    assert run_at(24.25) == (0, 0, 0)
    assert run_at(72) == (1, 5, 1)  # the next round: another digest, not taken for the first one
    reminders = [m for m in emails_in(outbox) if "(reminder digest)" in str(m["Subject"])]
    assert [str(m["Subject"]) for m in reminders] == ["[Backups still failing] 5 still failing (reminder digest)"] * 2
    text = text_of(reminders[0])
    assert all(f"- vm-stuck-{n} (Azure VM, vault rsv-prod-weu)" in text for n in range(5))
    assert text.count(f"  {VM_CODE} · Azure error ID 320001") == 5


def test_reminders_within_the_digest_threshold_go_one_by_one(build: BuildServices, outbox: Path, clock: Clock) -> None:
    policy = Policy(reminder_hours=(24,), digest_threshold=3, emails_per_run=20)
    opened = clock()
    source = SampleJobSource([failed_vm_job(n, f"vm-stuck-{n}", opened) for n in range(3)])
    poll_jobs(build(source=source, policy=policy))
    clock.now = opened + timedelta(hours=24)
    report = poll_jobs(build(source=source, policy=policy))
    assert (report.digests, report.reminders_sent, report.emails_sent) == (0, 3, 3)
