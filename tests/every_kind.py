"""Every kind of email the pipeline writes, in a reader's language and time zone: the demo's two-day story (failures
of every workload, a repeat, a storm digest, reminders, a recovery, a missed backup), recorded restores replayed, a
reminder digest, a security alert and a job told by the alert path, a job with a 168-character item name and a long
unbreakable code, the test email, and the watchdog's own emails: blind spots (one vault, every vault) starting,
reminded and ending, and a busy day's summary. The browser test and the Japanese tests read them from here.
"""

from __future__ import annotations

import copy
import email
import email.policy
import functools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage as MimeMessage
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from backup_events.adapters.memory_store import MemoryIncidentStore
from backup_events.adapters.outbox_mailer import OutboxMailer, file_stem
from backup_events.adapters.sample_jobs import SampleJobSource
from backup_events.app import summary
from backup_events.app.poll import poll_jobs
from backup_events.cli import main as cli
from backup_events.cli.main import explained
from backup_events.cli.replay import replay
from backup_events.dev import demo
from backup_events.domain.incidents import Policy
from backup_events.domain.model import EmailMessage
from backup_events.domain.watch import is_blind
from tests.app.conftest import app_services
from tests.app.parts import failed_vm_job
from tests.app.test_blind_spots import SignInFails, VaultForbidden
from tests.conftest import Clock, load
from tests.recorded import RECORDED

RESTORES = RECORDED / "jobs/azcli--test_backup_scenario--552214c-i377.json"
DOCUMENTS = {
    "security-alert": "alert-security-soft-delete-disabled.json",
    "job-from-alert": "alert-sql-backup-failure.json",
}


@dataclass(frozen=True)
class Written:
    """One email as its reader gets it: the subject (decoded), the plain-text part and the HTML part."""

    subject: str
    text: str
    html: str


def long_names_job() -> dict[str, object]:
    job = copy.deepcopy(load("synth-sql-failed-conflicting-operation-details.json"))
    job["properties"]["entityFriendlyName"] = (
        "MSSQLSERVER/" + "db_" + "x" * 150 + " [vm-sql-with-a-very-long-host-name-01.contoso.com]"
    )
    return job


def reminder_digest(outbox: Path, **reading: str) -> None:
    """Six items still failing a day later, past the digest threshold: one digest of reminders."""
    clock = Clock(datetime(2026, 11, 25, 9, 0, tzinfo=UTC))
    store = MemoryIncidentStore(clock=clock)
    source = SampleJobSource([failed_vm_job(n, f"vm-stuck-{n:02d}", clock()) for n in range(6)])
    policy = Policy(reminder_hours=(24,), digest_threshold=3, emails_per_run=20)
    for hours in (0, 24):
        clock.now = datetime(2026, 11, 25, 9, 0, tzinfo=UTC) + timedelta(hours=hours)
        poll_jobs(app_services(store, outbox, clock, source=source, policy=policy, **reading))


LONG_ITEM = "vm-" + "y" * 120 + ".contoso.com"
"""The watchdog's one extra failing item: a long name in the summary."""


class WatchdogOutbox(OutboxMailer):
    """The outbox, noting which of its emails are the watchdog's own (blind spots, summaries): the failures that fill
    its summary are the story's kinds again."""

    def __init__(self, folder: Path, store: MemoryIncidentStore, clock: Clock) -> None:
        super().__init__(folder, clock=clock)
        self.store, self.own = store, set[str]()

    def send(self, message: EmailMessage) -> str:
        incident = self.store.incident("|".join(message.key.split("|")[:2]))
        if message.key.startswith("summary|") or (incident is not None and is_blind(incident)):
            self.own.add(file_stem(message))
        return super().send(message)


def watchdog(outbox: Path, **reading: str) -> set[str]:
    """Blind spots and a busy day's summary, written by the app's own use cases over the sample world (in memory);
    the names of their files."""
    clock = Clock(datetime(2026, 11, 25, 9, 0, tzinfo=UTC))
    store = MemoryIncidentStore(clock=clock)
    mailer = WatchdogOutbox(outbox, store, clock)
    build = functools.partial(app_services, store, outbox, clock, mailer=mailer, **reading)
    jobs = [*SampleJobSource()._jobs, failed_vm_job(77, LONG_ITEM, clock(), vault="rsv-files-weu")]  # noqa: SLF001 - the samples plus one
    forbidden = VaultForbidden(jobs)
    for _ in range(3):
        poll_jobs(build(source=forbidden))
        clock.advance(minutes=15)
    clock.advance(hours=24)
    poll_jobs(build(source=forbidden))  # reminded
    clock.advance(minutes=1)
    poll_jobs(build(source=SignInFails()))  # nothing at all readable: told at once
    clock.advance(minutes=15)
    summary.send_summary(build(source=forbidden))
    forbidden.healed = True
    poll_jobs(build(source=forbidden))  # both seen again
    return mailer.own


def read_eml(path: Path) -> Written:
    message: MimeMessage = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)  # type: ignore[assignment]
    text, html = (message.get_body((kind,)).get_content() for kind in ("plain", "html"))  # type: ignore[union-attr]
    return Written(str(message["Subject"]), text, html)


def every_email(folder: Path, language: str = "en", zone: str = "UTC") -> dict[str, Written]:
    """name → the email, every kind, written for a reader of ``language`` in ``zone``; files go under ``folder``."""
    settings = {"BACKUP_MAIL_LANGUAGE": language, "BACKUP_TIMEZONE": zone}
    outbox, restores, reminders = folder / "story", folder / "restores", folder / "reminders"
    watchdog_outbox = folder / "watchdog"
    demo.story(folder / "state", outbox, show=lambda title, report: None, **settings)
    # The summary at 09:00 UTC in every zone, so that each language's covers the same 24 hours.
    summary_at = datetime(2026, 11, 25, 9, 0, tzinfo=UTC).astimezone(ZoneInfo(zone)).strftime("%H:%M")
    replay([RESTORES], restores, **settings, BACKUP_SUMMARY_SCHEDULE=summary_at)
    reminder_digest(reminders, language=language, zone=zone)
    own = watchdog(watchdog_outbox, language=language, zone=zone)
    found = {
        path.stem: read_eml(path) for path in sorted([*outbox.glob("*.eml"), *restores.glob("*.eml"), *reminders.glob("*.eml")])
    }
    found |= {f"watchdog-{stem}": read_eml(watchdog_outbox / f"{stem}.eml") for stem in sorted(own)}
    documents: dict[str, Any] = {name: load(file) for name, file in DOCUMENTS.items()}
    documents["long-names"] = long_names_job()
    for name, document in documents.items():
        message = explained(document, name, language, zone)
        assert not isinstance(message, str), message
        found[name] = Written(message.subject, message.text, message.html)
    test = cli.test_message(demo.settings_for("UseDevelopmentStorage=true", Path("outbox"), **settings))
    found["test-email"] = Written(test.subject, test.text, test.html)
    return found


class _Visible(HTMLParser):
    """The text a reader sees in an HTML part (not the <head>)."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: object) -> None:
        self._hidden += tag in {"head", "title", "style"}

    def handle_endtag(self, tag: str) -> None:
        self._hidden -= tag in {"head", "title", "style"}

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def visible(html: str) -> str:
    """The visible text of an email's HTML part, its pieces joined by spaces."""
    parser = _Visible()
    parser.feed(html)
    return " ".join(parser.parts)
