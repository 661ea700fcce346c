"""Pure: a failed job and its diagnosis become an email (subject, plain text, HTML).

Templates live in ``templates/``; Jinja2 autoescapes the HTML one, so every string that came from a job
or an event is inert there.
"""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from backup_events.domain.exposure import MISSED_CODE, ProtectedItem
from backup_events.domain.identity import headline_code
from backup_events.domain.ids import parse_vault_id
from backup_events.domain.incidents import RECOVERED, REMINDER, Incident
from backup_events.domain.model import (
    BackupJob,
    Diagnosis,
    EmailMessage,
    Phase,
    Remediation,
    RemediationText,
    Severity,
)
from backup_events.domain.operations import OperationKind, failed_label, kind_of, label_of
from backup_events.domain.remediation import severity_of
from backup_events.domain.summary import Summary
from backup_events.domain.watch import BLIND_CODE, BlindSpot, Scope, fix_for, told_error, told_name
from backup_events.mail import i18n
from backup_events.wire.alerts import BackupAlert
from backup_events.wire.jobs import failed_task, parse_time, unfinished_task

if TYPE_CHECKING:
    import jinja2

_BACKTICKED = re.compile(r"`([^`<>]+)`")


def N_(message: str) -> str:  # noqa: N802 - gettext's name for "translate this later": Babel extracts it
    return message


_MATCHED_BY = (N_("code"), N_("number"), N_("message"))  # Diagnosis.matched_by, as the footer says it
_SOURCES = (N_("jobs API"), N_("Azure Monitor alert"))  # BackupJob.source, as the footer says it

_SEVERITY_WORDS = {
    Severity.USER: N_("Needs a fix on your side"),
    Severity.SERVICE: N_("Azure-side problem: open a support case if it repeats"),
    Severity.TRANSIENT: N_("Transient: the next run will likely succeed"),
}


@dataclass(frozen=True)
class Reader:
    """Who reads an email: its language (``LANGUAGES``) and time zone (an IANA name). Every date and every word
    follows it; English in UTC is what the templates say without a catalog."""

    language: str = "en"
    zone: str = "UTC"


ENGLISH_UTC = Reader()


@functools.cache
def gettext_of(language: str) -> Callable[[str], str]:
    """``gettext`` of ``language``'s catalog (mail.i18n): the Python side's words, called ``_`` so Babel finds them."""
    return i18n.translations(language).gettext


@functools.cache
def ngettext_of(language: str) -> Callable[[str, str, int], str]:
    """``ngettext`` of ``language``'s catalog: a count's words (``%(num)d failure`` / ``%(num)d failures``)."""
    return i18n.translations(language).ngettext


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
    severity_known: bool  # the catalog's, or Azure's isUserError / isRetryable; False: "Unknown"
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
    newer: bool = False  # the recovery point is later than the failure (not the last good one before it)
    words: RemediationText | None = None  # the catalog entry's words in the reader's language
    job_type: str = ""  # the job's type as shown ("(from alert)" in the reader's language)
    notes: tuple[str, ...] = ()  # what reading the job noticed, in the reader's language


def _when(value: datetime | None, reader: Reader = ENGLISH_UTC) -> str:
    """``2026-11-25 06:00 UTC`` / ``2026年11月25日 15:00 JST``: in the reader's language and time zone."""
    if value is None:
        return "—"
    return i18n.format_when(value if value.tzinfo else value.replace(tzinfo=UTC), reader.language, reader.zone)


def _how_long(value: timedelta | None, reader: Reader = ENGLISH_UTC) -> str:
    """``5 h 25 min`` / ``3 d 13 h`` in English (as the emails always wrote them); Babel's units in other languages."""
    if value is None or value < timedelta(0):  # running jobs report negative durations
        return "—"
    if reader.language != "en":
        return i18n.format_duration(value, reader.language)
    minutes, seconds = divmod(int(value.total_seconds()), 60)
    hours, minutes = divmod(minutes, 60)
    if hours >= 48:
        return f"{hours // 24} d {hours % 24} h"
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {seconds:02d} s"


