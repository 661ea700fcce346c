"""Recording a failed job: read it in full, name its item, choose its code, and count it into its incident.

The email it deserves is not rendered here: the incident keeps the facts, and the email is written when sent."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from backup_events.app import facts, recording
from backup_events.app.services import RunReport, Services
from backup_events.domain import decide
from backup_events.domain.exposure import ProtectedItem
from backup_events.domain.identity import DATABASES, headline_code, incident_key, item_key
from backup_events.domain.incidents import Incident, Recorded
from backup_events.domain.model import BackupJob
from backup_events.domain.operations import is_ongoing
from backup_events.domain.routing import tag_addresses
from backup_events.errors import MalformedInputError, SourceError
from backup_events.wire.items import protected_item_of
from backup_events.wire.jobs import normalise_job

log = logging.getLogger(__name__)


def details_or_summary(services: Services, summary: BackupJob) -> BackupJob:
    """The job's details (for the phase); the list item when details can't be had this time."""
    try:
        return normalise_job(services.deps.source.job_details(summary.job_id))
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

    A job from a listing (``detailed`` False) is read again in full first, for its phase. The incident keeps the
    job's facts; its email is rendered from them when it is sent.
    """
    key = decide.ledger_key(job)
    if key in recorded if recorded is not None else services.deps.incidents.incident_of_job(key) is not None:
        report.duplicates += 1
        return None
    job = job if detailed else details_or_summary(services, job)
    job = named_as_protected(job, items or {})
    diagnosis = services.deps.catalog.diagnose(job.errors, extra_codes=extra_codes)
    code = headline_code(job, diagnosis)
    when = job.end or job.start or services.deps.clock()
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
        facts=facts.dumps(
            facts.FailureFacts(
                job, protected.last_recovery_point if protected else None, extra_codes, unknown_because(items, protected)
            )
        ),
    )
    return key, incident


def unknown_because(items: Mapping[str, ProtectedItem] | None, protected: ProtectedItem | None) -> str:
    """Why the item's last good recovery point is not known, or "" when it is."""
    if items is None:
        return "unread"
    if protected is None:
        return "not-found"
    return "no-point" if protected.last_recovery_point is None else ""


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
    if not services.config.route_tag or item is None or not item.source_resource_id:
        return ""
    resource = item.source_resource_id.casefold()
    if resource not in cache:
        try:
            tags = services.deps.source.resource_tags(item.source_resource_id)
        except SourceError as exc:
            log.warning("Tags of %s unreadable, routing by vault: %s", item.source_resource_id, exc)
            tags = {}
        value = next((v for k, v in tags.items() if k.casefold() == services.config.route_tag.casefold()), "")
        cache[resource] = ",".join(tag_addresses(value, services.config.route_tag_domains))
    return cache[resource]


def protected_items(services: Services, vault_id: str) -> dict[str, ProtectedItem] | None:
    """The vault's protected items by item key, read once per run; None when they can't be read this time."""
    try:
        raws = services.deps.source.protected_items(vault_id)
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
    count(report, recording.record_failure(services.deps.incidents, *prepared), prepared[1])
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
    decision = decide.decide(job, services.config.tell_operations)
    if not decision.tell:
        log.debug("No email for %s: %s", job.job_name, decision.reason)
        return None
    report.failures += 1
    prepared = prepare_failure(services, job, report, items=items, recorded=recorded, tag_routes=tag_routes)
    if prepared is not None and recorded is not None:
        recorded.add(prepared[0])  # a listing can repeat a job across pages and statuses
    return prepared
