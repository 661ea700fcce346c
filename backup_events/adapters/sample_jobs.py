"""A jobs source that replays the bundled sample jobs: the demo and local runs without an Azure account.

It ignores the time window on purpose: the samples carry fixed dates.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from importlib import resources
from typing import Any

from backup_events.domain.ids import same_resource
from backup_events.errors import SourceError
from backup_events.wire.jobs import vault_of_job


def bundled() -> dict[str, Any]:
    """The whole sample world in ``samples/jobs.json``: jobs, protected items and policies per vault."""
    data: dict[str, Any] = json.loads(
        resources.files("backup_events.dev").joinpath("samples/jobs.json").read_text(encoding="utf-8")
    )
    return data


def bundled_jobs() -> list[dict[str, Any]]:
    """The sample ``JobResource`` objects."""
    jobs: list[dict[str, Any]] = bundled()["value"]
    return jobs


class SampleJobSource:
    """Implements ``ports.JobSource`` over a list of wire-format jobs."""

    def __init__(
        self,
        jobs: Iterable[Mapping[str, Any]] | None = None,
        *,
        protected_items: Mapping[str, list[Mapping[str, Any]]] | None = None,
        policies: Mapping[str, list[Mapping[str, Any]]] | None = None,
        tags: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        world = bundled() if jobs is None else {}
        self._jobs: list[Mapping[str, Any]] = list(world.get("value", []) if jobs is None else jobs)
        self._items = {k.casefold(): v for k, v in (protected_items or world.get("protectedItems", {})).items()}
        self._policies = {k.casefold(): v for k, v in (policies or world.get("policies", {})).items()}
        self._tags = {k.casefold(): dict(v) for k, v in (tags or world.get("tags", {})).items()}

    def vault_ids(self) -> list[str]:
        seen: dict[str, str] = {}
        for job in self._jobs:
            vault_id = vault_of_job(job) or ""
            seen.setdefault(vault_id.casefold(), vault_id)
        return list(seen.values())

    def jobs(
        self, vault_id: str, *, since: datetime, until: datetime, statuses: Sequence[str] = ("Failed",)
    ) -> Iterable[Mapping[str, Any]]:
        wanted = {s.casefold() for s in statuses}
        for job in self._jobs:
            status = str(job.get("properties", {}).get("status", "")).casefold()
            if same_resource(vault_of_job(job) or "", vault_id) and status in wanted:
                # List items lack extendedInfo on the wire; so do ours, to exercise the details call.
                yield {**job, "properties": {k: v for k, v in job["properties"].items() if k != "extendedInfo"}}

    def job_details(self, job_id: str) -> Mapping[str, Any]:
        for job in self._jobs:
            if same_resource(str(job["id"]), job_id):
                return job
        raise SourceError(f"no job {job_id} in the sample jobs")

    def protected_items(self, vault_id: str) -> list[Mapping[str, Any]]:
        return list(self._items.get(vault_id.rstrip("/").casefold(), []))

    def policy(self, vault_id: str, name: str) -> Mapping[str, Any]:
        for policy in self._policies.get(vault_id.rstrip("/").casefold(), []):
            if str(policy.get("name", "")).casefold() == name.casefold():
                return policy
        raise SourceError(f"no policy {name} in vault {vault_id}")

    def resource_tags(self, resource_id: str) -> Mapping[str, str]:
        return self._tags.get(resource_id.rstrip("/").casefold(), {})
