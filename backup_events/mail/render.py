"""Pure: a failed job and its diagnosis become an email (subject, plain text, HTML).

Templates live in ``templates/``; Jinja2 autoescapes the HTML one, so every string that came from a job
or an event is inert there.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from backup_events.domain.exposure import MISSED_CODE, ProtectedItem
from backup_events.domain.identity import headline_code
from backup_events.domain.ids import parse_vault_id
from backup_events.domain.incidents import RECOVERED, REMINDER, Incident
from backup_events.domain.model import BackupJob, Diagnosis, EmailMessage, Phase, Remediation, Severity
from backup_events.domain.operations import OperationKind, failed_label, kind_of, label_of
from backup_events.domain.remediation import severity_of
from backup_events.domain.summary import Summary
from backup_events.domain.watch import BlindSpot, Scope, fix_for
from backup_events.mail import i18n
from backup_events.wire.alerts import BackupAlert
from backup_events.wire.jobs import failed_task, unfinished_task

if TYPE_CHECKING:
    import jinja2

_BACKTICKED = re.compile(r"`([^`<>]+)`")
_SEVERITY_WORDS = {
    Severity.USER: "Needs a fix on your side",
    Severity.SERVICE: "Azure-side problem: open a support case if it repeats",
    Severity.TRANSIENT: "Transient: the next run will likely succeed",
}


@dataclass(frozen=True)
class Facts:
    """What the templates show, precomputed so the templates stay dumb."""

    job: BackupJob
    diagnosis: Diagnosis
    code: str  # the incident's code (its identity)
    told: ToldCode  # the code as shown
    phase: str
    phase_from: str
    severity: str
    started: str
    ended: str
    duration: str
    portal_url: str
    azure_message: str
    azure_recommendations: tuple[str, ...]
    azure_detail: str
    exposure: str | None  # None: not a backup, so no recovery point is at stake
    exposure_label: str
    label: str  # "Backup failed", "Restore failed", …


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "—"


def _how_long(value: timedelta | None) -> str:
    if value is None or value < timedelta(0):  # running jobs report negative durations
        return "—"
    minutes, seconds = divmod(int(value.total_seconds()), 60)
    hours, minutes = divmod(minutes, 60)
    if hours >= 48:
        return f"{hours // 24} d {hours % 24} h"
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {seconds:02d} s"


def _every(interval: timedelta) -> str:
    hours = int(interval.total_seconds() // 3600)
    if hours % 24 == 0 and hours >= 24:
        days = hours // 24
        return "day" if days == 1 else "week" if days == 7 else f"{days} days"
    return "hour" if hours == 1 else f"{hours} hours"


# Why the last good recovery point is not known: said as it is, never as "at least" a smaller figure.
UNKNOWN_BECAUSE = {
    "unread": "the vault's protected items could not be read when the failure was recorded",
    "not-found": "the item is not among the vault's protected items",
    "no-point": "the item has no recovery point yet",
    "": "it was not read with this failure",
}


def exposure_of(job: BackupJob, last_good: datetime | None, unknown: str = "") -> str:
    """The last good recovery point and how long before this failure it was: the data at risk.

    A point later than the failure (a database's log backup, a later job) is not "the last good point before it":
    it is said for what it is.
    """
    if last_good is None:
        return f"unknown ({UNKNOWN_BECAUSE.get(unknown, UNKNOWN_BECAUSE[''])})"
    reference = job.end or job.start
    if reference is None:
        return _when(last_good)
    if reference < last_good:
        return (
            f"a newer recovery point exists: {_when(last_good)}, {_how_long(last_good - reference)} after this failure "
            "(for a database often a log backup); nothing is lost so far"
        )
    return f"{_when(last_good)}, {_how_long(reference - last_good)} before this failure"


_AZURE_ID = re.compile(r"\bID:?\s*(\d{3,9})\b", re.IGNORECASE)


@dataclass(frozen=True)
class ToldCode:
    """The code as the email shows it, and whose it is: Azure's, or a label of ours (never passed off as Azure's)."""

    text: str
    azure: bool
    azure_id: str  # Azure's number, from the job or an "(ID: 100050)" in its message; "" when none
    label: bool = True  # False: no code at all, and the text only says so (not a label of ours either)

    @property
    def short(self) -> str:
        """For a subject: Azure's code as it is; our label with Azure's number when there is one."""
        if self.azure:
            return self.text
        return f"{self.text} (Azure ID {self.azure_id})" if self.azure_id else self.text


def told_code(job: BackupJob, diagnosis: Diagnosis) -> ToldCode:
    """Azure's string code when it gave one (or the code Microsoft documents for its message), else our title."""
    error = job.error
    numbers = [str(e.number) for e in job.errors if e.number is not None]
    numbers += [n for e in job.errors for n in _AZURE_ID.findall(e.message)]
    azure_id = next(iter(numbers), "")
    code = headline_code(job, diagnosis)
    remediation = diagnosis.remediation
    if (error and error.code) or (remediation and remediation.codes):
        return ToldCode(code, True, azure_id if azure_id != code else "")
    if azure_id:
        return ToldCode(remediation.title, False, azure_id) if remediation else ToldCode(f"ID {azure_id}", True, "")
    return ToldCode(remediation.title, False, "") if remediation else ToldCode("no error code", False, "", label=False)


