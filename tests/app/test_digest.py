"""Digest threshold: up to ``digest_threshold`` new incidents in a run are told one by one; more become one digest."""

from __future__ import annotations

from pathlib import Path

from backup_events.adapters.sample_jobs import SampleJobSource
from backup_events.app.poll import poll_jobs
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
