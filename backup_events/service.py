"""The imperative shell: run a poll, tell each failed job once, and report what happened.

Everything it talks to comes in through ``Services`` (ports), so it never names an SDK.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from backup_events import decide, render
from backup_events.alerts import BackupAlert, error_code, job_from_alert, parse_alert
from backup_events.errors import DeliveryError, MalformedInputError, RunFailedError, SourceError
from backup_events.model import BackupJob, EmailMessage
from backup_events.normalise import normalise_job
from backup_events.ports import JobSource, Ledger, Mailer
from backup_events.remediation import Catalog

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Services:
    """What a run needs, built once by ``bootstrap``."""

    source: JobSource
    ledger: Ledger
    mailer: Mailer
    catalog: Catalog
    clock: Callable[[], datetime]
    sender: str
    recipients: tuple[str, ...]
    portal_url: str
    lookback: timedelta


@dataclass
class RunReport:
    """What one poll saw and did; the CLI prints it, tests assert on it."""

    vaults: int = 0
    vaults_skipped: int = 0
    jobs_seen: int = 0
    failures: int = 0
    emails_sent: int = 0
    duplicates: int = 0
    not_told: int = 0
    problems: list[str] = field(default_factory=list)
    mail_paused: bool = False

    @property
    def untold(self) -> int:
        """Failures neither told now nor before: the next run retries them."""
        return self.failures - self.emails_sent - self.duplicates

    def rows(self) -> list[tuple[str, int]]:
        """The summary table, in reading order."""
        return [
            ("vaults read", self.vaults - self.vaults_skipped),
            ("vaults skipped", self.vaults_skipped),
            ("jobs seen", self.jobs_seen),
            ("failures", self.failures),
            ("emails written", self.emails_sent),
            ("duplicates skipped", self.duplicates),
            ("left for next run", self.untold),
        ]


def details_or_summary(services: Services, summary: BackupJob) -> BackupJob:
    """The job's details (for the phase); the list item when details can't be had this time."""
    try:
        return normalise_job(services.source.job_details(summary.job_id))
    except (SourceError, MalformedInputError) as exc:
        log.warning("Details of job %s unavailable (%s); telling it from the list item", summary.job_name, exc)
        return summary


def deliver(services: Services, key: str, message: EmailMessage, summary: Mapping[str, str], report: RunReport) -> None:
    """Claim ``key``, send, and record; a failed send gives the claim back so the next attempt retries."""
    if not services.ledger.claim(key, summary=summary):
        report.duplicates += 1
        return
    try:
        delivery_id = services.mailer.send(message)
    except DeliveryError as exc:
        services.ledger.release(key)
        report.problems.append(f"email for {summary.get('item', key)} not sent: {exc}")
        if exc.retry_after is not None:
            # The mail service is throttling us (ACS: 5/min, 10/h on Azure-managed domains):
            # more sends now would only fail; the rest waits for the next run.
            report.mail_paused = True
        return
    services.ledger.mark_sent(key, delivery_id=delivery_id)
    report.emails_sent += 1
    log.info("Told %s as %s", summary.get("item", key), delivery_id)


def tell(
    services: Services, job: BackupJob, report: RunReport, *, detailed: bool = False, extra_codes: tuple[str, ...] = ()
) -> None:
    """Tell one failed job unless it was told already; a failed send leaves it for the next run.

    A job from a listing (``detailed`` False) is read again in full first, for its phase.
    """
    key = decide.ledger_key(job)
    if services.ledger.is_told(key):
        report.duplicates += 1
        return
    if report.mail_paused:
        return
    job = job if detailed else details_or_summary(services, job)
    diagnosis = services.catalog.diagnose(job.errors, extra_codes=extra_codes)
    message = render.render_failure(
        job,
        diagnosis,
        key=key,
        sender=services.sender,
        recipients=services.recipients,
        portal_url=services.portal_url,
    )
    summary = {"item": job.item_name, "code": render.headline_code(job, diagnosis), "jobId": job.job_id}
    deliver(services, key, message, summary, report)


def handle_job(services: Services, raw: Mapping[str, Any], report: RunReport) -> None:
    """Normalise, decide and tell one job from a listing."""
    report.jobs_seen += 1
    try:
        job = normalise_job(raw)
    except MalformedInputError as exc:
        report.problems.append(f"unreadable job {raw.get('id', '(no id)')}: {exc}")
        return
    decision = decide.decide(job)
    if not decision.tell:
        report.not_told += 1
        log.debug("No email for %s: %s", job.job_name, decision.reason)
        return
    report.failures += 1
    tell(services, job, report)


def poll_jobs(services: Services, *, past_due: bool = False) -> RunReport:
    """One run over every vault: each failed job in the window is told once, whatever else fails."""
    if past_due:
        log.warning("Timer is past due: this run's window still overlaps the missed ones")
    until = services.clock()
    since = until - services.lookback
    report = RunReport()
    for vault_id in services.source.vault_ids():
        report.vaults += 1
        try:
            for raw in services.source.jobs(vault_id, since=since, until=until):
                try:
                    handle_job(services, raw, report)
                except Exception as exc:  # one bad job never stops the run; it is retried next run
                    log.exception("Job %s could not be handled", raw.get("id"))
                    report.problems.append(f"job {raw.get('id')}: {type(exc).__name__}: {exc}")
        except SourceError as exc:
            report.vaults_skipped += 1
            report.problems.append(f"vault {vault_id} skipped this run: {exc}")
            log.error("Vault %s skipped this run: %s", vault_id, exc)
    return report


def on_timer(services: Services, *, past_due: bool) -> RunReport:
    """The Timer's work: poll, log the summary, and fail the invocation when anything was left untold."""
    report = poll_jobs(services, past_due=past_due)
    log.info("Poll finished: %s", ", ".join(f"{name} {count}" for name, count in report.rows()))
    if report.untold or report.vaults_skipped or report.problems:
        raise RunFailedError("; ".join(report.problems) or f"{report.untold} failure(s) left for the next run")
    return report


