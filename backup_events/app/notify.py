"""Sending what incidents are owed: one digest for a storm, else one email each, within the run's budget.

Every email is claimed first (ETag), sent, then settled, so no two instances send the same one, a failed send
is simply owed again at the next run, and a claim left by an instance that died after sending is settled
without sending twice (the mailer is asked whether it already has the message).
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, TypedDict

from backup_events.app import blind, facts, recording
from backup_events.domain.incidents import (
    OPENED,
    RECOVERED,
    REMINDER,
    Incident,
    digest_key,
    emails_due,
    hour_of,
    owing_query,
    unpack_mail,
    was_sending,
)
from backup_events.domain.model import EmailMessage
from backup_events.domain.watch import is_blind
from backup_events.errors import DeliveryError
from backup_events.mail import render

if TYPE_CHECKING:
    from backup_events.app.services import RunReport, Services

log = logging.getLogger(__name__)

_SEND_BATCH = 50  # claims held at once: settled within minutes, well inside the 15-minute lease


class _Addressing(TypedDict):
    key: str
    sender: str
    recipients: tuple[str, ...]
    reader: render.Reader


def reader_of(services: Services, incident: Incident) -> render.Reader:
    """The language and time zone the incident's recipients read (``BACKUP_ROUTES``, else the settings)."""
    return render.Reader(*services.config.reader_of(incident))


def message_for(services: Services, incident: Incident, kind: str) -> EmailMessage:
    """The email of one kind for one incident, rendered now; the key changes with every reopening and reminder."""
    key = f"{incident.key}|{kind}|{incident.opened_at.isoformat()}|{incident.reminders_sent}"
    addressing = _Addressing(
        key=key,
        sender=services.config.sender,
        recipients=services.config.recipients_of(incident),
        reader=reader_of(services, incident),
    )
    if is_blind(incident):  # what the monitor cannot see (app.blind)
        spot, now = blind.spot_of(incident), services.deps.clock()
        lookback, portal_url = services.config.lookback, services.config.portal_url
        return render.render_blind(incident, kind, spot, now=now, portal_url=portal_url, lookback=lookback, **addressing)
    if kind != OPENED:
        return _follow_up(services, incident, kind, addressing)
    if not incident.facts:  # recorded before incidents kept facts: its email was rendered then
        subject, text, html = unpack_mail(incident.mail)
        return EmailMessage(
            subject=render.one_line(subject),
            text=text,
            html=html,
            headers=render.headers_for(key),
            key=key,
            sender=addressing["sender"],
            recipients=addressing["recipients"],
        )
    told = facts.loads(incident.facts)
    if isinstance(told, facts.MissedFacts):
        return render.render_missed(
            told.item, told.interval, now=incident.opened_at, portal_url=services.config.portal_url, **addressing
        )
    if isinstance(told, facts.AlertFacts):
        return render.render_alert(told.alert, portal_url=services.config.portal_url, **addressing)
    diagnosis = services.deps.catalog.diagnose(told.job.errors, extra_codes=told.extra_codes)
    return render.render_failure(
        told.job, diagnosis, portal_url=services.config.portal_url, last_good=told.last_good, unknown=told.unknown, **addressing
    )


def _follow_up(services: Services, incident: Incident, kind: str, addressing: _Addressing) -> EmailMessage:
    """A reminder or recovery notice, with the code as its first email showed it and why a last point is unknown."""
    told = facts.loads(incident.facts) if incident.facts else None
    code = _told(services, incident, addressing["reader"])
    unknown = told.unknown if isinstance(told, facts.FailureFacts) else ""
    return render.render_incident(
        incident,
        kind,
        now=services.deps.clock(),
        portal_url=services.config.portal_url,
        last_good=last_good_of(incident),
        told=code,
        unknown=unknown,
        remedy=services.deps.catalog.entry(incident.code),
        **addressing,
    )


def _told(services: Services, incident: Incident, reader: render.Reader) -> render.ToldCode | None:
    """The code as the incident's first email showed it (Azure's, or our label); None without a failure's facts."""
    told = facts.loads(incident.facts) if incident.facts else None
    if not isinstance(told, facts.FailureFacts):
        return None
    diagnosis = services.deps.catalog.diagnose(told.job.errors, extra_codes=told.extra_codes)
    return render.told_code(told.job, diagnosis, reader)


@dataclass
class MailBudget:
    """How many emails this run may still send, and whether the mail service told us to stop for now."""

    left: int
    paused: bool = False

    @property
    def spent(self) -> bool:
        return self.paused or self.left <= 0


