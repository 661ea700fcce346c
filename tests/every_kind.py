"""Every kind of email the pipeline writes, in a reader's language and time zone: the demo's two-day story (failures
of every workload, a repeat, a storm digest, reminders, a recovery, a missed backup), recorded restores replayed, a
reminder digest, a security alert and a job told by the alert path, a job with a 168-character item name and a long
unbreakable code, and the test email. The browser test and the Japanese tests read them from here.
"""

from __future__ import annotations

import copy
import email
import email.policy
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage as MimeMessage
from pathlib import Path
from typing import Any

from backup_events.adapters.memory_store import MemoryIncidentStore
from backup_events.adapters.sample_jobs import SampleJobSource
from backup_events.app.poll import poll_jobs
from backup_events.cli import main as cli
from backup_events.cli.main import explained
from backup_events.cli.replay import replay
from backup_events.dev import demo
from backup_events.domain.incidents import Policy
from tests.app.conftest import app_services
from tests.app.parts import failed_vm_job
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


def read_eml(path: Path) -> Written:
    message: MimeMessage = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)  # type: ignore[assignment]
    text, html = (message.get_body((kind,)).get_content() for kind in ("plain", "html"))  # type: ignore[union-attr]
    return Written(str(message["Subject"]), text, html)


def every_email(folder: Path, language: str = "en", zone: str = "UTC") -> dict[str, Written]:
    """name → the email, every kind, written for a reader of ``language`` in ``zone``; files go under ``folder``."""
    settings = {"BACKUP_MAIL_LANGUAGE": language, "BACKUP_TIMEZONE": zone}
    outbox, restores, reminders = folder / "story", folder / "restores", folder / "reminders"
    demo.story(folder / "state", outbox, show=lambda title, report: None, **settings)
    replay([RESTORES], restores, **settings)
    reminder_digest(reminders, language=language, zone=zone)
    found = {
        path.stem: read_eml(path) for path in sorted([*outbox.glob("*.eml"), *restores.glob("*.eml"), *reminders.glob("*.eml")])
    }
    documents: dict[str, Any] = {name: load(file) for name, file in DOCUMENTS.items()}
    documents["long-names"] = long_names_job()
    for name, document in documents.items():
        message = explained(document, name, language, zone)
        assert not isinstance(message, str), message
        found[name] = Written(message.subject, message.text, message.html)
    test = cli.test_message(demo.settings_for("UseDevelopmentStorage=true", Path("outbox"), **settings))
    found["test-email"] = Written(test.subject, test.text, test.html)
    return found
