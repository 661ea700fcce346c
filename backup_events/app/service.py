"""The imperative shell: a poll or an alert in, incidents recorded, the emails they are owed sent.

Everything it talks to comes in through ``Services`` (ports), so it never names an SDK. A failed job is
recorded into its incident (one protected item + one error code); emails follow from incident state, so a
failed send is simply still owed at the next run, and no instance sends what another already claimed.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from backup_events.app import facts, recording
from backup_events.app.notify import notify
from backup_events.domain import decide
from backup_events.domain.exposure import MISSED_CODE, ProtectedItem, backup_interval, missed_backup, missed_key
from backup_events.domain.identity import DATABASES, headline_code, incident_key, item_key
from backup_events.domain.ids import parse_vault_id, same_resource
from backup_events.domain.incidents import Incident, Policy, Recorded
from backup_events.domain.model import BackupJob, Workload
from backup_events.domain.operations import OperationKind, is_ongoing
from backup_events.domain.remediation import Catalog
from backup_events.domain.routing import Route, recipients_for
from backup_events.errors import MalformedInputError, RunFailedError, SourceError
from backup_events.ports import IncidentStore, JobSource, Mailer
from backup_events.wire.alerts import BackupAlert, error_code, job_from_alert, parse_alert
from backup_events.wire.items import protected_item_of
from backup_events.wire.jobs import normalise_job, parse_time

log = logging.getLogger(__name__)

SUCCESS_STATUSES = ("Completed", "CompletedWithWarnings")
_EXPIRE_PER_RUN = 500


@dataclass(frozen=True)
class Services:
    """What a run needs, built once by ``bootstrap``."""

    source: JobSource
    incidents: IncidentStore
    mailer: Mailer
    catalog: Catalog
    clock: Callable[[], datetime]
    sender: str
    recipients: tuple[str, ...]
    portal_url: str
    lookback: timedelta
    policy: Policy = Policy()
    retention: timedelta = timedelta(days=30)
    vault_concurrency: int = 4
    routes: tuple[Route, ...] = ()
    missed_grace: timedelta | None = timedelta(hours=6)
    route_tag: str = ""
    tell_operations: frozenset[OperationKind] = frozenset(OperationKind)

    def recipients_for(self, vault_id: str) -> tuple[str, ...]:
        """Who hears about this vault."""
        return recipients_for(vault_id, self.routes, self.recipients)

    def recipients_of(self, incident: Incident) -> tuple[str, ...]:
        """Who hears about this incident: the affected resource's routing tag, else the vault's routes."""
        return tuple(incident.route_to.split(",")) if incident.route_to else self.recipients_for(incident.vault_id)


@dataclass
class RunReport:
    """What one poll saw and did; the CLI prints it, tests assert on it."""

    vaults: int = 0
    vaults_skipped: int = 0
    jobs_seen: int = 0
    failures: int = 0
    opened: int = 0
    repeats: int = 0
    duplicates: int = 0
    recovered: int = 0
    missed: int = 0
    emails_sent: int = 0
    reminders_sent: int = 0
    recovery_emails: int = 0
    digests: int = 0
    deferred: int = 0
    expired: int = 0
    problems: list[str] = field(default_factory=list)
    mail_paused: bool = False

    def add(self, other: RunReport) -> None:
        """Fold another report (one vault's) into this one."""
        for name, value in other.__dict__.items():
            if isinstance(value, bool):
                setattr(self, name, getattr(self, name) or value)
            elif isinstance(value, int):
                setattr(self, name, getattr(self, name) + value)
        self.problems.extend(other.problems)

    def rows(self) -> list[tuple[str, int]]:
        """The summary table, in reading order."""
        return [
            ("vaults read", self.vaults - self.vaults_skipped),
            ("vaults skipped", self.vaults_skipped),
            ("jobs seen", self.jobs_seen),
            ("failures", self.failures),
            ("new incidents", self.opened),
            ("repeats (counted)", self.repeats),
            ("duplicates skipped", self.duplicates),
            ("recovered", self.recovered),
            ("missed backups", self.missed),
            ("emails written", self.emails_sent),
            ("  of which reminders", self.reminders_sent),
            ("  of which recovered", self.recovery_emails),
            ("  of which digests", self.digests),
            ("left for next run", self.deferred),
        ]


# --- recording failures --------------------------------------------------------------------------------


def details_or_summary(services: Services, summary: BackupJob) -> BackupJob:
    """The job's details (for the phase); the list item when details can't be had this time."""
    try:
        return normalise_job(services.source.job_details(summary.job_id))
    except (SourceError, MalformedInputError) as exc:
        log.warning("Details of job %s unavailable (%s); telling it from the list item", summary.job_name, exc)
        return summary


def prepare_failure(
    services: Services,
    job: BackupJob,
    report: RunReport,
    *,
    detailed: bool = False,
    extra_codes: tuple[str, ...] = (),
    items: Mapping[str, ProtectedItem] | None = None,
    recorded: set[str] | None = None,
    tag_routes: dict[str, str] | None = None,
) -> tuple[str, Incident] | None:
    """The ledger key and incident of one failed job, ready to record; None for a job recorded before.

    A job from a listing (``detailed`` False) is read again in full first, for its phase. The email it
    deserves is rendered now, while the job is at hand, and kept with the incident until it is sent.
    """
    key = decide.ledger_key(job)
    if key in recorded if recorded is not None else services.incidents.incident_of_job(key) is not None:
        report.duplicates += 1
        return None
    job = job if detailed else details_or_summary(services, job)
    job = named_as_protected(job, items or {})
    diagnosis = services.catalog.diagnose(job.errors, extra_codes=extra_codes)
    code = headline_code(job, diagnosis)
    when = job.end or job.start or services.clock()
    protected = (items or {}).get(item_key(job.vault_id, job.item_name))
    # A failed restore (or any one-off operation) is told once per job: no reminders, no recovery, and a good
    # backup does not close it. It is born closed, owing only its first email.
    ongoing = is_ongoing(job.operation)
    key_of_incident = incident_key(job.vault_id, job.item_name, code, job="" if ongoing else job.job_name)
    incident = Incident(
        key=key_of_incident,
        vault_id=job.vault_id,
        vault_name=job.vault_name,
        item=job.item_name,
        workload=job.workload.value,
        code=code,
        title=diagnosis.remediation.title if diagnosis.remediation else (job.error.message if job.error else "")[:300],
        docs_url=diagnosis.remediation.docs_url if diagnosis.remediation else "",
        opened_at=when,
        last_seen=when,
        state="open" if ongoing else "closed",
        closed_at=None if ongoing else when,
        last_job=job.job_name,
        operation=job.operation,
        route_to=tag_route(services, protected, {} if tag_routes is None else tag_routes),
        facts=facts.dumps(facts.FailureFacts(job, protected.last_recovery_point if protected else None, extra_codes)),
    )
    return key, incident


def named_as_protected(job: BackupJob, items: Mapping[str, ProtectedItem]) -> BackupJob:
    """A database job that names no host (``msdb``: configure, delete and some restore jobs do) takes the name of
    the vault's one protected database of that name, so it meets the item's incident, recovery point and route."""
    if job.workload not in DATABASES or " / " in job.item_name:
        return job
    suffix = f" / {job.item_name.casefold()}"
    matches = {i.item for i in items.values() if i.workload is job.workload and i.item.casefold().endswith(suffix)}
    return replace(job, item_name=matches.pop()) if len(matches) == 1 else job


def tag_route(services: Services, item: ProtectedItem | None, cache: dict[str, str]) -> str:
    """Addresses in the ``BACKUP_ROUTE_TAG`` tag of the item's resource (the VM, the storage account), if any.

    Read once per resource and run; a resource whose tags can't be read is routed as if untagged.
    """
    if not services.route_tag or item is None or not item.source_resource_id:
        return ""
    resource = item.source_resource_id.casefold()
    if resource not in cache:
        try:
            tags = services.source.resource_tags(item.source_resource_id)
        except SourceError as exc:
            log.warning("Tags of %s unreadable, routing by vault: %s", item.source_resource_id, exc)
            tags = {}
        value = next((v for k, v in tags.items() if k.casefold() == services.route_tag.casefold()), "")
        cache[resource] = ",".join(a for a in re.split(r"[,;\s]+", value) if "@" in a)
    return cache[resource]


def count(report: RunReport, outcome: Recorded, incident: Incident) -> None:
    """Add one recording's outcome to the report."""
    if outcome is Recorded.DUPLICATE:
        report.duplicates += 1
    elif outcome is Recorded.REPEAT:
        report.repeats += 1
    else:
        report.opened += 1
        log.info("Incident opened: %s on %s (%s)", incident.code, incident.item, incident.vault_name)


def record(services: Services, job: BackupJob, report: RunReport, **options: Any) -> str | None:
    """Prepare and record one failed job (the alert path); returns its incident's key, None if seen before."""
    prepared = prepare_failure(services, job, report, **options)
    if prepared is None:
        return None
    count(report, recording.record_failure(services.incidents, *prepared), prepared[1])
    return prepared[1].key


def handle_job(
    services: Services,
    raw: Mapping[str, Any],
    report: RunReport,
    *,
    items: Mapping[str, ProtectedItem] | None = None,
    recorded: set[str] | None = None,
    tag_routes: dict[str, str] | None = None,
) -> tuple[str, Incident] | None:
    """Normalise, decide and prepare one job from a listing."""
    report.jobs_seen += 1
    try:
        job = normalise_job(raw)
    except MalformedInputError as exc:
        report.problems.append(f"unreadable job {raw.get('id', '(no id)')}: {exc}")
        return None
    decision = decide.decide(job, services.tell_operations)
    if not decision.tell:
        log.debug("No email for %s: %s", job.job_name, decision.reason)
        return None
    report.failures += 1
    prepared = prepare_failure(services, job, report, items=items, recorded=recorded, tag_routes=tag_routes)
    if prepared is not None and recorded is not None:
        recorded.add(prepared[0])  # a listing can repeat a job across pages and statuses
    return prepared


def open_by_item(services: Services, vault_id: str) -> dict[str, list[Incident]]:
    """The vault's open incidents by item key, read once per run and kept current as incidents close."""
    by_item: dict[str, list[Incident]] = {}
    for incident in services.incidents.open_incidents(vault_id):
        by_item.setdefault(item_key(incident.vault_id, incident.item), []).append(incident)
    return by_item


def close_item(services: Services, by_item: dict[str, list[Incident]], key: str, *, at: datetime, operation: str | None) -> int:
    """A good backup of one item closes the open incidents it recovers; how many it closed."""
    closed = recording.close_recovered(
        services.incidents, by_item.get(key, []), at=at, operation=operation, policy=services.policy
    )
    done = {i.key for i in closed}
    by_item[key] = [i for i in by_item.get(key, []) if i.key not in done]
    for incident in closed:
        log.info("Incident closed: %s on %s recovered", incident.code, incident.item)
    return len(closed)


def close_recovered(
    services: Services, vault_id: str, since: datetime, until: datetime, report: RunReport, *, by_item: dict[str, list[Incident]]
) -> None:
    """Good backups of items with open incidents close them (only vaults with open incidents are read)."""
    if not any(by_item.values()):
        return
    for raw in services.source.jobs(vault_id, since=since, until=until, statuses=SUCCESS_STATUSES):
        try:
            job = normalise_job(raw)
        except MalformedInputError:
            continue
        key = item_key(job.vault_id, job.item_name)
        if by_item.get(key) and job.operation.casefold().startswith("backup"):
            report.recovered += close_item(services, by_item, key, at=job.end or job.start or until, operation=job.operation)


# --- the triggers' work ---------------------------------------------------------------------------------


def protected_items(services: Services, vault_id: str) -> dict[str, ProtectedItem] | None:
    """The vault's protected items by item key, read once per run; None when they can't be read this time."""
    try:
        raws = services.source.protected_items(vault_id)
    except SourceError as exc:
        log.warning("Protected items of %s unavailable this run: %s", vault_id, exc)
        return None
    items = {}
    for raw in raws:
        try:
            item = protected_item_of(raw, vault_id)
        except MalformedInputError as exc:
            log.warning("Unreadable protected item %s: %s", raw.get("id"), exc)
            continue
        items[item_key(vault_id, item.item)] = item
    return items


def check_items(
    services: Services,
    vault_id: str,
    items: Mapping[str, ProtectedItem],
    now: datetime,
    report: RunReport,
    *,
    by_item: dict[str, list[Incident]],
) -> None:
    """A newer recovery point closes an item's open incidents; an item behind its schedule opens a missed backup."""
    intervals: dict[str, timedelta | None] = {}
    for key, item in items.items():
        if by_item.get(key) and item.last_recovery_point is not None:
            report.recovered += close_item(services, by_item, key, at=item.last_recovery_point, operation=None)
        if services.missed_grace is None or not item.policy_name or by_item.get(key):
            continue  # an item with an open incident was told already: no second email for the same gap
        if item.policy_name not in intervals:
            try:
                intervals[item.policy_name] = backup_interval(services.source.policy(vault_id, item.policy_name))
            except SourceError as exc:
                log.warning("Policy %s of %s unavailable: %s", item.policy_name, vault_id, exc)
                intervals[item.policy_name] = None
        interval = intervals[item.policy_name]
        if interval is not None and missed_backup(item, interval, now, services.missed_grace):
            record_missed(services, item, interval, now, report)


def record_missed(services: Services, item: ProtectedItem, interval: timedelta, now: datetime, report: RunReport) -> None:
    """Open (or count into) the item's missed-backup incident; the same last recovery point counts once."""
    job_key = missed_key(item)
    if services.incidents.incident_of_job(job_key) is not None:
        return
    vault_name = parse_vault_id(item.vault_id)["vault_name"]
    incident = Incident(
        key=incident_key(item.vault_id, item.item, MISSED_CODE),
        vault_id=item.vault_id,
        vault_name=vault_name,
        item=item.item,
        workload=item.workload.value,
        code=MISSED_CODE,
        title="No recovery point within the policy's schedule",
        docs_url="https://learn.microsoft.com/azure/backup/backup-azure-monitoring-built-in-monitor",
        opened_at=now,
        last_seen=now,
        last_job="(missed backup)",
        operation="Backup",
        route_to=tag_route(services, item, {}),
    )
    incident = replace(incident, facts=facts.dumps(facts.MissedFacts(item, interval)))
    if recording.record_failure(services.incidents, job_key, incident) is Recorded.OPENED:
        report.missed += 1
        log.info("Missed backup: %s in %s has no recovery point since %s", item.item, vault_name, item.last_recovery_point)


def poll_vault(services: Services, vault_id: str, since: datetime, until: datetime) -> RunReport:
    """Record one vault's failures, close its recovered incidents, spot missed backups; skip it if unreadable."""
    report = RunReport(vaults=1)
    try:
        jobs = list(services.source.jobs(vault_id, since=since, until=until))
        items = protected_items(services, vault_id) if jobs or services.missed_grace is not None else {}
        recorded = services.incidents.recorded_jobs(vault_id) if jobs else set()
        pending: list[tuple[str, Incident]] = []
        tag_routes: dict[str, str] = {}
        for raw in jobs:
            try:
                if prepared := handle_job(services, raw, report, items=items, recorded=recorded, tag_routes=tag_routes):
                    pending.append(prepared)
            except Exception as exc:  # one bad job never stops the run; it is retried next run
                log.exception("Job %s could not be handled", raw.get("id"))
                report.problems.append(f"job {raw.get('id')}: {type(exc).__name__}: {exc}")
        try:
            for (_, incident), outcome in zip(pending, recording.record_failures(services.incidents, pending), strict=True):
                count(report, outcome, incident)
        except Exception as exc:  # the ledger failed: what was not recorded is seen again, and recorded, next run
            log.exception("Jobs of vault %s could not be recorded", vault_id)
            report.problems.append(f"recording the jobs of vault {vault_id} stopped part-way: {type(exc).__name__}: {exc}")
        by_item = open_by_item(services, vault_id)  # after recording: this run's failures may have opened some
        close_recovered(services, vault_id, since, until, report, by_item=by_item)
        if items:
            check_items(services, vault_id, items, until, report, by_item=by_item)
    except SourceError as exc:
        report.vaults_skipped += 1
        report.problems.append(f"vault {vault_id} skipped this run: {exc}")
        log.error("Vault %s skipped this run: %s", vault_id, exc)
    return report


def poll_jobs(services: Services, *, past_due: bool = False) -> RunReport:
    """One run over every vault: record each failed job, close recovered incidents, send what is owed.

    Vaults are read concurrently by a bounded pool (they may sit in many subscriptions and regions);
    emails are sent afterwards, in one place, so the digest and the budget see the whole run.
    """
    if past_due:
        log.warning("Timer is past due: this run's window still overlaps the missed ones")
    until = services.clock()
    since = until - services.lookback
    vault_ids = services.source.vault_ids()
    report = RunReport()
    with ThreadPoolExecutor(max_workers=max(1, min(services.vault_concurrency, len(vault_ids)))) as pool:
        for vault_report in pool.map(lambda vault_id: poll_vault(services, vault_id, since, until), vault_ids):
            report.add(vault_report)
    notify(services, report)
    report.expired = services.incidents.expire(until - services.retention, limit=_EXPIRE_PER_RUN)
    return report


def on_timer(services: Services, *, past_due: bool) -> RunReport:
    """The Timer's work: poll, log the summary, and fail the invocation when anything went wrong."""
    report = poll_jobs(services, past_due=past_due)
    log.info("Poll finished: %s", ", ".join(f"{name.strip()} {count}" for name, count in report.rows()))
    if report.vaults_skipped or report.problems:
        raise RunFailedError("; ".join(report.problems))
    return report


@dataclass(frozen=True)
class EventEnvelope:
    """An Event Grid delivery as the service sees it, whichever schema it came in (no azure.functions types)."""

    id: str
    type: str
    data: Any


def record_vault_alert(services: Services, alert: BackupAlert, report: RunReport) -> str:
    """An alert not about a job (security alerts: soft delete disabled, …) is a one-off incident of its vault.

    Its email is owed like any other: claimed, sent, settled, and swept by the Timer if a send fails.
    """
    job_key = (
        f"{alert.vault_id.rstrip('/').casefold()}|alert-{hashlib.sha256(alert.alert_id.casefold().encode()).hexdigest()[:32]}"
    )
    if (told := services.incidents.incident_of_job(job_key)) is not None:
        report.duplicates += 1
        return told
    fired = parse_time(alert.fired, "data.essentials.firedDateTime") or services.clock()
    key = incident_key(alert.vault_id, alert.vault_name, f"alert:{alert.rule}", job=alert.alert_id)
    incident = Incident(
        key=key,
        vault_id=alert.vault_id,
        vault_name=alert.vault_name,
        item=alert.vault_name,
        workload=Workload.VAULT.value,
        code=alert.rule,
        title=alert.description[:300],
        docs_url="",
        opened_at=fired,
        last_seen=fired,
        state="closed",  # a one-off: owed its email, nothing after
        closed_at=fired,
        last_job=alert.short_id,
        operation="Security alert" if alert.is_security else "Alert",
        facts=facts.dumps(facts.AlertFacts(alert)),
    )
    count(report, recording.record_failure(services.incidents, job_key, incident), incident)
    return key


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
        log.info("Alert %s resolved: no email (incidents close on the next good backup)", alert.short_id)
        return "no email: the alert was resolved"
    report = RunReport(failures=1)
    if alert.is_job_failure:
        key = record_alerted_job(services, alert, report)
        if key is not None:
            notify(services, report, keys=[key])
    else:
        notify(services, report, keys=[record_vault_alert(services, alert, report)])
    if report.problems:
        raise RunFailedError("; ".join(report.problems))
    if report.emails_sent:
        return "told"
    return "no email: counted into an open incident" if report.repeats else "no email: told already"


def record_alerted_job(services: Services, alert: BackupAlert, report: RunReport) -> str | None:
    """A job failure from an alert: enriched from the jobs API when it answers, from the alert alone when not."""
    key = decide.ledger_key_of(alert.vault_id, alert.job_name or "")
    if services.incidents.incident_of_job(key) is not None:
        # Seen before (a redelivery, or the Timer got there first): its incident may still owe the email.
        report.duplicates += 1
        return services.incidents.incident_of_job(key)
    code = error_code(alert, services.catalog)
    items = protected_items(services, alert.vault_id)
    try:
        job = normalise_job(services.source.job_details(f"{alert.vault_id}/backupJobs/{alert.job_name}"))
    except (SourceError, MalformedInputError) as exc:
        log.warning("Job %s of alert %s unreadable (%s): telling it from the alert", alert.job_name, alert.short_id, exc)
        job = job_from_alert(alert, code=code, note=f"Built from the alert alone: the job's details could not be read ({exc}).")
        # The alert names a database by its VM and ARM id; its protected item knows the name the Timer uses.
        named = next(
            (i for i in (items or {}).values() if alert.protected_item_id and same_resource(i.item_id, alert.protected_item_id)),
            None,
        )
        job = replace(job, item_name=named.item) if named else job
    decision = decide.decide(job, services.tell_operations)
    if not decision.tell:
        log.info("Alert %s: no email, %s", alert.short_id, decision.reason)
        return None
    return record(services, job, report, detailed=True, extra_codes=(code,) if code else (), items=items)