def last_good_of(incident: Incident) -> datetime | None:
    """The item's last good recovery point when the incident was recorded, from its facts (None when unknown)."""
    if not incident.facts:
        return None
    told = facts.loads(incident.facts)
    if isinstance(told, facts.FailureFacts):
        return told.last_good
    return told.item.last_recovery_point if isinstance(told, facts.MissedFacts) else None


MAX_RECIPIENTS = 50  # per email, as ACS takes them (shared/reference/email-and-tables.md)


def batches(message: EmailMessage) -> list[EmailMessage]:
    """The message as the mail service takes it: at most ``MAX_RECIPIENTS`` each, each batch with a key of its own."""
    if len(message.recipients) <= MAX_RECIPIENTS:
        return [message]
    return [
        dataclasses.replace(
            message,
            key=f"{message.key}|to{start // MAX_RECIPIENTS}",
            recipients=message.recipients[start : start + MAX_RECIPIENTS],
        )
        for start in range(0, len(message.recipients), MAX_RECIPIENTS)
    ]


def send(services: Services, message: EmailMessage, report: RunReport, budget: MailBudget) -> bool:
    """Hand one email to the mailer, in batches of recipients; a failure is reported and, when throttled, pauses
    mail for this run. A batch the mailer already has (an earlier attempt got part-way) is not sent again."""
    parts = batches(message)
    delivery_ids = []
    for part in parts:
        try:
            if len(parts) > 1 and services.deps.mailer.delivered(part):
                continue
            delivery_ids.append(services.deps.mailer.send(part))
        except Exception as exc:  # whatever breaks one send is that message's problem alone: it is released, owed again
            report.problems.append(f"email {message.subject!r} not sent: {exc}")
            if not isinstance(exc, DeliveryError):
                log.exception("Mailer failed unexpectedly on %r", message.subject)
            elif exc.retry_after is not None:
                # The mail service is throttling us (ACS: 5/min, 10/h on Azure-managed domains):
                # more sends now would only fail; the rest waits for the next run.
                budget.paused = True
            return False
    log.info("Sent %s as %s", message.subject, ", ".join(delivery_ids) or "already delivered")
    report.emails_sent += 1
    return True


def send_many(services: Services, wanted: list[tuple[Incident, str]], report: RunReport, budget: MailBudget) -> None:
    """Claim a batch of owed emails, send each, then settle them all: two storage round trips a batch."""
    outcomes: list[tuple[Incident, str, bool]] = []
    claims = recording.claim_emails(services.deps.incidents, wanted, services.deps.clock())
    for (incident, kind), claimed in zip(wanted, claims, strict=True):
        if claimed is None:
            continue  # another instance is sending it
        if budget.paused:
            outcomes.append((claimed, kind, False))
            report.deferred += 1
            continue
        try:
            message = message_for(services, claimed, kind)
        except Exception as exc:  # an incident whose email cannot be written: the others still go out
            log.exception("Email %s of incident %s could not be written", kind, claimed.key)
            report.problems.append(f"email {kind} of {claimed.item} could not be written: {exc}")
            outcomes.append((claimed, kind, False))
            continue
        if was_sending(incident, kind) and services.deps.mailer.delivered(message):
            # An instance sent this and died before recording it: record it now instead of sending it twice.
            log.warning("Email %r was sent by an instance that stopped before recording it", message.subject)
            outcomes.append((claimed, kind, True))
            continue
        ok = send(services, message, report, budget)
        outcomes.append((claimed, kind, ok))
        report.reminders_sent += ok and kind == REMINDER
        report.recovery_emails += ok and kind == RECOVERED
    recording.settle_emails(services.deps.incidents, outcomes)


def send_digest(services: Services, incidents: list[Incident], kind: str, report: RunReport, budget: MailBudget) -> None:
    """A storm of first emails (or of reminders) becomes one email listing every incident: claimed, sent and settled
    as one unit.

    Each member is claimed carrying the digest's key, so if this instance dies after sending, the instance that takes
    the claims over finds the same digest by its key and asks the mailer before sending it again.
    """
    key = digest_key(incidents, kind)
    now = services.deps.clock()
    claims = recording.claim_emails(services.deps.incidents, [(i, kind) for i in incidents], now, digest=key)
    claimed = [c for c in claims if c is not None]
    if not claimed:
        return
    if len(claimed) < len(incidents):  # another instance took some: the unit is broken, tell these next run
        recording.settle_emails(services.deps.incidents, [(c, kind, False) for c in claimed])
        report.deferred += len(claimed)
        return
    recipients = services.config.recipients_of(claimed[0])
    message = digest_message(services, claimed, kind, key=key, recipients=recipients, reader=reader_of(services, claimed[0]))
    if any(was_sending(i, kind) for i in incidents) and services.deps.mailer.delivered(message):
        log.warning("Digest %s was sent by an instance that stopped before recording it", key)
        recording.settle_emails(services.deps.incidents, [(incident, kind, True) for incident in claimed])
        return
    ok = send(services, message, report, budget)
    recording.settle_emails(services.deps.incidents, [(incident, kind, ok) for incident in claimed])
    report.digests += ok
    report.reminders_sent += len(claimed) if ok and kind == REMINDER else 0


