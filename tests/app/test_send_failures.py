"""Whatever breaks one send (a mailer bug, not only a refusal) is that message's problem alone: it is released and
owed again, and every other email of the run still goes out."""

from __future__ import annotations

from pathlib import Path

from backup_events.adapters.outbox_mailer import OutboxMailer
from backup_events.app.poll import poll_jobs
from backup_events.domain.model import EmailMessage
from tests.app.conftest import BuildServices
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
