"""A jobs source over exported files (``BACKUP_JOBS_SOURCE=files``, and ``replay``).

``honour_window`` False (a normal run on an exported estate): every exported job is in every window, as with the
bundled samples, because the files carry past dates; the ledger tells each once. True (``replay``): only jobs that
started in the asked window, so a replay stepped along the jobs' own clock sees them arrive as the Timer would.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from backup_events.errors import MalformedInputError, SourceError
from backup_events.wire import exported
from backup_events.wire.jobs import parse_time


class FileJobSource:
    """Implements ``ports.JobSource`` over exported jobs and protected items."""

    def __init__(self, paths: Sequence[Path], *, honour_window: bool = False) -> None:
        self.export = exported.load(list(paths))
        self._honour_window = honour_window

    def vault_ids(self) -> list[str]:
        return list(self.export.vaults.values())

    def start_times(self) -> list[datetime]:
        """When each exported job started (those whose start can be read)."""
        return [t for job in self.export.jobs.values() if (t := _start(job)) is not None]

    def jobs(
        self, vault_id: str, *, since: datetime, until: datetime, statuses: Sequence[str] = ("Failed",)
    ) -> Iterable[Mapping[str, Any]]:
        wanted = {s.casefold() for s in statuses}
        vault = vault_id.rstrip("/").casefold()
        for key, job in self.export.jobs.items():
            if self.export.job_vaults[key] != vault or str(job["properties"].get("status", "")).casefold() not in wanted:
                continue
            start = _start(job)
            if self._honour_window and start is not None and not since <= start <= until:
                continue
            yield job

    def job_details(self, job_id: str) -> Mapping[str, Any]:
        job = self.export.jobs.get(job_id.rstrip("/").casefold())
        if job is None:
            raise SourceError(f"job {job_id} is not in the exported files")
        return job

    def protected_items(self, vault_id: str) -> list[Mapping[str, Any]]:
        return list(self.export.items.get(vault_id.rstrip("/").casefold(), []))

    def policy(self, vault_id: str, name: str) -> Mapping[str, Any]:
        # Exports carry no policies: an empty one has no schedule, so missed backups are not judged (not an error).
        return {"name": name, "properties": {}}

    def resource_tags(self, resource_id: str) -> Mapping[str, str]:
        return {}


def _start(job: Mapping[str, Any]) -> datetime | None:
    try:
        return parse_time(job["properties"].get("startTime"), "properties.startTime")
    except MalformedInputError:
        return None