def facts_of(
    job: BackupJob, diagnosis: Diagnosis, *, portal_url: str, last_good: datetime | None = None, unknown: str = ""
) -> Facts:
    """Precompute the wording of one email."""
    phase, phase_from = phase_of(job, diagnosis)
    error = job.error
    return Facts(
        job=job,
        diagnosis=diagnosis,
        code=headline_code(job, diagnosis),
        told=told_code(job, diagnosis),
        phase=phase,
        phase_from=phase_from,
        severity=_SEVERITY_WORDS[severity] if (severity := severity_of(diagnosis, job.errors)) else "Unknown",
        started=_when(job.start),
        ended=_when(job.end),
        duration=_how_long(job.duration),
        portal_url=f"{portal_url}/#@/resource{job.vault_id}/backupJobs",
        azure_message=error.message if error else "",
        azure_recommendations=tuple(r for e in job.errors for r in e.recommendations),
        azure_detail=job.detail if job.detail and job.detail != (error.message if error else "") else "",
        exposure=exposure_of(job, last_good, unknown) if kind_of(job.operation) is OperationKind.BACKUP else None,
        exposure_label="Recovery points"
        if last_good and (job.end or job.start or last_good) < last_good
        else "Last good recovery point",
        label=failed_label(job.operation),
    )


def phase_of(job: BackupJob, diagnosis: Diagnosis) -> tuple[str, str]:
    """Where the job failed, and how we know: its failed task, else the task it never finished, else the catalog."""
    if task := failed_task(job.tasks):
        return task.name, "from the job's tasks"
    if task := unfinished_task(job.tasks):
        return f"{task.name} (still {task.status or 'not started'} when the job failed)", "no task is marked Failed"
    remediation = diagnosis.remediation
    if remediation and remediation.phase is not Phase.NOT_APPLICABLE:
        return remediation.phase.value, "typical for this error"
    return "not reported", ""


@functools.cache
def _environment(language: str = "en") -> jinja2.Environment:
    """The templates with Jinja2's i18n extension and ``language``'s gettext catalog installed (see mail.i18n)."""
    import jinja2  # noqa: PLC0415 - imported on first render, not on cold start

    environment = i18n.environment(jinja2.PackageLoader("backup_events.mail", "templates"), i18n.translations(language))
    environment.filters["code_spans"] = _code_spans
    return environment


# Codes and commands may be one long word (OperationCancelledBecauseConflictingOperationRunningUserError): they break
# anywhere rather than push a phone's screen wider.
_CODE_STYLE = "font-family:Consolas,Menlo,monospace;background:#f4f5f7;overflow-wrap:anywhere;word-break:break-all;"


def _code_spans(text: str) -> Any:
    """Catalog text marks commands and service names with backticks; in HTML they become <code>, after escaping."""
    from markupsafe import Markup, escape  # noqa: PLC0415 - comes with Jinja2

    code = r'<code style="' + _CODE_STYLE + r'">\1</code>'
    return Markup(_BACKTICKED.sub(code, str(escape(text))))


