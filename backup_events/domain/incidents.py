"""Pure: incidents, i.e. one protected item failing with one error code, and which emails they are owed.

Built-in alerts send one alert per failed job (a SQL log backup can fail every 15 minutes) and never say when it
is fixed. An incident turns that into: one email when it opens, reminders while it stays open, one when it
recovers; a storm of new incidents in one run becomes one digest.
"""

from __future__ import annotations

import enum
import hashlib
import json
import zlib
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from backup_events.domain.model import Workload

OPENED, REMINDER, RECOVERED = "opened", "reminder", "recovered"
PENDING, SENDING, SENT, NONE = "pending", "sending", "sent", "none"


class Recorded(enum.StrEnum):
    """What recording one failed job did."""

    OPENED = "opened"  # a new incident (or a closed one reopened): it is owed an email
    REPEAT = "repeat"  # another failure of an open incident: counted, no email
    DUPLICATE = "duplicate"  # this job was recorded before


@dataclass(frozen=True)
class Incident:
    """One item failing with one code, from its first failure until its next good backup."""

    key: str  # "<vault id, case-folded>|inc-<hash of item and code>": the vault is the partition
    vault_id: str
    vault_name: str
    item: str
    workload: str
    code: str
    title: str
    docs_url: str
    opened_at: datetime
    last_seen: datetime
    count: int = 1
    state: str = "open"
    opened_email: str = PENDING
    reminders_sent: int = 0
    reminder_state: str = NONE
    recovery_email: str = NONE
    claimed_at: datetime | None = None
    emailed_at: datetime | None = None
    closed_at: datetime | None = None
    last_job: str = ""
    operation: str = ""
    route_to: str = ""  # addresses from the affected resource's routing tag, when it has one
    mail: bytes = b""  # the opening email, packed (see ``pack_mail``)
    etag: str = ""

    @property
    def is_open(self) -> bool:
        return self.state == "open"

    def down_for(self, now: datetime) -> timedelta:
        """How long the item has gone without a good backup, at least: since the incident's first failure."""
        return (self.closed_at or now) - self.opened_at


@dataclass(frozen=True)
class Policy:
    """How incidents are told; from settings."""

    reminder_hours: tuple[int, ...] = (24, 72)
    recovery_workloads: frozenset[str] = frozenset(w.value for w in Workload)
    digest_threshold: int = 5
    emails_per_run: int = 20
    lease: timedelta = timedelta(minutes=15)


def pack_mail(subject: str, text: str, html: str) -> bytes:
    """The opening email, rendered while the job is at hand and kept with the incident until it is sent.

    Compressed: HTML shrinks about sixfold, a table property holds 64 KiB, and thousands of incidents are listed
    at once when a storm is told.
    """
    return zlib.compress(json.dumps({"subject": subject, "text": text, "html": html}).encode(), 6)


def unpack_mail(mail: bytes) -> tuple[str, str, str]:
    """(subject, text, html) of a packed email."""
    fields = json.loads(zlib.decompress(mail))
    return str(fields["subject"]), str(fields["text"]), str(fields["html"])


def item_key(vault_id: str, item: str) -> str:
    """The protected item's identity across jobs and alerts: the vault and the item's display name, case-folded."""
    return hashlib.sha256(f"{vault_id.rstrip('/').casefold()}|{item.casefold()}".encode()).hexdigest()[:32]


def incident_key(vault_id: str, item: str, code: str, *, job: str = "") -> str:
    """One incident per vault, item and error code; a one-off (a restore) is its own incident, per ``job``."""
    once = f"|job:{job.casefold()}" if job else ""
    digest = hashlib.sha256(f"{item_key(vault_id, item)}|{code.casefold()}{once}".encode()).hexdigest()[:40]
    return f"{vault_id.rstrip('/').casefold()}|inc-{digest}"


def _claimable(state: str, claimed_at: datetime | None, now: datetime, lease: timedelta) -> bool:
    """Pending, or left 'sending' by an instance that died before the lease ran out."""
    return state == PENDING or (state == SENDING and (claimed_at is None or now - claimed_at > lease))