def _every(interval: timedelta, reader: Reader = ENGLISH_UTC) -> str:
    _, ngettext = gettext_of(reader.language), ngettext_of(reader.language)
    hours = int(interval.total_seconds() // 3600)
    if hours % 24 == 0 and hours >= 24:
        days = hours // 24
        if days in (1, 7):
            return _("day") if days == 1 else _("week")
        return ngettext("%(num)d day", "%(num)d days", days) % {"num": days}
    return _("hour") if hours == 1 else ngettext("%(num)d hour", "%(num)d hours", hours) % {"num": hours}


# Why the last good recovery point is not known: said as it is, never as "at least" a smaller figure.
UNKNOWN_BECAUSE = {
    "unread": N_("the vault's protected items could not be read when the failure was recorded"),
    "not-found": N_("the item is not among the vault's protected items"),
    "no-point": N_("the item has no recovery point yet"),
    "": N_("it was not read with this failure"),
}


def _unknown_because(unknown: str, reader: Reader) -> str:
    _ = gettext_of(reader.language)
    return _(UNKNOWN_BECAUSE.get(unknown, UNKNOWN_BECAUSE[""]))


def exposure_of(job: BackupJob, last_good: datetime | None, unknown: str = "", reader: Reader = ENGLISH_UTC) -> str:
    """The last good recovery point and how long before this failure it was: the data at risk.

    A point later than the failure (a database's log backup, a later job) is not "the last good point before it":
    it is said for what it is.
    """
    _ = gettext_of(reader.language)
    if last_good is None:
        return _("unknown (%(why)s)") % {"why": _unknown_because(unknown, reader)}
    reference = job.end or job.start
    if reference is None:
        return _when(last_good, reader)
    if reference < last_good:
        return _(
            "a newer recovery point exists: %(when)s, %(gap)s after this failure (for a database often a log backup); "
            "nothing is lost so far"
        ) % {"when": _when(last_good, reader), "gap": _how_long(last_good - reference, reader)}
    return _("%(when)s, %(gap)s before this failure") % {
        "when": _when(last_good, reader),
        "gap": _how_long(reference - last_good, reader),
    }


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


def told_code(job: BackupJob, diagnosis: Diagnosis, reader: Reader = ENGLISH_UTC) -> ToldCode:
    """Azure's string code when it gave one (or the code Microsoft documents for its message), else our title (in the
    reader's language)."""
    _ = gettext_of(reader.language)
    error = job.error
    numbers = [str(e.number) for e in job.errors if e.number is not None]
    numbers += [n for e in job.errors for n in _AZURE_ID.findall(e.message)]
    azure_id = next(iter(numbers), "")
    code = headline_code(job, diagnosis)
    remediation = diagnosis.remediation
    title = remediation.text(reader.language).title if remediation else ""
    if (error and error.code) or (remediation and remediation.codes):
        return ToldCode(code, True, azure_id if azure_id != code else "")
    if azure_id:
        return ToldCode(title, False, azure_id) if remediation else ToldCode(f"ID {azure_id}", True, "")
    return ToldCode(title, False, "") if remediation else ToldCode(_("no error code"), False, "", label=False)


def facts_of(
    job: BackupJob,
    diagnosis: Diagnosis,
    *,
    portal_url: str,
    last_good: datetime | None = None,
    unknown: str = "",
    reader: Reader = ENGLISH_UTC,
) -> Facts:
    """Precompute the wording of one email, in the reader's language and time zone."""
    _ = gettext_of(reader.language)
    remediation = diagnosis.remediation
    phase, phase_from = phase_of(job, diagnosis, reader)
    error = job.error
    newer = bool(last_good and (job.end or job.start or last_good) < last_good)
    return Facts(
        job=job,
        diagnosis=diagnosis,
        code=headline_code(job, diagnosis),
        told=told_code(job, diagnosis, reader),
        phase=phase,
        phase_from=phase_from,
        severity=_(_SEVERITY_WORDS[severity]) if (severity := severity_of(diagnosis, job.errors)) else _("Unknown"),
        severity_known=severity_of(diagnosis, job.errors) is not None,
        started=_when(job.start, reader),
        ended=_when(job.end, reader),
        duration=_how_long(job.duration, reader),
        portal_url=f"{portal_url}/#@/resource{job.vault_id}/backupJobs",
        azure_message=error.message if error else "",
        azure_recommendations=tuple(r for e in job.errors for r in e.recommendations),
        azure_detail=job.detail if job.detail and job.detail != (error.message if error else "") else "",
        exposure=exposure_of(job, last_good, unknown, reader) if kind_of(job.operation) is OperationKind.BACKUP else None,
        exposure_label=_("Recovery points") if newer else _("Last good recovery point"),
        label=failed_label(job.operation, _),
        newer=newer,
        words=remediation.text(reader.language) if remediation else None,
        job_type=_(FROM_ALERT) if job.job_type == FROM_ALERT else job.job_type,
        notes=notes_of(job, reader),
    )


# What reading a job noticed (wire.jobs, app.alert_path write these notes in English, kept with an incident's facts):
# each pattern's groups go into its message, in the reader's language. A note no pattern knows is shown as it is.
_NOTES = (
    (
        re.compile(r"Unknown job type (?P<type>.+): reported with what could be read\."),
        N_("Unknown job type %(type)s: reported with what could be read."),
    ),
    (
        re.compile(r"Cross-region restore job in (?P<location>.+): its vault is not named in the job\."),
        N_("Cross-region restore job in %(location)s: its vault is not named in the job."),
    ),
    (
        re.compile(r"(?P<field>\S+) (?P<value>.+) could not be read; shown as unknown\."),
        N_("%(field)s %(value)s could not be read; shown as unknown."),
    ),
    (
        re.compile(r"(?P<field>properties\.errorDetails\[\d+\]) is not an error object; left out"),
        N_("%(field)s is not an error object; left out"),
    ),
    (
        re.compile(r"Built from the alert alone: the job's details could not be read \((?P<why>.*)\)\.", re.S),
        N_("Built from the alert alone: the job's details could not be read (%(why)s)."),
    ),
)
FROM_ALERT = N_("(from alert)")  # the job type of a job built from an alert (wire.alerts.job_from_alert)


def notes_of(job: BackupJob, reader: Reader = ENGLISH_UTC) -> tuple[str, ...]:
    """The job's notes in the reader's language (English: as written)."""
    if reader.language == "en":
        return job.notes
    _ = gettext_of(reader.language)
    return tuple(_note(note, _) for note in job.notes)


def _note(note: str, gettext: Callable[[str], str]) -> str:
    for pattern, message in _NOTES:
        if match := pattern.fullmatch(note):
            return gettext(message) % match.groupdict()
    return note


def phase_of(job: BackupJob, diagnosis: Diagnosis, reader: Reader = ENGLISH_UTC) -> tuple[str, str]:
    """Where the job failed, and how we know: its failed task, else the task it never finished, else the catalog.

    Task names are Azure's (Take Snapshot, Transfer data to vault: Japanese support writes them so too)."""
    _ = gettext_of(reader.language)
    if task := failed_task(job.tasks):
        return task.name, _("from the job's tasks")
    if task := unfinished_task(job.tasks):
        if task.status:
            still = _("%(task)s (still %(status)s when the job failed)") % {"task": task.name, "status": task.status}
        else:
            still = _("%(task)s (still not started when the job failed)") % {"task": task.name}
        return still, _("no task is marked Failed")
    remediation = diagnosis.remediation
    if remediation and remediation.phase is not Phase.NOT_APPLICABLE:
        phase = _("Job start") if remediation.phase is Phase.JOB_START else remediation.phase.value
        return phase, _("typical for this error")
    return _("not reported"), ""


@functools.cache
def _environment(language: str = "en") -> jinja2.Environment:
    """The templates with Jinja2's i18n extension and ``language``'s gettext catalog installed (see mail.i18n)."""
    import jinja2  # noqa: PLC0415 - imported on first render, not on cold start

    environment = i18n.environment(jinja2.PackageLoader("backup_events.mail", "templates"), i18n.translations(language))
    environment.filters["code_spans"] = _code_spans
    environment.filters["pad"] = pad
    return environment


def pad(text: str, width: int) -> str:
    """``text`` padded to ``width`` columns of a monospaced plain-text part: CJK characters take two columns."""
    columns = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in str(text))
    return f"{text}{' ' * max(width - columns, 0)}"


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
    reader: Reader = ENGLISH_UTC,
) -> EmailMessage:
    """The email for one failed job; ``last_good`` is the item's last good recovery point when known, else
    ``unknown`` says why not (a key of ``UNKNOWN_BECAUSE``)."""
    facts = facts_of(job, diagnosis, portal_url=portal_url, last_good=last_good, unknown=unknown, reader=reader)
    return _addressed(key, subject_of(facts), "failure", {"f": facts}, sender=sender, recipients=recipients, reader=reader)