def subject_of(facts: Facts) -> str:
    """``[Backup failed] vm-sql-01 / salesdb: UserErrorParentFullBackupMissing`` — what failed, item first, one line."""
    return one_line(f"[{facts.label}] {facts.job.item_name}: {facts.told.short}")


# Bidirectional and other invisible format controls (Unicode category Cf): an item name carrying U+202E would read
# backwards in a mail client's subject list, and a subject is a header, so no control of any kind may reach it.
_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff\x00-\x1f\x7f-\x9f]")


def one_line(subject: str) -> str:
    """A subject as a header takes it: one line, no control or bidi characters, at most 250 characters."""
    return " ".join(_INVISIBLE.sub(" ", subject).split())[:250]


def headers_for(key: str) -> dict[str, str]:
    """Our one header: a hash of the message key (the key holds input-derived ids; a header never does)."""
    return {"X-Backup-Events-Key": hashlib.sha256(key.encode()).hexdigest()[:32]}


def render_failure(
    job: BackupJob,
    diagnosis: Diagnosis,
    *,
    key: str,
    sender: str,
    recipients: tuple[str, ...],
    portal_url: str,
    last_good: datetime | None = None,
    unknown: str = "",
) -> EmailMessage:
    """The email for one failed job; ``last_good`` is the item's last good recovery point when known, else
    ``unknown`` says why not (a key of ``UNKNOWN_BECAUSE``)."""
    facts = facts_of(job, diagnosis, portal_url=portal_url, last_good=last_good, unknown=unknown)
    return _addressed(key, subject_of(facts), "failure", {"f": facts}, sender=sender, recipients=recipients)


def render_alert(alert: BackupAlert, *, key: str, sender: str, recipients: tuple[str, ...], portal_url: str) -> EmailMessage:
    """The email for a built-in alert that is not about a job (security alerts): the vault, what changed, what to do."""
    context: dict[str, object] = {"a": alert, "portal_url": f"{portal_url}/#@/resource{alert.vault_id}"}
    label = "Backup security alert" if alert.is_security else "Backup alert"
    return _addressed(key, f"[{label}] {alert.vault_name}: {alert.rule}", "alert", context, sender=sender, recipients=recipients)


def _addressed(
    key: str, subject: str, template: str, context: dict[str, object], *, sender: str, recipients: tuple[str, ...]
) -> EmailMessage:
    environment = _environment()
    return EmailMessage(
        key=key,
        subject=one_line(subject),
        text=environment.get_template(f"{template}.txt.j2").render(**context),
        html=environment.get_template(f"{template}.html.j2").render(**context),
        sender=sender,
        recipients=recipients,
        headers=headers_for(key),
    )


def render_incident(
    incident: Incident,
    kind: str,
    *,
    key: str,
    now: datetime,
    sender: str,
    recipients: tuple[str, ...],
    portal_url: str,
    last_good: datetime | None = None,
    told: ToldCode | None = None,
    unknown: str = "",
) -> EmailMessage:
    """A reminder (still failing, or still missed) or a recovery notice for an incident told earlier.

    ``told`` is the code as the first email showed it (Azure's, or our label): without it, the incident's code.

    The exposure is the time since ``last_good``, the item's last good recovery point when the failure was recorded,
    with that point's time: never the time since the first failure, which understates it. Unknown is said as unknown.
    """
    if kind not in (REMINDER, RECOVERED):
        raise ValueError(f"render_incident renders reminders and recoveries, not {kind!r}")
    missed = incident.code == MISSED_CODE
    until = incident.closed_at or now
    known = last_good is not None and last_good <= until
    gap = _how_long(until - last_good) if last_good is not None and known else ""
    if missed:
        label = "Backup still missed" if kind == REMINDER else "Backup recovered"
        since = _when(last_good) if known else "ever"
        subject = f"[{label}] {incident.item}: no recovery point since {since}" + (f" ({gap})" if gap else "")
    else:
        label = f"{label_of(incident.operation)} {'still failing' if kind == REMINDER else 'recovered'}"
        short = f"no good backup for {gap}" if gap else "last good backup unknown"
        code = told.short if told else incident.code
        subject = f"[{label}] {incident.item}: {code} ({short}, {incident.count} failure{'s' * (incident.count != 1)})"
    context: dict[str, object] = {
        "i": incident,
        "kind": kind,
        "missed": missed,
        "gap": gap,
        "last_good": _when(last_good) if known else "",
        "told": told or ToldCode(incident.code, True, ""),
        "unknown": UNKNOWN_BECAUSE.get(unknown, UNKNOWN_BECAUSE[""]),
        "opened": _when(incident.opened_at),
        "last_seen": _when(incident.last_seen),
        "closed": _when(incident.closed_at),
        "portal_url": f"{portal_url}/#@/resource{incident.vault_id}/{'backupItems' if missed else 'backupJobs'}",
    }
    return _addressed(key, subject, "incident", context, sender=sender, recipients=recipients)


