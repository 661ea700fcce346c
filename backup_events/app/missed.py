"""Missed backups: no failure and no alert, but an item has no recovery point as recent as its policy promises."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta

from backup_events.app import facts, recording
from backup_events.app.record import tag_route
from backup_events.app.services import RunReport, Services
from backup_events.domain.exposure import MISSED_CODE, ProtectedItem, backup_interval, missed_backup, missed_key
from backup_events.domain.identity import incident_key
from backup_events.domain.ids import parse_vault_id
from backup_events.domain.incidents import Incident, Recorded
from backup_events.errors import SourceError

log = logging.getLogger(__name__)


def check_missed(
    services: Services,
    vault_id: str,
    items: Mapping[str, ProtectedItem],
    now: datetime,
    report: RunReport,
    *,
    by_item: dict[str, list[Incident]],
) -> None:
    """An item behind its policy's schedule opens a missed-backup incident (once per last recovery point)."""
    if services.config.missed_grace is None:
        return
    intervals: dict[str, timedelta | None] = {}
    for key, item in items.items():
        if not item.policy_name or by_item.get(key):
            continue  # an item with an open incident was told already: no second email for the same gap
        if item.policy_name not in intervals:
            try:
                intervals[item.policy_name] = backup_interval(services.deps.source.policy(vault_id, item.policy_name))
            except SourceError as exc:
                log.warning("Policy %s of %s unavailable: %s", item.policy_name, vault_id, exc)
                intervals[item.policy_name] = None
        interval = intervals[item.policy_name]
        if interval is not None and missed_backup(item, interval, now, services.config.missed_grace):
            record_missed(services, item, interval, now, report)


def record_missed(services: Services, item: ProtectedItem, interval: timedelta, now: datetime, report: RunReport) -> None:
    """Open (or count into) the item's missed-backup incident; the same last recovery point counts once."""
    job_key = missed_key(item)
    if services.deps.incidents.incident_of_job(job_key) is not None:
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
        facts=facts.dumps(facts.MissedFacts(item, interval)),
    )
    if recording.record_failure(services.deps.incidents, job_key, incident) is Recorded.OPENED:
        report.missed += 1
        log.info("Missed backup: %s in %s has no recovery point since %s", item.item, vault_name, item.last_recovery_point)