def digest_message(
    services: Services,
    incidents: list[Incident],
    kind: str,
    *,
    key: str,
    recipients: tuple[str, ...],
    reader: render.Reader = render.ENGLISH_UTC,
) -> EmailMessage:
    """The digest of first emails, or of reminders, for these incidents, rendered now, as ``reader`` reads."""
    addressing = _Addressing(key=key, sender=services.config.sender, recipients=recipients, reader=reader)
    last_good = {i.key: last_good_of(i) for i in incidents}
    now, portal_url = services.deps.clock(), services.config.portal_url
    if kind == REMINDER:
        told = {i.key: code for i in incidents if (code := _told(services, i, reader)) is not None}
        return render.render_reminder_digest(
            incidents, now=now, portal_url=portal_url, last_good=last_good, told=told, **addressing
        )
    remedies = {i.code: services.deps.catalog.entry(i.code) for i in incidents}
    return render.render_digest(incidents, now=now, portal_url=portal_url, remedies=remedies, last_good=last_good, **addressing)


def notify(services: Services, report: RunReport, *, keys: list[str] | None = None) -> None:
    """Send what incidents are owed: one digest for a storm, else one email each, within the run's and the hour's budget.

    A storm is more than ``digest_threshold`` first emails, or reminders, due at once for one group of recipients.
    With ``keys`` (the alert path): only those incidents, and at most ``digest_threshold`` emails an hour; past that a
    burst of alerts is a storm, and its emails are left to the next Timer run, which folds them into a digest.
    """
    now = services.deps.clock()
    policy = services.config.policy
    if keys is None:
        candidates = services.deps.incidents.owing_email(owing_query(now, policy))
    else:
        candidates = [i for k in keys if (i := services.deps.incidents.incident(k)) is not None]
    due = [(incident, kind) for incident in candidates for kind in emails_due(incident, now, policy)]
    by_digest: dict[tuple[str, str], list[Incident]] = {}  # digests a dead instance left claimed: resumed whole
    by_recipients: dict[tuple[str, tuple[str, ...], tuple[str, str]], list[Incident]] = {}
    for incident, kind in due:
        if kind in _FOLDED and incident.digest and was_sending(incident, kind):
            by_digest.setdefault((kind, incident.digest), []).append(incident)
        elif kind in _FOLDED and not is_blind(incident):  # a blind spot is never folded into a digest of failures
            group = (kind, services.config.recipients_of(incident), services.config.reader_of(incident))
            by_recipients.setdefault(group, []).append(incident)
    digests = [(kind, members) for (kind, _), members in by_digest.items()]
    singles: dict[str, list[tuple[Incident, str]]] = {kind: [] for kind in _FOLDED}
    for (kind, _, _), members in by_recipients.items():
        if len(members) <= policy.digest_threshold:
            singles[kind] += [(i, kind) for i in members]
        else:
            digests.append((kind, members))
    ordered = singles[OPENED] + singles[REMINDER] + [(i, k) for i, k in due if k not in _FOLDED or is_blind(i)]
    wanted = min(policy.emails_per_run, len(digests) + len(ordered))
    budget = MailBudget(_granted(services, now, wanted, alert_path=keys is not None))
    for kind, members in digests:
        if not budget.spent:
            send_digest(services, members, kind, report, budget)
            budget.left -= 1
        else:
            report.deferred += len(members)
    allowed = 0 if budget.spent else budget.left
    chosen, report.deferred = ordered[:allowed], report.deferred + len(ordered) - len(ordered[:allowed])
    for start in range(0, len(chosen), _SEND_BATCH):
        send_many(services, chosen[start : start + _SEND_BATCH], report, budget)


_FOLDED = (OPENED, REMINDER)  # the kinds a storm folds into one digest; recovery notices always go one by one


def _granted(services: Services, now: datetime, wanted: int, *, alert_path: bool) -> int:
    """How many of ``wanted`` emails the hour's budget, shared by every instance and the alert path, allows now.

    The alert path may use the hour's budget only up to the digest threshold: beyond it, alerts are a storm.
    """
    policy = services.config.policy
    limit = policy.emails_per_hour
    if alert_path:
        limit = policy.digest_threshold if limit is None else min(limit, policy.digest_threshold)
    if limit is None or wanted == 0:
        return wanted
    return services.deps.incidents.spend_mail(hour_of(now), wanted, limit)