@dataclass(frozen=True)
class DigestGroup:
    """Items failing with one code in one vault: the cause and the steps once, then the items."""

    code: str
    azure: bool  # Azure's code, else a label of ours (a catalog title)
    vault_name: str
    remedy: Remediation | None
    incidents: tuple[Incident, ...]


@dataclass(frozen=True)
class MissedRow:
    """A missed backup in a digest: the item and how long it has had no recovery point."""

    incident: Incident
    since: str
    gap: str


def digest_groups(incidents: list[Incident], remedies: Mapping[str, Remediation | None]) -> list[DigestGroup]:
    """Failures grouped by code and vault, the largest group first; ``remedies`` maps a code to its catalog entry."""
    groups: dict[tuple[str, str], list[Incident]] = {}
    for incident in sorted(incidents, key=lambda i: (i.item.casefold(), i.opened_at)):
        groups.setdefault((incident.code.casefold(), incident.vault_name), []).append(incident)
    built = []
    for members in groups.values():
        first = members[0]
        remedy = remedies.get(first.code)
        ours = remedy is not None and first.code not in remedy.codes and first.code.casefold() == remedy.key.casefold()
        built.append(
            DigestGroup(remedy.title if ours and remedy else first.code, not ours, first.vault_name, remedy, tuple(members))
        )
    return sorted(built, key=lambda g: (-len(g.incidents), g.vault_name.casefold(), g.code.casefold()))


def render_digest(
    incidents: list[Incident],
    *,
    key: str,
    sender: str,
    recipients: tuple[str, ...],
    portal_url: str,
    now: datetime | None = None,
    remedies: Mapping[str, Remediation | None] | None = None,
    last_good: Mapping[str, datetime | None] | None = None,
) -> EmailMessage:
    """One email for a storm of new incidents: grouped by code and vault (the cause and steps once per group), then
    the missed backups with how long each has gone without a recovery point.

    ``remedies`` maps a code to its catalog entry; ``last_good`` an incident key to its last recovery point.
    """
    failures = [i for i in incidents if i.code != MISSED_CODE]
    missed_incidents = sorted((i for i in incidents if i.code == MISSED_CODE), key=lambda i: i.item.casefold())
    moment = now or max((i.last_seen for i in incidents), default=datetime.min)
    missed = []
    for incident in missed_incidents:
        point = (last_good or {}).get(incident.key)
        missed.append(MissedRow(incident, _when(point) if point else "ever", _how_long(moment - point) if point else ""))
    vaults = sorted({i.vault_name for i in incidents})
    labels = {label_of(i.operation) for i in failures}
    label = f"{labels.pop()} failed" if len(labels) == 1 else "Backup jobs failed"
    in_vaults = f"in {len(vaults)} vault{'s' * (len(vaults) != 1)}"
    if not failures:
        subject = f"[Backups missed] {len(missed)} items without a recent recovery point {in_vaults} (digest)"
    else:
        also = f", {len(missed)} missed backup{'s' * (len(missed) != 1)}" if missed else ""
        subject = f"[{label}] {len(failures)} new failures {in_vaults}{also} (digest)"
    context: dict[str, object] = {
        "groups": digest_groups(failures, remedies or {}),
        "failures": failures,
        "missed": missed,
        "vaults": vaults,
        "portal_url": portal_url,
    }
    return _addressed(key, subject, "digest", context, sender=sender, recipients=recipients)