def render_alert(
    alert: BackupAlert,
    *,
    key: str,
    sender: str,
    recipients: tuple[str, ...],
    portal_url: str,
    reader: Reader = ENGLISH_UTC,
) -> EmailMessage:
    """The email for a built-in alert that is not about a job (security alerts): the vault, what changed, what to do."""
    _ = gettext_of(reader.language)
    fired = alert.fired or "—"  # Azure's own timestamp as it came, for an English reader in UTC
    if alert.fired and reader != ENGLISH_UTC:
        fired = _when(parse_time(alert.fired, "firedDateTime"), reader)
    context: dict[str, object] = {"a": alert, "fired": fired, "portal_url": f"{portal_url}/#@/resource{alert.vault_id}"}
    label = _("Backup security alert") if alert.is_security else _("Backup alert")
    subject = f"[{label}] {alert.vault_name}: {alert.rule}"
    return _addressed(key, subject, "alert", context, sender=sender, recipients=recipients, reader=reader)


# Latin text in Segoe UI everywhere; Japanese in the fonts Windows (Meiryo, Yu Gothic) and Apple (Hiragino) ship, so a
# mail client does not fall back to a bitmap or Mincho face for CJK.
_FONTS = {
    "en": "Segoe UI,Helvetica,Arial,sans-serif",
    "ja": "Segoe UI,Meiryo,Yu Gothic,Hiragino Sans,Hiragino Kaku Gothic ProN,Noto Sans CJK JP,sans-serif",
}


