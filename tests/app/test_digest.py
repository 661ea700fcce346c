"""Digest threshold: up to ``digest_threshold`` new incidents in a run are told one by one; more become one digest."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from backup_events.adapters.sample_jobs import SampleJobSource
from backup_events.app.poll import on_timer, poll_jobs
from backup_events.domain.exposure import MISSED_CODE
from backup_events.domain.incidents import Policy
from tests.app.conftest import BuildServices
from tests.app.parts import VM_CODE, emails_in, failed_vm_job, text_of
from tests.conftest import Clock

THRESHOLD = 3
POLICY = Policy(digest_threshold=THRESHOLD, emails_per_run=20)


def failing_vms(clock: Clock, count: int) -> SampleJobSource:
    """``count`` VMs of one vault, each failing once, with the same error, just before this run."""
    return SampleJobSource([failed_vm_job(n, f"vm-storm-{n:02d}", clock()) for n in range(count)])


def test_exactly_the_digest_threshold_of_new_incidents_get_one_email_each(
    build: BuildServices, outbox: Path, clock: Clock
) -> None:
    report = poll_jobs(build(source=failing_vms(clock, THRESHOLD), policy=POLICY))
    assert (report.opened, report.digests, report.emails_sent) == (THRESHOLD, 0, THRESHOLD)
    assert sorted(str(m["Subject"]) for m in emails_in(outbox)) == [
        f"[Backup failed] vm-storm-{n:02d}: {VM_CODE}" for n in range(THRESHOLD)
    ]


def test_one_more_than_the_digest_threshold_of_new_incidents_is_one_digest(
    build: BuildServices, outbox: Path, clock: Clock
) -> None:
    report = poll_jobs(build(source=failing_vms(clock, THRESHOLD + 1), policy=POLICY))
    assert (report.opened, report.digests, report.emails_sent) == (THRESHOLD + 1, 1, 1)
    (digest,) = emails_in(outbox)
    assert digest["Subject"] == f"[Backup failed] {THRESHOLD + 1} new failures in 1 vault (digest)"
    for n in range(THRESHOLD + 1):
        assert f"vm-storm-{n:02d}" in text_of(digest)


def test_a_digest_tells_the_cause_and_the_steps_once_for_items_failing_alike_then_lists_the_items(
    build: BuildServices, outbox: Path, clock: Clock
) -> None:
    poll_jobs(build(source=failing_vms(clock, 15), policy=POLICY))
    (digest,) = emails_in(outbox)
    text = text_of(digest)
    assert text.count("WHY: The Azure VM agent inside the guest is stopped") == 1
    assert text.count("1. Check the VM in the portal") == 1
    assert f"{VM_CODE}: VM agent cannot talk to Azure Backup\n15 items in vault rsv-prod-weu" in text
    items = text.split("ITEMS\n", 1)[1]
    assert [line.split(" (")[0] for line in items.splitlines() if line.startswith("- ")] == [
        f"- vm-storm-{n:02d}" for n in range(15)
    ]
    assert digest["Subject"] == "[Backup failed] 15 new failures in 1 vault (digest)"


def test_items_failing_alike_in_two_vaults_are_two_groups(build: BuildServices, outbox: Path, clock: Clock) -> None:
    jobs = [failed_vm_job(n, f"vm-a-{n}", clock()) for n in range(3)]
    jobs += [failed_vm_job(10 + n, f"vm-b-{n}", clock(), vault="rsv-data-jpe") for n in range(2)]
    poll_jobs(build(source=SampleJobSource(jobs), policy=POLICY))
    (digest,) = emails_in(outbox)
    text = text_of(digest)
    assert "5 new backup failures in 2 groups, 2 vaults" in text
    assert text.index("3 items in vault rsv-prod-weu") < text.index("2 items in vault rsv-data-jpe")  # largest first
    assert text.count("WHY: ") == 2


def test_missed_backups_in_a_digest_have_their_own_section_with_their_gap(
    build: BuildServices, outbox: Path, clock: Clock
) -> None:
    on_timer(build(missed_grace=timedelta(hours=6), policy=POLICY), past_due=False)
    (digest,) = [m for m in emails_in(outbox) if "(digest)" in str(m["Subject"])]
    text = text_of(digest)
    failures, missed = text.split("MISSED BACKUPS: no failure, no recovery point (backup-events: missed backup)\n")
    assert "vm-legacy-09" not in failures and MISSED_CODE not in text
    assert "- vm-legacy-09 (Azure VM, vault rsv-prod-weu): no recovery point since 2026-11-21 16:05 UTC (3 d 16 h)" in missed
    assert str(digest["Subject"]).endswith(", 1 missed backup (digest)")