def render_missed(
    item: ProtectedItem,
    interval: timedelta,
    *,
    key: str,
    now: datetime,
    sender: str,
    recipients: tuple[str, ...],
    portal_url: str,
) -> EmailMessage:
    """No failure, no alert: the item simply has no recovery point as recent as its policy promises."""
    last = item.last_recovery_point
    age = _how_long(now - last) if last else "ever"
    subject = f"[Backup missed] {item.item}: no recovery point for {age} (policy {item.policy_name})"
    context: dict[str, object] = {
        "p": item,
        "age": age,
        "last": _when(last),
        "interval": _every(interval),
        "portal_url": f"{portal_url}/#@/resource{item.vault_id}/backupItems",
        "vault_name": parse_vault_id(item.vault_id)["vault_name"],
    }
    return _addressed(key, subject, "missed", context, sender=sender, recipients=recipients)


@dataclass(frozen=True)
class Sample:
    """A failure email in three lines, shown below a test email's divider."""

    subject: str
    cause: str
    first_step: str


def render_test(
    proved: list[tuple[str, str]], sample: Sample, *, key: str, now: datetime, sender: str, recipients: tuple[str, ...]
) -> EmailMessage:
    """The test email: "TEST — nothing has failed" first, its own look (no failure colours), the path it proved
    (``proved``: mailer, sender, recipients, settings), and a sample failure below a divider."""
    context: dict[str, object] = {"proved": proved, "sample": sample, "sent": _when(now)}
    return _addressed(key, "[backup-events TEST] nothing has failed", "test", context, sender=sender, recipients=recipients)


@dataclass(frozen=True)
class ReminderRow:
    """One incident in a digest of reminders: what it is, how long, and the data at risk."""

    incident: Incident
    code: ToldCode
    missed: bool
    opened: str
    last_good: str  # "" when unknown
    gap: str


def render_reminder_digest(
    incidents: list[Incident],
    *,
    key: str,
    now: datetime,
    sender: str,
    recipients: tuple[str, ...],
    portal_url: str,
    last_good: Mapping[str, datetime | None],
    told: Mapping[str, ToldCode],
) -> EmailMessage:
    """Reminders due at once for many incidents, as one email: the longest without a good backup first.

    ``last_good`` maps an incident key to its last good recovery point, ``told`` to the code its first email showed.
    """
    rows = []
    for incident in incidents:
        point = last_good.get(incident.key)
        known = point is not None and point <= now
        rows.append(
            ReminderRow(
                incident=incident,
                code=told.get(incident.key) or ToldCode(incident.code, True, ""),
                missed=incident.code == MISSED_CODE,
                opened=_when(incident.opened_at),
                last_good=_when(point) if known and point else "",
                gap=_how_long(now - point) if known and point else "",
            )
        )
    worst_first = sorted(
        rows, key=lambda r: (last_good.get(r.incident.key) or datetime.max.replace(tzinfo=now.tzinfo), r.incident.item.casefold())
    )
    missed = sum(r.missed for r in rows)
    failing = len(rows) - missed
    parts = [f"{failing} still failing"] if failing else []
    parts += [f"{missed} still missed"] if missed else []
    subject = f"[Backups still failing] {', '.join(parts)} (reminder digest)"
    context: dict[str, object] = {"rows": worst_first, "failing": failing, "missed": missed, "portal_url": portal_url}
    return _addressed(key, subject, "reminders", context, sender=sender, recipients=recipients)


# --- blind spots and the daily summary (issue 17): new functions only, below everything else -------------------