def _addressed(
    key: str,
    subject: str,
    template: str,
    context: dict[str, object],
    *,
    sender: str,
    recipients: tuple[str, ...],
    reader: Reader = ENGLISH_UTC,
) -> EmailMessage:
    environment = _environment(reader.language)
    # Plain-text labels line up in a column as wide as the longest (Azure code / Azure コード: 13 columns in Japanese).
    context = {
        "lang": reader.language,
        "pad_to": 11 if reader.language == "en" else 13,
        "font_family": _FONTS.get(reader.language, _FONTS["en"]),
        **context,
    }
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
    remedy: Remediation | None = None,
    reader: Reader = ENGLISH_UTC,
) -> EmailMessage:
    """A reminder (still failing, or still missed) or a recovery notice for an incident told earlier.

    ``told`` is the code as the first email showed it (Azure's, or our label): without it, the incident's code.
    ``remedy`` is its catalog entry, whose title and link a reader of another language than English reads.

    The exposure is the time since ``last_good``, the item's last good recovery point when the failure was recorded,
    with that point's time: never the time since the first failure, which understates it. Unknown is said as unknown.
    """
    if kind not in (REMINDER, RECOVERED):
        raise ValueError(f"render_incident renders reminders and recoveries, not {kind!r}")
    _, ngettext = gettext_of(reader.language), ngettext_of(reader.language)
    missed = incident.code == MISSED_CODE
    until = incident.closed_at or now
    known = last_good is not None and last_good <= until
    gap = _how_long(until - last_good, reader) if last_good is not None and known else ""
    if missed:
        label = _("Backup still missed") if kind == REMINDER else _("Backup recovered")
        if known:
            since = _("no recovery point since %(since)s") % {"since": _when(last_good, reader)}
        else:
            since = _("no recovery point since ever")
        subject = f"[{label}] {incident.item}: {since}" + (f" ({gap})" if gap else "")
    else:
        operation = label_of(incident.operation, _)
        label = (_("%(operation)s still failing") if kind == REMINDER else _("%(operation)s recovered")) % {
            "operation": operation
        }
        short = _("no good backup for %(gap)s") % {"gap": gap} if gap else _("last good backup unknown")
        code = told.short if told else incident.code
        failures = ngettext("%(num)d failure", "%(num)d failures", incident.count) % {"num": incident.count}
        counted = _("%(short)s, %(failures)s") % {"short": short, "failures": failures}
        subject = f"[{label}] {incident.item}: {code} ({counted})"
    title, docs_url = incident.title, incident.docs_url
    if reader.language != "en" and remedy is not None:
        title, docs_url = remedy.text(reader.language).title, remedy.text(reader.language).docs_url
    elif reader.language != "en" and missed:
        title, docs_url = _(MISSED_TITLE), _(MISSED_DOCS)
    context: dict[str, object] = {
        "i": incident,
        "kind": kind,
        "missed": missed,
        "gap": gap,
        "last_good": _when(last_good, reader) if known else "",
        "told": told or ToldCode(incident.code, True, ""),
        "unknown": _unknown_because(unknown, reader),
        "opened": _when(incident.opened_at, reader),
        "last_seen": _when(incident.last_seen, reader),
        "closed": _when(incident.closed_at, reader),
        "title": title,
        "docs_url": docs_url,
        "azure_title": remedy is None and not missed and bool(title),
        "portal_url": f"{portal_url}/#@/resource{incident.vault_id}/{'backupItems' if missed else 'backupJobs'}",
    }
    return _addressed(key, subject, "incident", context, sender=sender, recipients=recipients, reader=reader)


