"""Sending what incidents are owed: batches of recipients, lost claims, emails that cannot be written, instances that
died mid-send, storms that grew meanwhile, and the run's budget and counts around them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from backup_events.adapters.memory_store import MemoryIncidentStore
from backup_events.adapters.outbox_mailer import OutboxMailer
from backup_events.app import facts, notify, recording
from backup_events.app.alert_path import handle_alert_event
from backup_events.app.services import RunReport, Services
from backup_events.domain.incidents import (
    OPENED,
    PENDING,
    REMINDER,
    SENDING,
    SENT,
    Change,
    Incident,
    Outcome,
    Policy,
    emails_due,
)
from backup_events.domain.model import EmailMessage
from backup_events.wire.jobs import normalise_job
from tests import recorded
from tests.app.conftest import BuildServices, app_services
from tests.app.parts import ScriptedMailer, delivery, emails_in, job_alert
from tests.app.test_mail_budget import FAILED_JOBS
from tests.builders import make_incident
from tests.conftest import Clock

VAULT = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.RecoveryServices/vaults/v"
STORMY = Policy(digest_threshold=5, emails_per_run=100)
JOB = normalise_job(recorded.one(recorded.VM_RESTORE_FAILED))


def new_incident(clock: Clock, item: str, **changes: object) -> Incident:
    told = {"facts": facts.dumps(facts.FailureFacts(JOB)), **changes}
    return make_incident(VAULT, item, clock() - timedelta(hours=1), **told)


def recorded_in(store: MemoryIncidentStore, *incidents: Incident) -> list[Incident]:
    assert store.commit([Change(None, i) for i in incidents]) == [Outcome.LANDED] * len(incidents)
    return list(incidents)


def stored(store: MemoryIncidentStore, incident: Incident) -> Incident:
    found = store.incident(incident.key)
    assert found is not None
    return found


def recovered(clock: Clock, item: str) -> Incident:
    told = new_incident(clock, item, opened_email=SENT, emailed_at=clock() - timedelta(hours=1))
    return replace(told, state="closed", closed_at=clock(), recovery_email=PENDING)


def reminder_due(clock: Clock, item: str) -> Incident:
    old = clock() - timedelta(hours=25)
    return make_incident(VAULT, item, old, facts=facts.dumps(facts.FailureFacts(JOB)), opened_email=SENT, emailed_at=old)


class InstanceDied(BaseException):
    """The process stopped (a host restart): nothing of ours catches it."""


class DiesAfterSending(OutboxMailer):
    def send(self, message: EmailMessage) -> str:
        super().send(message)
        raise InstanceDied


class DiesBeforeSending(OutboxMailer):
    def send(self, message: EmailMessage) -> str:
        raise InstanceDied


class LosesClaimsOf(MemoryIncidentStore):
    """Another instance claims the emails of ``items`` first."""

    def __init__(self, clock: Clock, *items: str) -> None:
        super().__init__(clock=clock)
        self.items = set(items)

    def commit(self, changes: Sequence[Change]) -> list[Outcome]:
        lost = [c.email_only and not c.unconditional and c.after.item in self.items for c in changes]
        landed = iter(super().commit([c for c, no in zip(changes, lost, strict=True) if not no]))
        return [Outcome.CONFLICT if no else next(landed) for no in lost]


class CountingStore(MemoryIncidentStore):
    commits = 0

    def commit(self, changes: Sequence[Change]) -> list[Outcome]:
        self.commits += 1
        return super().commit(changes)


class AsksMailer(ScriptedMailer):
    asked = 0

    def delivered(self, message: EmailMessage) -> bool | None:
        self.asked += 1
        return super().delivered(message)


def run(services: Services) -> RunReport:
    report = RunReport()
    notify.notify(services, report)
    return report


def test_up_to_fifty_recipients_are_one_email_with_its_own_key_and_more_are_batches_keyed_in_order() -> None:
    message = EmailMessage(key="k", subject="s", text="t", html="h", sender="f@example.com", recipients=())
    fifty = replace(message, recipients=tuple(f"r{n}@example.com" for n in range(50)))
    assert notify.batches(fifty) == [fifty]
    many = notify.batches(replace(message, recipients=tuple(f"r{n}@example.com" for n in range(120))))
    assert [(m.key, len(m.recipients)) for m in many] == [("k|to0", 50), ("k|to1", 50), ("k|to2", 20)]


def test_of_two_batches_the_one_delivered_is_not_sent_again(build: BuildServices, outbox: Path, clock: Clock) -> None:
    hundred = tuple(f"oncall{n:03d}@example.com" for n in range(100))
    recorded_in(build().deps.incidents, new_incident(clock, "vm-a"))
    mailer = ScriptedMailer(OutboxMailer(outbox, clock=clock), failing={2})
    assert run(build(mailer=mailer, recipients=hundred)).emails_sent == 0
    assert run(build(mailer=mailer, recipients=hundred)).emails_sent == 1
    assert [len(m.recipients) for m in mailer.sent] == [50, 50] and mailer.attempts == 3


def test_an_email_to_one_batch_is_sent_without_asking_the_mailer_first(build: BuildServices, outbox: Path, clock: Clock) -> None:
    recorded_in(build().deps.incidents, new_incident(clock, "vm-a"))
    mailer = AsksMailer(OutboxMailer(outbox, clock=clock))
    assert run(build(mailer=mailer)).emails_sent == 1
    assert mailer.asked == 0


def test_an_email_another_instance_claimed_is_left_to_it_and_the_rest_still_go_out(outbox: Path, clock: Clock) -> None:
    store = LosesClaimsOf(clock, "vm-lost")
    recorded_in(store, new_incident(clock, "vm-lost"), new_incident(clock, "vm-b"), new_incident(clock, "vm-c"))
    report = run(app_services(store, outbox, clock))
    assert report.emails_sent == 2 and len(emails_in(outbox)) == 2


def test_an_email_that_cannot_be_written_is_reported_and_owed_again_and_the_rest_still_go_out(
    build: BuildServices, outbox: Path, clock: Clock
) -> None:
    store = build().deps.incidents
    broken, *fine = recorded_in(
        store, new_incident(clock, "vm-broken", facts="{not json"), new_incident(clock, "vm-b"), new_incident(clock, "vm-c")
    )
    report = run(build())
    assert report.emails_sent == 2 and len(emails_in(outbox)) == 2
    assert [p.startswith("email opened of vm-broken could not be written: ") for p in report.problems] == [True]
    assert emails_due(stored(store, broken), clock(), STORMY) == [OPENED]
    assert [stored(store, i).opened_email for i in fine] == [SENT, SENT]


def test_an_email_sent_by_an_instance_that_died_before_settling_is_settled_not_sent_again(
    build: BuildServices, outbox: Path, clock: Clock
) -> None:
    svc = build()
    store = svc.deps.incidents
    (first,) = recorded_in(store, new_incident(clock, "vm-a"))
    (claim,) = recording.claim_emails(store, [(first, OPENED)], clock())
    assert claim is not None
    svc.deps.mailer.send(notify.message_for(svc, claim, OPENED))  # ... and the instance died
    clock.advance(minutes=16)
    (later,) = recorded_in(store, new_incident(clock, "vm-b"))
    report = run(build())
    assert (report.emails_sent, len(emails_in(outbox))) == (1, 2)
    assert (stored(store, first).opened_email, stored(store, later).opened_email) == (SENT, SENT)


def test_a_run_counts_the_recovery_emails_it_sent_and_nothing_else_as_one(
    build: BuildServices, outbox: Path, clock: Clock
) -> None:
    recorded_in(build().deps.incidents, recovered(clock, "vm-a"), recovered(clock, "vm-b"), new_incident(clock, "vm-c"))
    report = run(build())
    assert (report.emails_sent, report.recovery_emails) == (3, 2)


def test_a_digest_an_instance_sent_before_dying_is_not_sent_again_when_the_storm_grew_meanwhile(
    build: BuildServices, outbox: Path, clock: Clock
) -> None:
    store = build().deps.incidents
    storm = recorded_in(store, *(new_incident(clock, f"vm-{n}") for n in range(6)))
    with pytest.raises(InstanceDied):
        run(build(policy=STORMY, mailer=DiesAfterSending(outbox, clock=clock)))
    assert len(emails_in(outbox)) == 1
    clock.advance(minutes=16)
    (late,) = recorded_in(store, new_incident(clock, "vm-late"))
    report = run(build(policy=STORMY))
    assert (report.digests, report.emails_sent, len(emails_in(outbox))) == (0, 1, 2)
    assert {stored(store, i).opened_email for i in [*storm, late]} == {SENT}


def test_a_digest_an_instance_claimed_and_died_before_sending_is_sent_by_the_next(
    build: BuildServices, outbox: Path, clock: Clock
) -> None:
    store = build().deps.incidents
    storm = recorded_in(store, *(new_incident(clock, f"vm-{n}") for n in range(6)))
    with pytest.raises(InstanceDied):
        run(build(policy=STORMY, mailer=DiesBeforeSending(outbox, clock=clock)))
    assert {stored(store, i).opened_email for i in storm} == {SENDING}
    clock.advance(minutes=16)
    report = run(build(policy=STORMY))
    assert (report.digests, len(emails_in(outbox))) == (1, 1)
    assert {stored(store, i).opened_email for i in storm} == {SENT}


def test_a_storm_another_instance_took_part_of_is_left_whole_for_the_next_run(outbox: Path, clock: Clock) -> None:
    store = LosesClaimsOf(clock, "vm-0")
    storm = recorded_in(store, *(new_incident(clock, f"vm-{n}") for n in range(6)))
    report = RunReport(deferred=1)
    notify.send_digest(app_services(store, outbox, clock, policy=STORMY), storm, OPENED, report, notify.MailBudget(10))
    assert (report.deferred, report.digests, emails_in(outbox)) == (6, 0, [])
    assert [emails_due(stored(store, i), clock(), STORMY) for i in storm[1:]] == [[OPENED]] * 5


def test_a_digest_of_one_incident_is_sent_to_its_recipients(build: BuildServices, outbox: Path, clock: Clock) -> None:
    (one,) = recorded_in(build().deps.incidents, new_incident(clock, "vm-a"))
    report = RunReport()
    notify.send_digest(build(), [one], OPENED, report, notify.MailBudget(1))
    assert report.digests == 1 and [str(m["To"]) for m in emails_in(outbox)] == ["oncall@example.com"]


def test_a_digest_of_reminders_adds_its_reminders_to_the_runs_count(build: BuildServices, outbox: Path, clock: Clock) -> None:
    due = recorded_in(build().deps.incidents, *(reminder_due(clock, f"vm-{n}") for n in range(6)))
    report = RunReport(reminders_sent=2)
    notify.send_digest(build(policy=STORMY), due, REMINDER, report, notify.MailBudget(1))
    assert (report.digests, report.reminders_sent) == (1, 8)


def test_a_recovery_email_an_instance_left_claimed_is_sent_again_alone_not_as_a_digest(
    build: BuildServices, outbox: Path, clock: Clock
) -> None:
    store = build().deps.incidents
    (closed,) = recorded_in(store, recovered(clock, "vm-a"))
    recording.claim_emails(store, [(closed, "recovered")], clock())
    clock.advance(minutes=16)
    report = run(build())
    assert (report.recovery_emails, report.digests, report.emails_sent) == (1, 0, 1)


def test_a_digest_takes_one_email_of_the_runs_budget(build: BuildServices, outbox: Path, clock: Clock) -> None:
    store = build().deps.incidents
    recorded_in(store, *(new_incident(clock, f"vm-{n}") for n in range(6)), *(recovered(clock, f"ok-{n}") for n in range(3)))
    report = run(build(policy=Policy(digest_threshold=5, emails_per_run=3)))
    assert (report.digests, report.recovery_emails, report.deferred) == (1, 2, 1)


def test_storms_with_no_budget_left_are_all_deferred(build: BuildServices, outbox: Path, clock: Clock) -> None:
    store = build().deps.incidents
    recorded_in(store, *(new_incident(clock, f"vm-{n}") for n in range(6)), *(reminder_due(clock, f"r-{n}") for n in range(6)))
    report = run(build(policy=Policy(digest_threshold=5, emails_per_run=0)))
    assert (report.digests, report.emails_sent, report.deferred) == (0, 0, 12)


def test_a_run_the_mail_service_throttled_leaves_the_rest_unclaimed_for_the_next(outbox: Path, clock: Clock) -> None:
    store = CountingStore(clock=clock)
    recorded_in(store, *(new_incident(clock, f"vm-{n}") for n in range(6)), *(recovered(clock, f"ok-{n}") for n in range(2)))
    store.commits = 0
    mailer = ScriptedMailer(OutboxMailer(outbox, clock=clock), failing={1}, retry_after=60)
    report = run(app_services(store, outbox, clock, mailer=mailer, policy=STORMY))
    assert (report.emails_sent, report.deferred, store.commits) == (0, 2, 2)  # the digest's claim and release only


def test_the_alert_path_keeps_to_an_hourly_budget_below_the_digest_threshold(build: BuildServices, clock: Clock) -> None:
    policy = Policy(emails_per_hour=2, digest_threshold=5, emails_per_run=100)
    outcomes = [
        handle_alert_event(build(policy=policy), delivery(job_alert(job), f"evt-{n}")) for n, job in enumerate(FAILED_JOBS[:3])
    ]
    assert outcomes.count("told") == 2