def emails_due(incident: Incident, now: datetime, policy: Policy) -> list[str]:
    """Which emails this incident is owed right now: opened, a reminder, recovered."""
    due = []
    if _claimable(incident.opened_email, incident.claimed_at, now, policy.lease):
        due.append(OPENED)
    elif _reminder_due(incident, now, policy.reminder_hours):
        state = incident.reminder_state if incident.reminder_state != NONE else PENDING
        if _claimable(state, incident.claimed_at, now, policy.lease):
            due.append(REMINDER)
    if not incident.is_open and _claimable(incident.recovery_email, incident.claimed_at, now, policy.lease):
        due.append(RECOVERED)
    return due


def _reminder_due(incident: Incident, now: datetime, hours: tuple[int, ...]) -> bool:
    """Reminder k is due once the incident is ``hours[k]`` old, and no sooner after the last email than the
    schedule's own gap (so a failure first told late, say 30 h after it began, is not reminded minutes later)."""
    k = incident.reminders_sent
    if not incident.is_open or incident.opened_email != SENT or k >= len(hours):
        return False
    gap = timedelta(hours=hours[k] - (hours[k - 1] if k else 0))
    old_enough = now - incident.opened_at >= timedelta(hours=hours[k])
    return old_enough and (incident.emailed_at is None or now - incident.emailed_at >= gap)


def reopened(old: Incident, new: Incident) -> Incident:
    """A closed incident failing again starts over, keeping its row."""
    return replace(new, etag=old.etag)


def repeated(old: Incident, seen: datetime, job_name: str) -> Incident:
    """Another failure of an open incident: one more in the count, nothing else."""
    return replace(old, count=old.count + 1, last_seen=max(old.last_seen, seen), last_job=job_name)


def recovered_by(incident: Incident, operation: str | None) -> bool:
    """Does a good backup of this kind end the incident?

    Database items run several kinds of backup ("Backup (Full)", "Backup (Log)"): a log backup succeeding
    every 15 minutes says nothing about the full backup that failed, so only the same kind closes it.
    ``operation`` None means a newer recovery point, which only counts for items with one kind of backup.
    """
    workload_kinds = incident.operation.startswith("Backup (")
    if operation is None:
        return not workload_kinds
    return operation.casefold() == incident.operation.casefold() if workload_kinds else operation.casefold().startswith("backup")


def closed(old: Incident, at: datetime, policy: Policy) -> Incident:
    """The item's next good backup closes the incident; a recovery email is owed if the workload wants one."""
    wanted = old.workload in policy.recovery_workloads and old.opened_email == SENT
    return replace(old, state="closed", closed_at=at, recovery_email=PENDING if wanted else NONE, claimed_at=None)


def _with_email_state(incident: Incident, kind: str, state: str, claimed_at: datetime | None) -> Incident:
    if kind == OPENED:
        return replace(incident, opened_email=state, claimed_at=claimed_at)
    if kind == REMINDER:
        return replace(incident, reminder_state=state, claimed_at=claimed_at)
    return replace(incident, recovery_email=state, claimed_at=claimed_at)


def claimed(incident: Incident, kind: str, at: datetime) -> Incident:
    """This instance is sending ``kind`` for the incident."""
    return _with_email_state(incident, kind, SENDING, at)


def sent(incident: Incident, kind: str) -> Incident:
    """``kind`` was accepted by the mail service (when it was claimed); a reminder moves on to the next one."""
    done = replace(_with_email_state(incident, kind, NONE if kind == REMINDER else SENT, None), emailed_at=incident.claimed_at)
    return replace(done, reminders_sent=incident.reminders_sent + 1) if kind == REMINDER else done


def released(incident: Incident, kind: str) -> Incident:
    """Sending ``kind`` failed: it is owed again."""
    return _with_email_state(incident, kind, NONE if kind == REMINDER else PENDING, None)


def was_sending(incident: Incident, kind: str) -> bool:
    """An instance claimed ``kind`` and never settled it: it may have been sent already."""
    state = {OPENED: incident.opened_email, REMINDER: incident.reminder_state, RECOVERED: incident.recovery_email}[kind]
    return state == SENDING
