"""Pure: a failed job and its diagnosis become an email (subject, plain text, HTML).

Templates live in ``templates/``; Jinja2 autoescapes the HTML one, so every string that came from a job
or an event is inert there.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from backup_events.domain.exposure import MISSED_CODE, ProtectedItem
from backup_events.domain.identity import headline_code
from backup_events.domain.ids import parse_vault_id
from backup_events.domain.incidents import RECOVERED, REMINDER, Incident
from backup_events.domain.model import BackupJob, Diagnosis, EmailMessage, Phase, Severity
from backup_events.domain.operations import OperationKind, failed_label, kind_of, label_of
from backup_events.domain.remediation import severity_of
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
    code: str
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


def exposure_of(job: BackupJob, last_good: datetime | None) -> str:
    """The last good recovery point and how long before this failure it was: the data at risk."""
    if last_good is None:
        return "unknown (the protected item could not be read)"
    reference = job.end or job.start
    if reference is None or reference < last_good:
        return _when(last_good)
    return f"{_when(last_good)}, {_how_long(reference - last_good)} before this failure"


def facts_of(job: BackupJob, diagnosis: Diagnosis, *, portal_url: str, last_good: datetime | None = None) -> Facts:
    """Precompute the wording of one email."""
    phase, phase_from = phase_of(job, diagnosis)
    error = job.error
    return Facts(
        job=job,
        diagnosis=diagnosis,
        code=headline_code(job, diagnosis),
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
        exposure=exposure_of(job, last_good) if kind_of(job.operation) is OperationKind.BACKUP else None,
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
def _environment() -> jinja2.Environment:
    import jinja2  # noqa: PLC0415 - imported on first render, not on cold start

    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("backup_events.mail", "templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default_for_string=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
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
    return one_line(f"[{facts.label}] {facts.job.item_name}: {facts.code}")


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
) -> EmailMessage:
    """The email for one failed job; ``last_good`` is the item's last good recovery point when known."""
    facts = facts_of(job, diagnosis, portal_url=portal_url, last_good=last_good)
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
) -> EmailMessage:
    """A reminder (still failing, or still missed) or a recovery notice for an incident told earlier.

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
        subject = f"[{label}] {incident.item}: {incident.code} ({short}, {incident.count} failure{'s' * (incident.count != 1)})"
    context: dict[str, object] = {
        "i": incident,
        "kind": kind,
        "missed": missed,
        "gap": gap,
        "last_good": _when(last_good) if known else "",
        "opened": _when(incident.opened_at),
        "last_seen": _when(incident.last_seen),
        "closed": _when(incident.closed_at),
        "portal_url": f"{portal_url}/#@/resource{incident.vault_id}/{'backupItems' if missed else 'backupJobs'}",
    }
    return _addressed(key, subject, "incident", context, sender=sender, recipients=recipients)


def render_digest(
    incidents: list[Incident], *, key: str, sender: str, recipients: tuple[str, ...], portal_url: str
) -> EmailMessage:
    """One email for a storm of new incidents: every item, its code, cause and link, worst vaults first."""
    ordered = sorted(incidents, key=lambda i: (i.vault_name.casefold(), i.item.casefold(), i.code))
    vaults = sorted({i.vault_name for i in incidents})
    labels = {label_of(i.operation) for i in incidents}
    label = f"{labels.pop()} failed" if len(labels) == 1 else "Backup jobs failed"
    subject = f"[{label}] {len(incidents)} new failures in {len(vaults)} vault{'s' * (len(vaults) != 1)} (digest)"
    context: dict[str, object] = {"incidents": ordered, "vaults": vaults, "portal_url": portal_url}
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
