"""Whatever breaks one send (a mailer bug, not only a refusal) is that message's problem alone: it is released and
owed again, and every other email of the run still goes out."""

from __future__ import annotations

from pathlib import Path

from backup_events.adapters.outbox_mailer import OutboxMailer
from backup_events.adapters.sample_jobs import SampleJobSource
from backup_events.app.poll import poll_jobs
from backup_events.domain.model import EmailMessage
from tests.app.conftest import BuildServices
from tests.app.parts import VM_JOB, VM_SUBJECT, ScriptedMailer
from tests.conftest import Clock


class BrokenOnVmAgent(OutboxMailer):
    """An outbox whose writer crashes (not a DeliveryError) on one message, as a header bug once made it do."""

    def __init__(self, outbox: Path, clock: Clock) -> None:
        super().__init__(outbox, clock=clock)
        self.broken = True

    def send(self, message: EmailMessage) -> str:
        if self.broken and "vm-app-02" in message.subject:
            raise ValueError("Header values may not contain linefeed or carriage return characters")
        return super().send(message)


def test_a_mailer_crash_on_one_email_releases_it_and_the_rest_still_go_out(
    build: BuildServices, outbox: Path, clock: Clock
) -> None:
    mailer = BrokenOnVmAgent(outbox, clock)
    first = poll_jobs(build(mailer=mailer))
    told = {p.name for p in outbox.glob("*.eml")}
    assert first.emails_sent == len(told) >= 5 and not any("vm-app-02" in name for name in told)
    assert any("vm-app-02" in problem for problem in first.problems)
    mailer.broken = False
    clock.advance(minutes=15)
    second = poll_jobs(build(mailer=mailer))
    assert second.emails_sent == 1 and any("vm-app-02" in p.name for p in outbox.glob("*.eml"))


MANY = tuple(f"oncall{n:03d}@example.com" for n in range(120))


def test_more_than_fifty_recipients_are_sent_in_batches_of_fifty(build: BuildServices, outbox: Path, clock: Clock) -> None:
    mailer = ScriptedMailer(OutboxMailer(outbox, clock=clock))
    report = poll_jobs(build(source=SampleJobSource([VM_JOB]), mailer=mailer, recipients=MANY))
    assert report.emails_sent == 1
    assert [len(m.recipients) for m in mailer.sent] == [50, 50, 20]
    assert sorted(r for m in mailer.sent for r in m.recipients) == sorted(MANY)
    assert len({m.key for m in mailer.sent}) == 3 and {m.subject for m in mailer.sent} == {VM_SUBJECT}


def test_a_batch_that_failed_is_sent_again_next_run_and_the_batches_delivered_are_not(
    build: BuildServices, outbox: Path, clock: Clock
) -> None:
    mailer = ScriptedMailer(OutboxMailer(outbox, clock=clock), failing={2})
    first = poll_jobs(build(source=SampleJobSource([VM_JOB]), mailer=mailer, recipients=MANY))
    assert (first.emails_sent, len(mailer.sent)) == (0, 1)
    clock.advance(minutes=15)
    second = poll_jobs(build(source=SampleJobSource([VM_JOB]), mailer=mailer, recipients=MANY))
    assert second.emails_sent == 1
    assert [len(m.recipients) for m in mailer.sent] == [50, 50, 20]  # the first batch once, never twice
    assert sorted(r for m in mailer.sent for r in m.recipients) == sorted(MANY)