# A missed backup's incident title and link (app.missed records them in English); translated for other readers.
MISSED_TITLE = N_("No recovery point within the policy's schedule")
MISSED_DOCS = N_("https://learn.microsoft.com/azure/backup/backup-azure-monitoring-built-in-monitor")


@dataclass(frozen=True)
class DigestGroup:
    """Items failing with one code in one vault: the cause and the steps once, then the items."""

    code: str
    azure: bool  # Azure's code, else a label of ours (a catalog title)
    vault_name: str
    remedy: Remediation | None
    incidents: tuple[Incident, ...]
    words: RemediationText | None = None  # the entry's words in the reader's language
    first_failed: tuple[str, ...] = ()  # each incident's first failure, in the reader's time zone


@dataclass(frozen=True)
class MissedRow:
    """A missed backup in a digest: the item and how long it has had no recovery point."""

    incident: Incident
    since: str
    gap: str


def digest_groups(
    incidents: list[Incident], remedies: Mapping[str, Remediation | None], reader: Reader = ENGLISH_UTC
) -> list[DigestGroup]:
    """Failures grouped by code and vault, the largest group first; ``remedies`` maps a code to its catalog entry."""
    groups: dict[tuple[str, str], list[Incident]] = {}
    for incident in sorted(incidents, key=lambda i: (i.item.casefold(), i.opened_at)):
        groups.setdefault((incident.code.casefold(), incident.vault_name), []).append(incident)
    built = []
    for members in groups.values():
        first = members[0]
        remedy = remedies.get(first.code)
        ours = remedy is not None and first.code not in remedy.codes and first.code.casefold() == remedy.key.casefold()
        words = remedy.text(reader.language) if remedy else None
        built.append(
            DigestGroup(
                words.title if ours and words else first.code,
                not ours,
                first.vault_name,
                remedy,
                tuple(members),
                words,
                tuple(_when(i.opened_at, reader) for i in members),
            )
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
    reader: Reader = ENGLISH_UTC,
) -> EmailMessage:
    """One email for a storm of new incidents: grouped by code and vault (the cause and steps once per group), then
    the missed backups with how long each has gone without a recovery point.

    ``remedies`` maps a code to its catalog entry; ``last_good`` an incident key to its last recovery point.
    """
    _, ngettext = gettext_of(reader.language), ngettext_of(reader.language)
    failures = [i for i in incidents if i.code != MISSED_CODE]
    missed_incidents = sorted((i for i in incidents if i.code == MISSED_CODE), key=lambda i: i.item.casefold())
    moment = now or max((i.last_seen for i in incidents), default=datetime.min)
    missed = []
    for incident in missed_incidents:
        point = (last_good or {}).get(incident.key)
        missed.append(
            MissedRow(incident, _when(point, reader) if point else "", _how_long(moment - point, reader) if point else "")
        )
    vaults = sorted({i.vault_name for i in incidents})
    labels = {failed_label(i.operation, _) for i in failures}
    label = labels.pop() if len(labels) == 1 else _("Backup jobs failed")
    in_vaults = ngettext("in %(num)d vault", "in %(num)d vaults", len(vaults)) % {"num": len(vaults)}
    if not failures:
        subject = _("[Backups missed] %(count)d items without a recent recovery point %(in_vaults)s (digest)") % {
            "count": len(missed),
            "in_vaults": in_vaults,
        }
    else:
        also = ngettext(", %(num)d missed backup", ", %(num)d missed backups", len(missed)) % {"num": len(missed)}
        subject = _("[%(label)s] %(count)d new failures %(in_vaults)s%(also)s (digest)") % {
            "label": label,
            "count": len(failures),
            "in_vaults": in_vaults,
            "also": also if missed else "",
        }
    context: dict[str, object] = {
        "groups": digest_groups(failures, remedies or {}, reader),
        "failures": failures,
        "missed": missed,
        "vaults": vaults,
        "portal_url": portal_url,
    }
    return _addressed(key, subject, "digest", context, sender=sender, recipients=recipients, reader=reader)


