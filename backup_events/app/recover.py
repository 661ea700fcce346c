"""Recovery: a good backup, or a newer recovery point, closes the open incidents it recovers."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from backup_events.app import recording
from backup_events.app.services import RunReport, Services
from backup_events.domain.exposure import ProtectedItem
from backup_events.domain.identity import item_key
from backup_events.domain.incidents import Incident
from backup_events.domain.watch import is_blind
from backup_events.errors import MalformedInputError
from backup_events.wire.jobs import normalise_job

log = logging.getLogger(__name__)


def open_by_item(services: Services, vault_id: str, *, blind: list[Incident] | None = None) -> dict[str, list[Incident]]:
    """The vault's open incidents by item key, read once per run and kept current as incidents close.

    Its open blind spot (the vault itself unreadable) is no item's: it goes to ``blind``, when given.
    """
    by_item: dict[str, list[Incident]] = {}
    for incident in services.deps.incidents.open_incidents(vault_id):
        if is_blind(incident):
            if blind is not None:
                blind.append(incident)
            continue
        by_item.setdefault(item_key(incident.vault_id, incident.item), []).append(incident)
    return by_item


def close_item(services: Services, by_item: dict[str, list[Incident]], key: str, *, at: datetime, operation: str | None) -> int:
    """A good backup of one item closes the open incidents it recovers; how many it closed."""
    closed = recording.close_recovered(
        services.deps.incidents, by_item.get(key, []), at=at, operation=operation, policy=services.config.policy
    )
    done = {i.key for i in closed}
    by_item[key] = [i for i in by_item.get(key, []) if i.key not in done]
    for incident in closed:
        log.info("Incident closed: %s on %s recovered", incident.code, incident.item)
    return len(closed)


def close_recovered(
    services: Services,
    until: datetime,
    report: RunReport,
    *,
    by_item: dict[str, list[Incident]],
    successes: Iterable[Mapping[str, Any]],
) -> None:
    """Good backups (``successes``, the run's good jobs up to ``until``) of items with open incidents close them."""
    if not any(by_item.values()):
        return
    for raw in successes:
        try:
            job = normalise_job(raw)
        except MalformedInputError:
            continue
        key = item_key(job.vault_id, job.item_name)
        if by_item.get(key):  # which good jobs end which incidents (same kind of backup, not older) is recovers()'s
            report.recovered += close_item(services, by_item, key, at=job.end or job.start or until, operation=job.operation)


def recover_from_items(
    services: Services, items: Mapping[str, ProtectedItem], report: RunReport, *, by_item: dict[str, list[Incident]]
) -> None:
    """A protected item's newer recovery point closes its open incidents (those it recovers)."""
    for key, item in items.items():
        if by_item.get(key) and item.last_recovery_point is not None:
            report.recovered += close_item(services, by_item, key, at=item.last_recovery_point, operation=None)
