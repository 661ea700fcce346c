"""Pure: protected items, their last good recovery point, and whether a backup was missed.

Job alerts say nothing when backups silently stop (a policy detached, a schedule that never fires, an agent
that stopped reporting). The protected item's ``lastRecoveryPoint`` against its policy's schedule does.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from backup_events.domain.model import Workload

MISSED_CODE = "MissedBackup"
# Items in these states are not expected to back up (stopped, suspended, or waiting for their first backup).
# Backup vault instances say ConfiguringProtection before their first backup and BackupSchedulesSuspended when stopped.
_NOT_EXPECTED = {
    "protectionstopped",
    "backupssuspended",
    "irpending",
    "invalid",
    "softdeleted",
    "configuringprotection",
    "backupschedulessuspended",
    "notprotected",
}


@dataclass(frozen=True)
class ProtectedItem:
    """A protected item as far as exposure needs it."""

    vault_id: str
    item: str
    workload: Workload
    last_recovery_point: datetime | None
    policy_name: str
    protection_state: str
    source_resource_id: str = ""
    item_id: str = ""  # the protected item's ARM id, which an alert's protectedItemId names


def backup_interval(policy: Mapping[str, Any]) -> timedelta | None:
    """How often the policy takes a full backup: hourly (every N hours), daily or weekly. None if unknown.

    A Backup vault policy (``policyRules[]``) says it as ISO 8601 repeating intervals in its backup rule's trigger
    (``R/2023-06-28T07:30:00+00:00/P1D``); the shortest one counts.
    """
    properties = policy.get("properties") or {}
    if isinstance(properties.get("policyRules"), list):
        return _rule_interval(properties["policyRules"])
    schedule = properties.get("schedulePolicy")
    if schedule is None:  # workload policies: the Full sub-policy carries the schedule
        for sub in properties.get("subProtectionPolicy") or []:
            if str(sub.get("policyType", "")).casefold() == "full":
                schedule = sub.get("schedulePolicy")
    if not isinstance(schedule, Mapping):
        return None
    frequency = str(schedule.get("scheduleRunFrequency") or "").casefold()
    if frequency == "hourly":
        hours = (schedule.get("hourlySchedule") or {}).get("interval")
        return timedelta(hours=int(hours)) if isinstance(hours, int) and hours > 0 else None
    return {"daily": timedelta(days=1), "weekly": timedelta(days=7)}.get(frequency)


_REPEAT = re.compile(r"^R\d*/[^/]+/P(?:(?P<w>\d+)W|(?P<d>\d+)D|T(?P<h>\d+)H)$", re.IGNORECASE)


def _rule_interval(rules: list[Any]) -> timedelta | None:
    intervals = []
    for rule in rules:
        trigger = rule.get("trigger") if isinstance(rule, Mapping) else None
        schedule = trigger.get("schedule") if isinstance(trigger, Mapping) else None
        repeats = schedule.get("repeatingTimeIntervals") if isinstance(schedule, Mapping) else None
        for text in repeats if isinstance(repeats, list) else []:
            if match := _REPEAT.match(str(text).strip()):
                weeks, days, hours = (int(match[g] or 0) for g in ("w", "d", "h"))
                if span := timedelta(weeks=weeks, days=days, hours=hours):
                    intervals.append(span)
    return min(intervals, default=None)


def missed_backup(item: ProtectedItem, interval: timedelta | None, now: datetime, grace: timedelta) -> bool:
    """True when a protected item that should be backing up has no recovery point within its schedule + grace."""
    if interval is None or item.last_recovery_point is None:
        return False
    if item.protection_state.casefold() in _NOT_EXPECTED:
        return False
    return now - item.last_recovery_point > interval + grace


def missed_key(item: ProtectedItem) -> str:
    """The ledger key of one missed-backup observation: the same last recovery point is counted once."""
    seen = item.last_recovery_point.isoformat() if item.last_recovery_point else "never"
    digest = hashlib.sha256(f"{item.item.casefold()}|{seen}".encode()).hexdigest()[:32]
    return f"{item.vault_id.rstrip('/').casefold()}|missed-{digest}"
