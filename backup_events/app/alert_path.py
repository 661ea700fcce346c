"""The near-real-time use case: a built-in alert relayed through Event Grid, told like the Timer would tell it."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace

from backup_events.app import blind, facts, recording
from backup_events.app.notify import notify
from backup_events.app.record import count, protected_items, record
from backup_events.app.services import EventEnvelope, RunReport, Services
from backup_events.domain import decide
from backup_events.domain.identity import alert_key, incident_key
from backup_events.domain.ids import same_resource
from backup_events.domain.incidents import Incident, being_sent
from backup_events.domain.model import Workload
from backup_events.errors import MalformedInputError, RunFailedError, SourceError
from backup_events.wire.alerts import BackupAlert, error_code, job_from_alert, parse_alert
from backup_events.wire.jobs import normalise_job, parse_time

log = logging.getLogger(__name__)


def record_vault_alert(services: Services, alert: BackupAlert, report: RunReport) -> str:
    """An alert not about a job (security alerts: soft delete disabled, …) is a one-off incident of its vault.

    Its email is owed like any other: claimed, sent, settled, and swept by the Timer if a send fails.
    """
    job_key = alert_key(alert.vault_id, alert.alert_id)
    if (told := services.deps.incidents.incident_of_job(job_key)) is not None:
        report.duplicates += 1
        unsettled(services, told)
        return told
    fired = parse_time(alert.fired, "data.essentials.firedDateTime") or services.deps.clock()
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
    count(report, recording.record_failure(services.deps.incidents, job_key, incident), incident)
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
    if not services.watches(alert.vault_id):
        log.warning("Alert %s is about vault %s, which is not watched: ignored", alert.short_id, alert.vault_id)
        return "ignored: the vault is not watched"
    report = RunReport()
    if alert.is_job_failure:
        key = record_alerted_job(services, alert, report)
        if key.startswith("no email:"):
            return key
        notify(services, report, keys=[key, *report.blind_keys])
    else:
        notify(services, report, keys=[record_vault_alert(services, alert, report)])
    if report.problems:
        raise RunFailedError("; ".join(report.problems))
    if report.emails_sent:
        return "told"
    return "no email: counted into an open incident" if report.repeats else "no email: told already"


def record_alerted_job(services: Services, alert: BackupAlert, report: RunReport) -> str:
    """A job failure from an alert: enriched from the jobs API when it answers, from the alert alone when not.

    Returns the key of the incident it was counted into, or ``no email: <why>``.
    """
    key = decide.ledger_key_of(alert.vault_id, alert.job_name or "")
    if (told := services.deps.incidents.incident_of_job(key)) is not None:
        # Seen before (a redelivery, or the Timer got there first): its incident may still owe the email.
        report.duplicates += 1
        unsettled(services, told)
        return told
    code = error_code(alert, services.deps.catalog)
    items = protected_items(services, alert.vault_id)
    now = services.deps.clock()
    try:
        job = normalise_job(services.deps.source.job_details(f"{alert.vault_id}/backupJobs/{alert.job_name}"))
        report.blind_keys += blind.clear_spot(services, blind.vault_spot(alert.vault_id, "", now), now)
    except (SourceError, MalformedInputError) as exc:
        log.warning("Job %s of alert %s unreadable (%s): telling it from the alert", alert.job_name, alert.short_id, exc)
        if isinstance(exc, SourceError):  # the jobs API failing for alerts: the vault is blind to the Timer too
            report.blind_keys += blind.observe(
                services, [blind.vault_spot(alert.vault_id, str(exc), now)], alert.alert_id, report
            )
        job = job_from_alert(alert, code=code, note=f"Built from the alert alone: the job's details could not be read ({exc}).")
        # The alert names a database by its VM and ARM id; its protected item knows the name the Timer uses.
        named = next(
            (i for i in (items or {}).values() if alert.protected_item_id and same_resource(i.item_id, alert.protected_item_id)),
            None,
        )
        job = replace(job, item_name=named.item) if named else job
    decision = decide.decide(job, services.config.tell_operations)
    if not decision.tell:
        log.info("Alert %s: no email, %s", alert.short_id, decision.reason)
        return f"no email: {decision.reason}"  # decided like the Timer: the jobs API has the last word
    incident = record(services, job, report, detailed=True, extra_codes=(code,) if code else (), items=items)
    return incident if incident is not None else "no email: told already"


def unsettled(services: Services, key: str) -> None:
    """A redelivery that finds the email claimed and not settled (an instance is sending it right now) must not be
    acknowledged as told: raise, so Event Grid delivers again. A claim past its lease is taken over by this delivery."""
    incident = services.deps.incidents.incident(key)
    if incident is not None and being_sent(incident, services.deps.clock(), services.config.policy.lease):
        raise RunFailedError(f"the email of incident {incident.item} is claimed and not settled yet; deliver again later")
