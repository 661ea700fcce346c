"""The daily summary's use case: per recipient group, the estate at a glance, from what the store already keeps.

The summary timer fires every 15 minutes; ``on_timer`` sends only in the quarter hour of ``BACKUP_SUMMARY_SCHEDULE`` in
``BACKUP_TIMEZONE`` (so the time follows daylight saving), and a summary the mail service already has is not sent
again. A failed send fails the invocation, so the Functions host records it (and the watchdog's alert rule sees it).
"""

from __future__ import annotations

import hashlib
import logging
import zoneinfo
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from backup_events.app.notify import last_good_of
from backup_events.app.services import Services
from backup_events.domain.incidents import Incident, hour_of
from backup_events.domain.routing import reader_for
from backup_events.domain.summary import summarise
from backup_events.domain.watch import VaultRun
from backup_events.errors import RunFailedError
from backup_events.mail import render

log = logging.getLogger(__name__)

WINDOW = timedelta(hours=24)
QUARTER = timedelta(minutes=15)


@dataclass
class SummaryReport:
    """What one summary run did."""

    groups: int = 0
    sent: int = 0
    already: int = 0
    problems: list[str] = field(default_factory=list)
    subjects: list[str] = field(default_factory=list)


def is_due(services: Services, now: datetime) -> bool:
    """Is ``now`` in the quarter hour the summary is scheduled for, in the configured time zone?"""
    if services.config.summary_time is None:
        return False
    local = now.astimezone(zoneinfo.ZoneInfo(services.config.zone))
    hour, minute = (int(part) for part in services.config.summary_time.split(":"))
    scheduled = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    return scheduled <= local < scheduled + QUARTER


Group = tuple[list[Incident], list[VaultRun]]


def groups(services: Services, incidents: list[Incident], runs: list[VaultRun]) -> dict[tuple[str, ...], Group]:
    """Who gets which part: an incident goes to its recipients, a vault's counts to the vault's. With nothing at all
    recorded, the default recipients get one all the same: an estate that was not polled must say so."""
    found: dict[tuple[str, ...], Group] = {}
    for incident in incidents:
        found.setdefault(services.config.recipients_of(incident), ([], []))[0].append(incident)
    for run in runs:
        found.setdefault(services.config.recipients_for(run.vault_id), ([], []))[1].append(run)
    return found or {services.config.recipients: ([], [])}


def reader_of_group(services: Services, incidents: list[Incident], runs: list[VaultRun]) -> render.Reader:
    """The group's language and time zone: what its first incident's (else first vault's) routes name, else the
    settings' defaults (a group's addresses come from the same rules, so they read alike)."""
    config = services.config
    vault_id = incidents[0].vault_id if incidents else runs[0].vault_id if runs else ""
    return render.Reader(*reader_for(vault_id, config.routes, config.language, config.zone))


def send_summary(services: Services) -> SummaryReport:
    """Write and send the summary of the last 24 hours to every recipient group, now."""
    now = services.deps.clock()
    incidents = services.deps.incidents.incidents_since(now - WINDOW)
    runs = services.deps.incidents.runs_since(now - WINDOW)
    report = SummaryReport()
    for recipients, (mine, counts) in groups(services, incidents, runs).items():
        report.groups += 1
        summary = summarise(mine, counts, now=now, window=WINDOW, last_good=last_good_of, polled=bool(runs))
        day = now.astimezone(zoneinfo.ZoneInfo(services.config.zone)).date().isoformat()
        key = f"summary|{day}|{hashlib.sha256(','.join(recipients).encode()).hexdigest()[:16]}"
        message = render.render_summary(
            summary,
            key=key,
            sender=services.config.sender,
            recipients=recipients,
            portal_url=services.config.portal_url,
            reader=reader_of_group(services, mine, counts),
            remedies={i.code: services.deps.catalog.entry(i.code) for i in mine},
        )
        if services.deps.mailer.delivered(message):
            report.already += 1
            continue
        try:
            services.deps.mailer.send(message)
        except Exception as exc:  # one group's summary failing never stops the others'; the run fails at the end
            log.exception("Summary %r not sent", message.subject)
            report.problems.append(f"summary {message.subject!r} not sent: {exc}")
            continue
        report.sent += 1
        report.subjects.append(message.subject)
        if services.config.policy.emails_per_hour is not None:  # counted, never held back: it is one a day
            services.deps.incidents.spend_mail(hour_of(now), 1, services.config.policy.emails_per_hour)
    return report


def on_timer(services: Services, *, past_due: bool = False) -> SummaryReport | None:
    """The summary timer's work: send when due; fail the invocation when a summary could not be sent."""
    now = services.deps.clock()
    if not is_due(services, now):
        return None
    if past_due:
        log.warning("Summary timer is past due; sending the summary now")
    report = send_summary(services)
    log.info("Summary: %d group(s), %d sent, %d sent before", report.groups, report.sent, report.already)
    if report.problems:
        raise RunFailedError("; ".join(report.problems))
    return report