def render_missed(
    item: ProtectedItem,
    interval: timedelta,
    *,
    key: str,
    now: datetime,
    sender: str,
    recipients: tuple[str, ...],
    portal_url: str,
    reader: Reader = ENGLISH_UTC,
) -> EmailMessage:
    """No failure, no alert: the item simply has no recovery point as recent as its policy promises."""
    _ = gettext_of(reader.language)
    last = item.last_recovery_point
    age = _how_long(now - last, reader) if last else ""
    if last:
        subject = _("[Backup missed] %(item)s: no recovery point for %(age)s (policy %(policy)s)")
    else:
        subject = _("[Backup missed] %(item)s: no recovery point for ever (policy %(policy)s)")
    subject = subject % {"item": item.item, "age": age, "policy": item.policy_name}
    context: dict[str, object] = {
        "p": item,
        "age": age,
        "last": _when(last, reader),
        "interval": _every(interval, reader),
        "portal_url": f"{portal_url}/#@/resource{item.vault_id}/backupItems",
        "vault_name": parse_vault_id(item.vault_id)["vault_name"],
    }
    return _addressed(key, subject, "missed", context, sender=sender, recipients=recipients, reader=reader)


@dataclass(frozen=True)
class Sample:
    """A failure email in three lines, shown below a test email's divider."""

    subject: str
    cause: str
    first_step: str


