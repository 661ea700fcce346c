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
    digest: str = ""  # while its first email is out in a digest: that digest's key (to resume it after a crash)
    facts: str = ""  # what its first email is written from, when it is sent (``app.facts``)
    mail: bytes = b""  # incidents recorded before facts were kept: the first email, rendered then (``pack_mail``)

    @property
    def is_open(self) -> bool:
        return self.state == "open"


@dataclass(frozen=True)
class Policy:
    """How incidents are told; from settings."""

    reminder_hours: tuple[int, ...] = (24, 72)
    recovery_workloads: frozenset[str] = frozenset(w.value for w in Workload)
    digest_threshold: int = 5
    emails_per_run: int = 20
    emails_per_hour: int | None = None  # shared by every run and the alert path; None: no hourly cap
    lease: timedelta = timedelta(minutes=15)


def pack_mail(subject: str, text: str, html: str) -> bytes:
    """The opening email, rendered while the job is at hand and kept with the incident until it is sent.

    Compressed: HTML shrinks about sixfold, a table property holds 64 KiB, and thousands of incidents are listed
    at once when a storm is told.
    """
    return zlib.compress(json.dumps({"subject": subject, "text": text, "html": html}).encode())


def unpack_mail(mail: bytes) -> tuple[str, str, str]:
    """(subject, text, html) of a packed email."""
    fields = json.loads(zlib.decompress(mail))
    return str(fields["subject"]), str(fields["text"]), str(fields["html"])


def _claimable(state: str, claimed_at: datetime | None, now: datetime, lease: timedelta) -> bool:
    """Pending, or left 'sending' by an instance that died before the lease ran out."""
    return state == PENDING or (state == SENDING and (claimed_at is None or now - claimed_at > lease))


def being_sent(incident: Incident, now: datetime, lease: timedelta) -> bool:
    """Is its first email claimed by an instance that may still be sending it (within the claim's lease)?"""
    return incident.opened_email == SENDING and not _claimable(SENDING, incident.claimed_at, now, lease)


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


class Outcome(enum.StrEnum):
    """What a store did with one ``Change``."""

    LANDED = "landed"
    DUPLICATE = "duplicate"  # one of its jobs was recorded before: nothing was written
    CONFLICT = "conflict"  # the incident changed since it was read (another instance): read again and redo


@dataclass(frozen=True)
class Change:
    """One atomic write: ``after`` replaces ``before`` (None: a new incident), and ``jobs`` are recorded with it.

    ``email_only`` writes only the email state (a claim or a settlement), leaving counts alone; ``unconditional``
    (settlements only: the claim made them ours) writes it even if the counts changed meanwhile.
    """

    before: Incident | None
    after: Incident
    jobs: tuple[str, ...] = ()
    email_only: bool = False
    unconditional: bool = False


EMAIL_FIELDS = ("opened_email", "reminder_state", "recovery_email", "reminders_sent", "claimed_at", "emailed_at", "digest")
"""What a claim or a settlement changes; the rest of an incident (its counts) may change meanwhile."""


def with_email_state(incident: Incident, source: Incident) -> Incident:
    """``incident`` with the email state of ``source``."""
    return replace(incident, **{name: getattr(source, name) for name in EMAIL_FIELDS})


def counted(existing: Incident | None, arrivals: list[Incident]) -> tuple[Incident, list[Recorded]]:
    """Failed jobs of one incident, counted together: more repeats of an open incident, else it opens (again).

    A closed incident failing again starts over in its row; an open one only counts and remembers the last job.
    """
    seen = max(a.last_seen for a in arrivals)
    last_job = arrivals[-1].last_job
    if existing is not None and existing.is_open:
        after = replace(
            existing, count=existing.count + len(arrivals), last_seen=max(existing.last_seen, seen), last_job=last_job
        )
        return after, [Recorded.REPEAT] * len(arrivals)
    after = replace(arrivals[0], count=len(arrivals), last_seen=seen, last_job=last_job)
    return after, [Recorded.OPENED] + [Recorded.REPEAT] * (len(arrivals) - 1)


def recovers(incident: Incident, at: datetime, operation: str | None) -> bool:
    """Does a good backup (``operation``; None for a newer recovery point) at ``at`` end this open incident?

    A success older than the failure, or of another kind of backup, proves nothing.
    """
    return incident.is_open and at >= incident.opened_at and recovered_by(incident, operation)


@dataclass(frozen=True)
class OwingQuery:
    """Which incidents may owe an email at ``now``: an opening or recovery email not yet sent, or reminder k maybe due
    (open, k reminders sent, opened before ``reminders[k][0]`` and last emailed before ``reminders[k][1]``)."""

    now: datetime
    reminders: tuple[tuple[datetime, datetime], ...]


def owing_query(now: datetime, policy: Policy) -> OwingQuery:
    """The reminder schedule as cut-off times, so a store can pre-select without knowing the schedule."""
    hours = policy.reminder_hours
    return OwingQuery(
        now=now,
        reminders=tuple(
            (now - timedelta(hours=due), now - timedelta(hours=due - (hours[k - 1] if k else 0))) for k, due in enumerate(hours)
        ),
    )


def may_owe(incident: Incident, query: OwingQuery) -> bool:
    """The store's pre-selection, exactly: ``emails_due`` then decides which email, if any."""
    if incident.opened_email != SENT or incident.recovery_email in (PENDING, SENDING):
        return True
    k = incident.reminders_sent
    if not incident.is_open or k >= len(query.reminders):
        return False
    opened_before, emailed_before = query.reminders[k]
    return incident.opened_at <= opened_before and incident.emailed_at is not None and incident.emailed_at <= emailed_before


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


def _with_email_state(incident: Incident, kind: str, state: str, claimed_at: datetime | None, digest: str = "") -> Incident:
    if kind == OPENED:
        return replace(incident, opened_email=state, claimed_at=claimed_at, digest=digest)
    if kind == REMINDER:
        return replace(incident, reminder_state=state, claimed_at=claimed_at)
    return replace(incident, recovery_email=state, claimed_at=claimed_at)


def claimed(incident: Incident, kind: str, at: datetime, *, digest: str = "") -> Incident:
    """This instance is sending ``kind`` for the incident (inside the digest ``digest``, if one)."""
    return _with_email_state(incident, kind, SENDING, at, digest)


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


def digest_key(incidents: list[Incident], kind: str = OPENED) -> str:
    """One digest's key: the same set of incidents, the same key (so a resumed digest is recognised as sent).

    A digest of reminders is keyed by each incident's reminder round too: the next round is another email.
    """
    if kind == OPENED:
        return "digest|" + hashlib.sha256("|".join(sorted(i.key for i in incidents)).encode()).hexdigest()[:32]
    rounds = "|".join(sorted(f"{i.key}:{i.reminders_sent}" for i in incidents))
    return f"digest-{kind}|" + hashlib.sha256(rounds.encode()).hexdigest()[:32]


def hour_of(now: datetime) -> str:
    """The hourly mail budget's bucket."""
    return now.strftime("%Y-%m-%dT%H")
