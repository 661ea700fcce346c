"""A process of backup-events that SIGKILLs itself at one point of sending, for tests/test_faults.py.

``python -m tests.crash_child <json>``: builds the app from settings as the host would (sample jobs, the ledger in
Azurite, the outbox mailer), then runs a Timer poll or one alert event; its mailer kills the process, for real and
without cleanup, either right before handing an email to the outbox (``claim-send``: claims written, nothing sent) or
right after (``send-settle``: sent, never settled). The parent then lets a healthy instance sweep up.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from datetime import datetime
from pathlib import Path

from backup_events import bootstrap
from backup_events.adapters.outbox_mailer import OutboxMailer
from backup_events.app.alert_path import handle_alert_event
from backup_events.app.poll import poll_jobs
from backup_events.app.services import EventEnvelope
from backup_events.domain.model import EmailMessage
from backup_events.settings import Settings


class KillingMailer(OutboxMailer):
    """The outbox, but the process dies at ``point`` of the ``after``-th send."""

    def __init__(self, outbox: Path, clock: object, *, point: str, after: int) -> None:
        super().__init__(outbox, clock=clock)  # type: ignore[arg-type]
        self.point, self.after, self.sends = point, after, 0

    def send(self, message: EmailMessage) -> str:
        self.sends += 1
        if self.sends == self.after and self.point == "claim-send":
            os.kill(os.getpid(), signal.SIGKILL)
        delivery_id = super().send(message)
        if self.sends == self.after and self.point == "send-settle":
            os.kill(os.getpid(), signal.SIGKILL)
        return delivery_id


def main(arguments: dict[str, object]) -> None:
    now = datetime.fromisoformat(str(arguments["now"]))
    settings = Settings.from_environ(dict(arguments["environ"]))  # type: ignore[arg-type]
    mailer = KillingMailer(settings.outbox_dir, lambda: now, point=str(arguments["point"]), after=int(str(arguments["after"])))
    services = bootstrap.build(settings, clock=lambda: now, mailer_override=mailer)
    if arguments.get("alert"):
        handle_alert_event(services, EventEnvelope("crash-1", "BackupEvents.AzureMonitorAlert.Fired", arguments["alert"]))
    else:
        poll_jobs(services)


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
