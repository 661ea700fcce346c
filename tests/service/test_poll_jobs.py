"""A poll end to end on real parts: sample jobs, the ledger in Azurite, the outbox on disk."""

from __future__ import annotations

import email
import email.policy
import threading
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from backup_events.adapters.outbox_mailer import OutboxMailer
from backup_events.adapters.sample_jobs import SampleJobSource, bundled_jobs
from backup_events.adapters.table_store import TableIncidentStore
from backup_events.app.poll import on_timer, poll_jobs
from backup_events.app.services import Services
from backup_events.domain import remediation
from backup_events.domain.incidents import Policy
from backup_events.domain.model import EmailMessage
from backup_events.errors import DeliveryError, RunFailedError, SourceError
from backup_events.ports import JobSource, Mailer
from tests.builders import WATCHED_SUBSCRIPTIONS
from tests.conftest import Clock

FAILED = sum(1 for job in bundled_jobs() if job["properties"]["status"] == "Failed")


class FlakyMailer:
    """Fails the first ``failures`` sends as the mail service would, then delivers to the outbox."""

    def __init__(self, inner: Mailer, failures: int, *, retry_after: float | None = None) -> None:
        self.inner, self.failures, self.retry_after = inner, failures, retry_after
        self.attempts = 0

    def delivered(self, message: EmailMessage) -> bool | None:
        return self.inner.delivered(message)

    def send(self, message: EmailMessage) -> str:
        self.attempts += 1
        if self.attempts <= self.failures:
            raise DeliveryError("mail service unavailable (503)", retry_after=self.retry_after)
        return self.inner.send(message)


class BrokenVaultSource(SampleJobSource):
    """The samples, but one vault answers every listing with an error, as a vault past its retry cap does."""

    def __init__(self, broken_vault_name: str) -> None:
        super().__init__()
        self.broken = broken_vault_name

    def jobs(
        self, vault_id: str, *, since: datetime, until: datetime, statuses: Sequence[str] = ("Failed",)
    ) -> Iterable[Mapping[str, Any]]:
        if vault_id.casefold().endswith(f"/{self.broken}"):
            raise SourceError(f"{vault_id}: HTTP 500 InternalServerError after 4 attempts")
        return super().jobs(vault_id, since=since, until=until, statuses=statuses)


ROOMY = Policy(digest_threshold=100, emails_per_run=100)


def services(
    table: Any,
    outbox: Path,
    clock: Clock,
    *,
    source: JobSource | None = None,
    mailer: Mailer | None = None,
    policy: Policy = ROOMY,
    missed_grace: timedelta | None = None,
) -> Services:
    """Real parts around one Azurite table; missed-backup checks off unless a test is about them."""
    store = TableIncidentStore(table, clock=clock)
    return Services.of(
        missed_grace=missed_grace,
        source=source or SampleJobSource(),
        incidents=store,
        policy=policy,
        mailer=mailer or OutboxMailer(outbox, clock=clock),
        catalog=remediation.load(),
        clock=clock,
        sender="backup-events@example.com",
        recipients=("oncall@example.com",),
        portal_url="https://portal.azure.com",
        lookback=timedelta(hours=24),
        subscription_ids=WATCHED_SUBSCRIPTIONS,
    )


def emails_in(outbox: Path) -> list[email.message.EmailMessage]:
    return [
        email.message_from_bytes(path.read_bytes(), policy=email.policy.default)  # type: ignore[misc]
        for path in sorted(outbox.glob("*.eml"))
    ]


def test_each_failed_job_is_told_once_and_the_second_run_tells_nothing(table: Any, tmp_path: Path, clock: Clock) -> None:
    first = poll_jobs(services(table, tmp_path, clock))
    assert (first.jobs_seen, first.failures, first.emails_sent, first.duplicates) == (FAILED, FAILED, FAILED, 0)
    assert len(emails_in(tmp_path)) == FAILED

    clock.advance(minutes=15)
    second = poll_jobs(services(table, tmp_path, clock))
    assert (second.emails_sent, second.duplicates, second.deferred, second.problems) == (0, FAILED, 0, [])
    assert len(emails_in(tmp_path)) == FAILED


def test_emails_name_the_item_first_and_carry_the_fix(table: Any, tmp_path: Path, clock: Clock) -> None:
    poll_jobs(services(table, tmp_path, clock))
    subjects = {m["Subject"] for m in emails_in(tmp_path)}
    assert "[Backup failed] vm-app-02: UserErrorGuestAgentStatusUnavailable" in subjects
    assert "[Backup failed] vm-sql-01 / salesdb: OperationCancelledBecauseConflictingOperationRunningUserError" in subjects
    vm = next(m for m in emails_in(tmp_path) if "vm-app-02" in m["Subject"])
    text = vm.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert "Take Snapshot (from the job's tasks)" in text
    assert "168.63.129.16" in text