def render_test(
    proved: list[tuple[str, str]],
    sample: Sample,
    *,
    key: str,
    now: datetime,
    sender: str,
    recipients: tuple[str, ...],
    reader: Reader = ENGLISH_UTC,
) -> EmailMessage:
    """The test email: "TEST — nothing has failed" first, its own look (no failure colours), the path it proved
    (``proved``: mailer, sender, recipients, settings), and a sample failure below a divider."""
    _ = gettext_of(reader.language)
    context: dict[str, object] = {"proved": proved, "sample": sample, "sent": _when(now, reader)}
    subject = _("[backup-events TEST] nothing has failed")
    return _addressed(key, subject, "test", context, sender=sender, recipients=recipients, reader=reader)


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
    reader: Reader = ENGLISH_UTC,
) -> EmailMessage:
    """Reminders due at once for many incidents, as one email: the longest without a good backup first.

    ``last_good`` maps an incident key to its last good recovery point, ``told`` to the code its first email showed.
    """
    _ = gettext_of(reader.language)
    rows = []
    for incident in incidents:
        point = last_good.get(incident.key)
        known = point is not None and point <= now
        rows.append(
            ReminderRow(
                incident=incident,
                code=told.get(incident.key) or ToldCode(incident.code, True, ""),
                missed=incident.code == MISSED_CODE,
                opened=_when(incident.opened_at, reader),
                last_good=_when(point, reader) if known and point else "",
                gap=_how_long(now - point, reader) if known and point else "",
            )
        )
    worst_first = sorted(
        rows, key=lambda r: (last_good.get(r.incident.key) or datetime.max.replace(tzinfo=now.tzinfo), r.incident.item.casefold())
    )
    missed = sum(r.missed for r in rows)
    failing = len(rows) - missed
    parts = [_("%(num)d still failing") % {"num": failing}] if failing else []
    parts += [_("%(num)d still missed") % {"num": missed}] if missed else []
    both = _("%(failing)s, %(missed)s") % {"failing": parts[0], "missed": parts[-1]} if len(parts) == 2 else "".join(parts)
    subject = _("[Backups still failing] %(parts)s (reminder digest)") % {"parts": both}
    context: dict[str, object] = {"rows": worst_first, "failing": failing, "missed": missed, "portal_url": portal_url}
    return _addressed(key, subject, "reminders", context, sender=sender, recipients=recipients, reader=reader)


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
    reader: Reader = ENGLISH_UTC,
) -> EmailMessage:
    """What the monitor cannot see (``kind`` opened or reminder), or that it can see it again (recovered).

    Its words are in the reader's language, its times in the reader's zone.

    Seen again after longer than the polls' ``lookback``, the jobs that started in the first part of the blind stretch
    were never read and never will be: the email gives that stretch.
    """
    _ = gettext_of(reader.language)
    recovered = kind == RECOVERED
    until = incident.closed_at or now
    unseen = _when(until - lookback, reader) if lookback is not None and until - incident.opened_at > lookback else ""
    since = _when(incident.opened_at, reader)
    blind_for = _how_long((incident.closed_at or now) - incident.opened_at, reader)
    cause = _(spot.cause.value)
    shown = told_name(spot.name, _)
    name = {"name": shown}
    what = {
        Scope.VAULT: _("vault %(name)s") % name,
        Scope.EVERY_VAULT: _("the watched vaults"),
        Scope.SUBSCRIPTION: _("the vaults of %(name)s") % name,
    }[spot.scope]
    meaning = {
        Scope.VAULT: _("Failed backups in vault %(name)s are not being told while it cannot be read.") % name,
        Scope.EVERY_VAULT: _("No failed backup in any vault is being told while nothing can be read."),
        Scope.SUBSCRIPTION: _("No vault of %(name)s is watched: discovery found none there.") % name,
    }[spot.scope]
    words = {**name, "blind_for": blind_for, "cause": cause, "since": since}
    if recovered:
        label, subject = _("Can see again"), _("[Can see again] %(name)s: read again after %(blind_for)s blind") % words
    elif kind == REMINDER:
        label, subject = _("Still blind"), _("[Still blind] %(name)s: cannot be read for %(blind_for)s (%(cause)s)") % words
    else:
        label, subject = _("Blind spot"), _("[Blind spot] %(name)s: cannot be read since %(since)s (%(cause)s)") % words
    target = spot.target if spot.scope is Scope.VAULT else f"/subscriptions/{spot.target}" if spot.target else ""
    context: dict[str, object] = {
        "i": incident,
        "name": shown,
        "label": label,
        "recovered": recovered,
        "since": since,
        "closed": _when(incident.closed_at, reader),
        "last_seen": _when(incident.last_seen, reader),
        "blind_for": blind_for,
        "cause": cause,
        "what": what,
        "meaning": meaning,
        "error": told_error(spot.error, _),
        "fix": fix_for(spot.cause, spot.scope, target, _),
        "portal_url": f"{portal_url}/#@/resource{target}/users" if target else "",
        "portal_label": _("Access control (IAM) of %(name)s in the portal") % name,
        "unseen": unseen,
        "lookback": _how_long(lookback, reader) if lookback is not None else "",
    }
    return _addressed(key, subject, "blind", context, sender=sender, recipients=recipients, reader=reader)


