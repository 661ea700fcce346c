"""A missed backup is kept as its own incident; a poll reads only the jobs of its look-back window."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from backup_events.adapters.sample_jobs import SampleJobSource
from backup_events.app.poll import on_timer
from backup_events.domain.exposure import MISSED_CODE
from backup_events.wire.jobs import parse_time
from tests.app.conftest import BuildServices
from tests.app.parts import VAULTS, emails_in, failed_vm_job
from tests.conftest import Clock


def test_a_missed_backup_is_an_open_incident_of_its_item_saying_what_the_policy_promised(
    build: BuildServices, store: Any, clock: Clock
) -> None:
    report = on_timer(build(missed_grace=timedelta(hours=6)), past_due=False)
    assert report.missed >= 1
    (missed, *_) = [i for vault in VAULTS.values() for i in store.open_incidents(vault) if i.code == MISSED_CODE]
    assert (missed.title, missed.docs_url) == (
        "No recovery point within the policy's schedule",
        "https://learn.microsoft.com/azure/backup/backup-azure-monitoring-built-in-monitor",
    )
    assert (missed.last_job, missed.operation, missed.opened_at, missed.last_seen) == (
        "(missed backup)",
        "Backup",
        clock(),
        clock(),
    )
    assert missed.vault_name in VAULTS and missed.workload
    again = on_timer(build(missed_grace=timedelta(hours=6)), past_due=False)
    assert again.missed == 0


class WindowedJobs(SampleJobSource):
    """The sample world answering as the jobs API does: only jobs that started inside ``[since, until]``."""

    def jobs(
        self, vault_id: str, *, since: datetime, until: datetime, statuses: Sequence[str] = ("Failed",)
    ) -> Iterable[Mapping[str, Any]]:
        for job in super().jobs(vault_id, since=since, until=until, statuses=statuses):
            start = parse_time(job["properties"]["startTime"], "startTime")
            if start is not None and since <= start <= until:
                yield job


def test_a_poll_tells_the_failures_of_its_look_back_window_and_not_older_ones(
    build: BuildServices, outbox: Path, clock: Clock
) -> None:
    recent = failed_vm_job(1, "vm-recent", clock() - timedelta(hours=2))
    old = failed_vm_job(2, "vm-old", clock() - timedelta(hours=30))
    report = on_timer(build(source=WindowedJobs(jobs=[recent, old])), past_due=False)
    assert (report.jobs_seen, report.opened) == (1, 1)
    assert [m["Subject"] for m in emails_in(outbox)] == ["[Backup failed] vm-recent: UserErrorGuestAgentStatusUnavailable"]


def test_a_good_backup_inside_the_window_closes_the_incident_of_its_item(build: BuildServices, clock: Clock) -> None:
    failed = failed_vm_job(1, "vm-flaky", clock() - timedelta(hours=3))
    on_timer(build(source=WindowedJobs(jobs=[failed])), past_due=False)
    clock.advance(hours=2)
    good = failed_vm_job(2, "vm-flaky", clock() - timedelta(minutes=10), status="Completed")
    report = on_timer(build(source=WindowedJobs(jobs=[failed, good])), past_due=False)
    assert report.recovered == 1
