"""The recorded corpus (tests/data/recorded): real bodies of the live service, read as the app reads files.

Tests that need a situation no recording shows (a success after a failure, a second failure a day later) move a
recorded job in time with ``at``; nothing else of the recording changes, and the test says so.
"""

from __future__ import annotations

import copy
from datetime import datetime
from pathlib import Path
from typing import Any

from backup_events.wire.exported import read_json, resources_in
from backup_events.wire.jobs import parse_duration, parse_time

RECORDED = Path(__file__).parent / "data" / "recorded"
# Failed jobs used by name in the tests (see PROVENANCE.md for where each was recorded).
VM_RESTORE_FAILED = "jobs/azcli--test_backup_scenario--ef8a5e8-i228.json"  # RestoreOperationFailed (400003)
VM_BACKUP_FAILED = "jobs/azcli--test_backup_restore--fa7939b-i396.json"
SQL_CRR_FAILED = (
    "jobs/azcli--test_backup_wl_sql_crr--35422a1-i047.json",
    "jobs/azcli--test_backup_wl_sql_crr--9cf273b-i332.json",
)
SQL_RESTORE_AS_FILES_FAILED = "jobs/azcli--test_backup_wl_sql_restore_as_files--f46174d-i022.json"
SQL_RESTORE_AS_FILES_ITEM = "items/azcli--test_backup_wl_sql_restore_as_files--f46174d-i001.json"
HANA_RESTORE_FAILED = "jobs/azcli--test_backup_wl_hana_restore--899e638-i245.json"
HANA_ITEM = "items/azcli--test_backup_wl_hana_restore--899e638-i211.json"
SQL_CONFIGURE_BARE_NAME = "jobs/azcli--test_backup_wl_sql_item--899e638-i067.json"  # entityFriendlyName "msdb"
SQL_ITEM_OF_BARE_NAME = "items/azcli--test_backup_wl_sql_item--899e638-i069.json"
SQL_BACKUP_COMPLETED = "jobs/azcli--test_backup_wl_sql_protection--899e638-i078.json"  # msdb [sarathvm]
SQL_ITEM_OF_BACKUP = "items/azcli--test_backup_wl_sql_protection--899e638-i068.json"
REAL_ALERT = "alerts/pwsh-script--backup-failure-UserErrorParentFullBackupMissing.json"


def document(name: str) -> Any:
    return read_json(RECORDED / name)


def one(name: str) -> dict[str, Any]:
    """The single resource of a recorded body (a job GET, an item GET, or a one-element list page)."""
    (resource,) = list(resources_in(document(name)))
    return copy.deepcopy(dict(resource))


def at(job: dict[str, Any], start: datetime, **properties: Any) -> dict[str, Any]:
    """The recorded job moved to ``start`` (its duration kept), with ``properties`` overriding; a copy."""
    moved = copy.deepcopy(job)
    props = moved["properties"]
    began = parse_time(props.get("startTime"), "startTime")
    ended = parse_time(props.get("endTime"), "endTime")
    duration = (ended - began) if began and ended else parse_duration(props.get("duration"))
    props["startTime"] = start.isoformat()
    if duration is not None and ended is not None:
        props["endTime"] = (start + duration).isoformat()
    props.update(properties)
    return moved


def renamed(job: dict[str, Any], name: str) -> dict[str, Any]:
    """The recorded job under another job name (a second run of the same kind)."""
    copied = copy.deepcopy(job)
    copied["id"] = f"{copied['id'].rsplit('/', 1)[0]}/{name}"
    copied["name"] = name
    return copied