def render_blind(
    incident: Incident,
    kind: str,
    spot: BlindSpot,
    *,
    key: str,
    now: datetime,
    sender: str,
    recipients: tuple[str, ...],
    portal_url: str,
    lookback: timedelta | None = None,
) -> EmailMessage:
    """What the monitor cannot see (``kind`` opened or reminder), or that it can see it again (recovered).

    Seen again after longer than the polls' ``lookback``, the jobs that started in the first part of the blind stretch
    were never read and never will be: the email gives that stretch.
    """
    recovered = kind == RECOVERED
    until = incident.closed_at or now
    unseen = _when(until - lookback) if lookback is not None and until - incident.opened_at > lookback else ""
    since = _when(incident.opened_at)
    blind_for = _how_long((incident.closed_at or now) - incident.opened_at)
    cause = spot.cause.value
    what = {
        Scope.VAULT: f"vault {spot.name}",
        Scope.EVERY_VAULT: "the watched vaults",
        Scope.SUBSCRIPTION: f"the vaults of {spot.name}",
    }[spot.scope]
    meaning = {
        Scope.VAULT: f"Failed backups in vault {spot.name} are not being told while it cannot be read.",
        Scope.EVERY_VAULT: "No failed backup in any vault is being told while nothing can be read.",
        Scope.SUBSCRIPTION: f"No vault of {spot.name} is watched: discovery found none there.",
    }[spot.scope]
    if recovered:
        label, subject = "Can see again", f"[Can see again] {spot.name}: read again after {blind_for} blind"
    elif kind == REMINDER:
        label, subject = "Still blind", f"[Still blind] {spot.name}: cannot be read for {blind_for} ({cause})"
    else:
        label, subject = "Blind spot", f"[Blind spot] {spot.name}: cannot be read since {since} ({cause})"
    target = spot.target if spot.scope is Scope.VAULT else f"/subscriptions/{spot.target}" if spot.target else ""
    context: dict[str, object] = {
        "i": incident,
        "label": label,
        "recovered": recovered,
        "since": since,
        "closed": _when(incident.closed_at),
        "last_seen": _when(incident.last_seen),
        "blind_for": blind_for,
        "cause": cause,
        "what": what,
        "meaning": meaning,
        "error": spot.error,
        "fix": fix_for(spot.cause, spot.scope, target),
        "portal_url": f"{portal_url}/#@/resource{target}/users" if target else "",
        "portal_label": f"Access control (IAM) of {spot.name} in the portal",
        "unseen": unseen,
        "lookback": _how_long(lookback) if lookback is not None else "",
    }
    return _addressed(key, subject, "blind", context, sender=sender, recipients=recipients)


def _percent(rate: float | None) -> str:
    """99.6 reads "99 %", never "100 %": only a perfect day is 100."""
    return "—" if rate is None else "100 %" if rate >= 100 else f"{int(rate)} %"


def render_summary(
    summary: Summary, *, key: str, sender: str, recipients: tuple[str, ...], portal_url: str, timezone: str = "UTC"
) -> EmailMessage:
    """The daily summary of one recipient group: the estate at a glance, bars in HTML and CSS only."""
    import zoneinfo  # noqa: PLC0415

    zone = zoneinfo.ZoneInfo(timezone)

    def local(moment: datetime | None) -> str:
        return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z") if moment else "—"

    day = summary.until.astimezone(zone).date().isoformat()
    counts = [
        (len(summary.failing), "failing"),
        (len(summary.missed), "missed"),
        (len(summary.blind), "blind spot" + "s" * (len(summary.blind) != 1)),
        (len(summary.restores), "failed restore" + "s" * (len(summary.restores) != 1)),
    ]
    parts = [f"{n} {what}" for n, what in counts if n]
    unread = sum(1 for v in summary.vaults if v.unreadable_runs)
    if not parts and unread:
        parts = [f"{unread} vault{'s' * (unread != 1)} not always readable"]
    if not summary.polled:
        parts.append("no run recorded")
    recovered = f" ({len(summary.recovered)} recovered)" if summary.recovered else ""
    headline = ", ".join(parts) if parts else f"all fine{' now' if recovered else ''}{recovered}"
    jobs = (
        f"{_percent(summary.success_rate)} of {summary.jobs} job{'s' * (summary.jobs != 1)} succeeded"
        if summary.jobs
        else "no finished jobs"
    )
    subject = f"[Backup summary] {day}: {headline} · {jobs}"
    vaults = [
        {
            "v": v,
            "rate": _percent(v.success_rate),
            "good": round(v.success_rate) if v.success_rate is not None else 0,
            "known": v.success_rate is not None,
            "portal_url": f"{portal_url}/#@/resource{v.vault_id}/backupJobs",
        }
        for v in summary.vaults
    ]
    context: dict[str, object] = {
        "s": summary,
        "day": day,
        "headline": headline[:1].upper() + headline[1:],
        "jobs": jobs,
        "since": local(summary.since),
        "until": local(summary.until),
        "local": local,
        "how_long": _how_long,
        "vaults": vaults,
        "portal_url": portal_url,
    }
    return _addressed(key, subject, "summary", context, sender=sender, recipients=recipients)
