"""Small real parts the app specs share: a mailer that can be told to fail, sample jobs, reading the outbox."""

from __future__ import annotations

import copy
import email
import email.policy
from collections.abc import Collection
from datetime import datetime, timedelta
from email.message import EmailMessage as MimeMessage
from pathlib import Path
from typing import Any

from backup_events.adapters.sample_jobs import bundled, bundled_jobs
from backup_events.app.services import EventEnvelope
from backup_events.domain.model import EmailMessage
from backup_events.errors import DeliveryError
from backup_events.ports import Mailer
from backup_events.settings import Settings
from tests.conftest import load

WORLD = bundled()
VAULTS = {job["id"].split("/")[8]: job["id"].rsplit("/backupJobs/", 1)[0] for job in WORLD["value"]}
"""Sample vault name -> vault id."""
VM_JOB = bundled_jobs()[0]  # vm-app-02 in rsv-prod-weu: UserErrorGuestAgentStatusUnavailable
VM_CODE = "UserErrorGuestAgentStatusUnavailable"


class ScriptedMailer:
    """Delivers to ``inner`` (the outbox) except on the attempts numbered in ``failing`` (1 is the first send).

    A failure raises ``DeliveryError`` as the mail service would; with ``retry_after`` it is a throttle (ACS 429).
    ``sent`` keeps every message delivered, so a test can tell "sent twice" from "written over".
    """

    def __init__(self, inner: Mailer, *, failing: Collection[int] = (), retry_after: float | None = None) -> None:
        self.inner, self.failing, self.retry_after = inner, set(failing), retry_after
        self.attempts = 0
        self.sent: list[EmailMessage] = []

    def delivered(self, message: EmailMessage) -> bool | None:
        return self.inner.delivered(message)

    def send(self, message: EmailMessage) -> str:
        self.attempts += 1
        if self.attempts in self.failing:
            raise DeliveryError("429 Too Many Requests" if self.retry_after else "503 unavailable", retry_after=self.retry_after)
        delivery_id = self.inner.send(message)
        self.sent.append(message)
        return delivery_id


def failed_vm_job(n: int, item: str, at: datetime, *, vault: str = "rsv-prod-weu", status: str = "Failed") -> dict[str, Any]:
    """Backup job ``n`` of VM ``item`` in a sample vault, ending at ``at``: failed with vm-app-02's error, or ``status``."""
    job = copy.deepcopy(VM_JOB)
    name = f"7e570000-0000-4000-8000-{n:012d}"
    job["id"] = f"{VAULTS[vault]}/backupJobs/{name}"
    job["name"] = name
    job["properties"].update(
        entityFriendlyName=item,
        containerName=f"iaasvmcontainerv2;rg-app;{item}",
        status=status,
        startTime=(at - timedelta(minutes=30)).isoformat(),
        endTime=at.isoformat(),
        duration="00:30:00",
    )
    if status != "Failed":
        job["properties"].pop("errorDetails")
    return job


def emails_in(outbox: Path) -> list[MimeMessage]:
    """The .eml files the outbox mailer wrote, in file-name order."""
    return [email.message_from_bytes(path.read_bytes(), policy=email.policy.default) for path in sorted(outbox.glob("*.eml"))]


def text_of(message: MimeMessage) -> str:
    return str(message.get_body(preferencelist=("plain",)).get_content())  # type: ignore[union-attr]


def html_of(message: MimeMessage) -> str:
    return str(message.get_body(preferencelist=("html",)).get_content())  # type: ignore[union-attr]


def sent_to(outbox: Path) -> dict[str, str]:
    """Subject -> To of every email in the outbox."""
    return {str(m["Subject"]): str(m["To"]) for m in emails_in(outbox)}


FAILED = sum(1 for job in WORLD["value"] if job["properties"]["status"] == "Failed")
"""Failed jobs in the samples: each is one email on a first run."""
VM_SUBJECT = f"[Backup failed] vm-app-02: {VM_CODE}"
VM_RESOURCE = next(
    raw["properties"]["sourceResourceId"]
    for items in WORLD["protectedItems"].values()
    for raw in items
    if raw["properties"].get("friendlyName") == "vm-app-02"
)

_BASE_ENVIRON = {
    "BACKUP_JOBS_SOURCE": "sample",
    "BACKUP_TABLE_CONNECTION_STRING": "UseDevelopmentStorage=true",
    "BACKUP_MAILER": "outbox",
    "BACKUP_MAIL_RECIPIENTS": "oncall@example.com",
}


def settings(**environ: str) -> Settings:
    """The app settings an operator would set, read by the app's own ``Settings.from_environ``."""
    return Settings.from_environ({**_BASE_ENVIRON, **environ})


def job_alert(job: dict[str, Any], condition: str = "Fired") -> dict[str, Any]:
    """The built-in alert Azure raises for a failed sample job (same alert id whether Fired or Resolved)."""
    alert: dict[str, Any] = copy.deepcopy(load("alert-vm-backup-failure.json"))
    alert["data"]["essentials"]["alertTargetIDs"] = [job["id"].rsplit("/backupJobs/", 1)[0].lower()]
    alert["data"]["essentials"]["monitorCondition"] = condition
    alert["data"]["alertContext"]["extendedInfo"]["jobId"] = job["name"]
    return alert


def security_alert(condition: str = "Fired") -> dict[str, Any]:
    """'Soft Delete Disabled' on vault rsv-prod-01 (same alert id whether Fired or Resolved)."""
    alert: dict[str, Any] = copy.deepcopy(load("alert-security-soft-delete-disabled.json"))
    alert["data"]["essentials"]["monitorCondition"] = condition
    return alert


SECURITY_SUBJECT = "[Backup security alert] rsv-prod-01: Soft Delete Disabled"


def delivery(data: Any, event_id: str = "evt-1") -> EventEnvelope:
    """One Event Grid delivery of ``data``."""
    return EventEnvelope(id=event_id, type="BackupEvents.AzureMonitorAlert.Fired", data=data)