@dataclass(frozen=True)
class EventEnvelope:
    """An Event Grid delivery as the service sees it, whichever schema it came in (no azure.functions types)."""

    id: str
    type: str
    data: Any


def tell_security_alert(services: Services, alert: BackupAlert, report: RunReport) -> None:
    """Security alerts (soft delete disabled, backup data deleted, …) get their own email, keyed on the alert."""
    key = f"alert|{alert.alert_id.casefold()}"
    if services.ledger.is_told(key):
        report.duplicates += 1
        return
    message = render.render_alert(
        alert, key=key, sender=services.sender, recipients=services.recipients, portal_url=services.portal_url
    )
    deliver(services, key, message, {"item": alert.vault_name, "code": alert.rule, "alertId": alert.alert_id}, report)


def handle_alert_event(services: Services, envelope: EventEnvelope) -> str:
    """One Event Grid event carrying a built-in Backup alert; returns what was done, for the log.

    A malformed event is logged and acknowledged (redelivering it cannot help). A transient failure raises, so
    Event Grid redelivers; the ledger makes the redelivery harmless.
    """
    try:
        alert = parse_alert(envelope.data if isinstance(envelope.data, Mapping) else {"schemaId": None})
    except MalformedInputError as exc:
        log.error("Event %s (%s) rejected, not retried: %s", envelope.id, envelope.type, exc)
        return f"rejected: {exc}"
    if alert.resolved:
        log.info("Alert %s resolved: no email (failures are closed by the next good backup)", alert.short_id)
        return "no email: the alert was resolved"
    report = RunReport(failures=1)
    if not alert.is_job_failure:
        tell_security_alert(services, alert, report)
    else:
        assert alert.job_name is not None
        report = tell_alerted_job(services, alert, report)
    if report.problems:
        raise RunFailedError("; ".join(report.problems))
    return "told" if report.emails_sent else "no email: told already"


def tell_alerted_job(services: Services, alert: BackupAlert, report: RunReport) -> RunReport:
    """A job failure from an alert: enriched from the jobs API when it answers, from the alert alone when not."""
    key = decide.ledger_key_of(alert.vault_id, alert.job_name or "")
    if services.ledger.is_told(key):
        report.duplicates += 1
        return report
    code = error_code(alert, services.catalog)
    try:
        job = normalise_job(services.source.job_details(f"{alert.vault_id}/backupJobs/{alert.job_name}"))
    except (SourceError, MalformedInputError) as exc:
        log.warning("Job %s of alert %s unreadable (%s): telling it from the alert", alert.job_name, alert.short_id, exc)
        job = job_from_alert(alert, code=code, note=f"Built from the alert alone: the job's details could not be read ({exc}).")
    tell(services, job, report, detailed=True, extra_codes=(code,) if code else ())
    return report