def _percent(rate: float | None) -> str:
    """99.6 reads "99 %", never "100 %": only a perfect day is 100."""
    return "—" if rate is None else "100 %" if rate >= 100 else f"{int(rate)} %"


def render_summary(
    summary: Summary,
    *,
    key: str,
    sender: str,
    recipients: tuple[str, ...],
    portal_url: str,
    reader: Reader = ENGLISH_UTC,
    remedies: Mapping[str, Remediation | None] | None = None,
) -> EmailMessage:
    """The daily summary of one recipient group: the estate at a glance, bars in HTML and CSS only; its words in the
    reader's language, its day and times in the reader's zone. ``remedies`` maps a code to its catalog entry (the
    titles of the top codes in the reader's language)."""
    _, ngettext = gettext_of(reader.language), ngettext_of(reader.language)

    def local(moment: datetime | None) -> str:
        return _when(moment, reader)

    def how_long(value: timedelta | None) -> str:
        return _how_long(value, reader)

    def item_of(incident: Incident) -> str:
        """An incident's item as the reader reads it ("every watched vault" in their language)."""
        return told_name(incident.item, _) if incident.code == BLIND_CODE else incident.item

    def title_of(code: str, title: str) -> str:
        """An incident's title as the reader reads it: a blind spot's cause, or the catalog entry's title."""
        if code == BLIND_CODE:
            return _(title)
        remedy = (remedies or {}).get(code)
        return remedy.text(reader.language).title if remedy and reader.language != "en" else title

    day = i18n.format_day(summary.until, reader.language, reader.zone)
    counts = [
        (len(summary.failing), ngettext("%(num)d failing", "%(num)d failing", len(summary.failing))),
        (len(summary.missed), ngettext("%(num)d missed", "%(num)d missed", len(summary.missed))),
        (len(summary.blind), ngettext("%(num)d blind spot", "%(num)d blind spots", len(summary.blind))),
        (len(summary.restores), ngettext("%(num)d failed restore", "%(num)d failed restores", len(summary.restores))),
    ]
    parts = [what % {"num": n} for n, what in counts if n]
    unread = sum(1 for v in summary.vaults if v.unreadable_runs)
    if not parts and unread:
        parts = [ngettext("%(num)d vault not always readable", "%(num)d vaults not always readable", unread) % {"num": unread}]
    if not summary.polled:
        parts.append(_("no run recorded"))
    if parts:
        headline = _(", ").join(parts)
    elif summary.recovered:
        headline = _("all fine now (%(num)d recovered)") % {"num": len(summary.recovered)}
    else:
        headline = _("all fine")
    jobs = (
        ngettext("%(rate)s of %(num)d job succeeded", "%(rate)s of %(num)d jobs succeeded", summary.jobs)
        % {"rate": _percent(summary.success_rate), "num": summary.jobs}
        if summary.jobs
        else _("no finished jobs")
    )
    subject = _("[Backup summary] %(day)s: %(headline)s · %(jobs)s") % {"day": day, "headline": headline, "jobs": jobs}
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
        "how_long": how_long,
        "title_of": title_of,
        "item_of": item_of,
        "vaults": vaults,
        "portal_url": portal_url,
    }
    return _addressed(key, subject, "summary", context, sender=sender, recipients=recipients, reader=reader)