def test_a_failed_send_releases_the_claim_and_the_next_run_sends_it_exactly_once(
    table: Any, tmp_path: Path, clock: Clock
) -> None:
    flaky = FlakyMailer(OutboxMailer(tmp_path, clock=clock), failures=2)
    first = poll_jobs(services(table, tmp_path, clock, mailer=flaky))
    assert (first.emails_sent, first.opened, len(first.problems)) == (FAILED - 2, FAILED, 2)

    clock.advance(minutes=15)
    second = poll_jobs(services(table, tmp_path, clock, mailer=flaky))
    assert (second.emails_sent, second.duplicates, second.problems) == (2, FAILED, [])
    assert len(emails_in(tmp_path)) == FAILED


def test_a_throttled_mail_service_pauses_sending_for_the_rest_of_the_run(table: Any, tmp_path: Path, clock: Clock) -> None:
    throttled = FlakyMailer(OutboxMailer(tmp_path, clock=clock), failures=1, retry_after=60)
    first = poll_jobs(services(table, tmp_path, clock, mailer=throttled))
    assert (first.emails_sent, first.deferred, throttled.attempts) == (0, FAILED - 1, 1)
    second = poll_jobs(services(table, tmp_path, clock, mailer=throttled))
    assert (second.emails_sent, second.deferred) == (FAILED, 0)


def test_a_vault_that_keeps_failing_is_skipped_and_the_others_are_told(table: Any, tmp_path: Path, clock: Clock) -> None:
    report = poll_jobs(services(table, tmp_path, clock, source=BrokenVaultSource("rsv-files-weu")))
    assert report.vaults_skipped == 1
    assert report.emails_sent == FAILED - 1
    assert any("rsv-files-weu" in p for p in report.problems)


def test_one_malformed_job_never_stops_the_run(table: Any, tmp_path: Path, clock: Clock) -> None:
    jobs = bundled_jobs()
    broken = {**jobs[0], "id": jobs[0]["id"].split("/backupJobs/")[0]}  # a vault's id: not a job at all
    report = poll_jobs(services(table, tmp_path, clock, source=SampleJobSource([broken, *jobs[1:]])))
    assert report.emails_sent == FAILED - 1
    assert any("not a backup job's" in p for p in report.problems)


def test_a_job_with_an_unreadable_time_is_told_with_that_time_unknown(table: Any, tmp_path: Path, clock: Clock) -> None:
    jobs = bundled_jobs()
    broken = {**jobs[0], "properties": {**jobs[0]["properties"], "startTime": "not a time"}}
    report = poll_jobs(services(table, tmp_path, clock, source=SampleJobSource([broken, *jobs[1:]])))
    assert report.emails_sent == FAILED and report.problems == []
    told = [p.read_text() for p in tmp_path.glob("*.eml") if jobs[0]["properties"]["entityFriendlyName"] in p.read_text()]
    assert any("properties.startTime 'not a time' could not be read" in text for text in told)


def test_timer_run_with_work_left_over_fails_the_invocation(table: Any, tmp_path: Path, clock: Clock) -> None:
    flaky = FlakyMailer(OutboxMailer(tmp_path, clock=clock), failures=1)
    with pytest.raises(RunFailedError, match="not sent"):
        on_timer(services(table, tmp_path, clock, mailer=flaky), past_due=True)
    assert on_timer(services(table, tmp_path, clock, mailer=flaky), past_due=False).emails_sent == 1


def test_two_instances_polling_at_once_tell_each_failure_once(
    azurite: str, table_name: str, tmp_path: Path, clock: Clock
) -> None:
    from azure.data.tables import TableClient

    TableIncidentStore(TableClient.from_connection_string(azurite, table_name), clock=clock).incident_of_job("warm|up")
    reports = []
    barrier = threading.Barrier(2)

    def instance(n: int) -> None:
        table = TableClient.from_connection_string(azurite, table_name)
        svc = services(table, tmp_path / f"instance{n}", clock)
        barrier.wait()
        reports.append(poll_jobs(svc))

    threads = [threading.Thread(target=instance, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(r.emails_sent for r in reports) == FAILED
    assert sum(r.duplicates for r in reports) == FAILED
    assert len(list(tmp_path.glob("instance*/*.eml"))) == FAILED
