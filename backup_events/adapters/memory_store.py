"""The incident store in memory: the embedded default where no Azure is needed (explain, replay, app tests).

It keeps the same promises as the Table Storage store (the contract suite runs over both): a change lands only if
the incident is still as it was read, a job is recorded once, a change and its jobs land together. One lock makes
each commit atomic across threads; nothing survives the process.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Sequence
from datetime import UTC, datetime

from backup_events.domain.incidents import Change, Incident, Outcome, OwingQuery, may_owe, with_email_state
from backup_events.domain.watch import VaultRun


def _vault(key: str) -> str:
    return key.rpartition("|")[0]


class MemoryIncidentStore:
    """Implements ``ports.IncidentStore`` in a dict."""

    def __init__(self, *, clock: Callable[[], datetime]) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._incidents: dict[str, Incident] = {}
        self._jobs: dict[str, tuple[str, datetime]] = {}  # job key → (incident key, recorded at)
        self._mail: dict[str, int] = {}  # hour → emails spent
        self._runs: dict[tuple[str, str], VaultRun] = {}  # (vault, minute of the day) → what that run saw of the vault

    def incident(self, key: str) -> Incident | None:
        with self._lock:
            return self._incidents.get(key)

    def incidents_in(self, vault_id: str, keys: Collection[str]) -> dict[str, Incident]:
        vault = vault_id.rstrip("/").casefold()  # as Table Storage reads them: from the vault's partition only
        with self._lock:
            return {k: self._incidents[k] for k in keys if k in self._incidents and _vault(k) == vault}

    def open_incidents(self, vault_id: str) -> list[Incident]:
        vault = vault_id.rstrip("/").casefold()
        with self._lock:
            return [i for k, i in self._incidents.items() if _vault(k) == vault and i.is_open]

    def owing_email(self, query: OwingQuery) -> list[Incident]:
        with self._lock:
            return [i for i in self._incidents.values() if may_owe(i, query)]

    def recorded_jobs(self, vault_id: str) -> set[str]:
        vault = vault_id.rstrip("/").casefold()
        with self._lock:
            return {k for k in self._jobs if _vault(k) == vault}

    def incident_of_job(self, job_key: str) -> str | None:
        with self._lock:
            recorded = self._jobs.get(job_key)
        return recorded[0] if recorded else None

    def commit(self, changes: Sequence[Change]) -> list[Outcome]:
        with self._lock:
            return [self._apply(change) for change in changes]

    def _apply(self, change: Change) -> Outcome:
        key = change.after.key
        if any(job in self._jobs for job in change.jobs):
            return Outcome.DUPLICATE
        current = self._incidents.get(key)
        if change.email_only and current is not None and (change.unconditional or current == change.before):
            self._incidents[key] = with_email_state(current, change.after)
        elif not change.email_only and current == change.before:
            self._incidents[key] = change.after
        else:
            return Outcome.CONFLICT
        now = self._clock()
        self._jobs.update({job: (key, now) for job in change.jobs})
        return Outcome.LANDED

    def spend_mail(self, hour: str, wanted: int, limit: int) -> int:
        with self._lock:
            given = max(0, min(wanted, limit - self._mail.get(hour, 0)))
            self._mail[hour] = self._mail.get(hour, 0) + given
            return given

    def expire(self, before: datetime, *, limit: int) -> int:
        with self._lock:
            old_incidents = [k for k, i in self._incidents.items() if not i.is_open and i.closed_at and i.closed_at < before]
            old_jobs = [k for k, (_, at) in self._jobs.items() if at < before]
            doomed_incidents = old_incidents[:limit]
            doomed_jobs = old_jobs[: limit - len(doomed_incidents)]
            for key in doomed_incidents:
                del self._incidents[key]
            for key in doomed_jobs:
                del self._jobs[key]
            spent = [hour for hour in self._mail if hour < f"{before:%Y-%m-%dT%H}"]
            for hour in spent:
                del self._mail[hour]
            room = max(0, limit - len(doomed_incidents) - len(doomed_jobs))
            old_runs = [at for at, run in self._runs.items() if run.at < before][:room]
            for run_key in old_runs:
                del self._runs[run_key]
            return len(doomed_incidents) + len(doomed_jobs) + len(old_runs)

    def record_runs(self, runs: Sequence[VaultRun]) -> None:
        with self._lock:
            self._runs.update({(run.vault_id.rstrip("/").casefold(), f"{run.at.astimezone(UTC):%H%M}"): run for run in runs})

    def runs_since(self, since: datetime) -> list[VaultRun]:
        with self._lock:
            return sorted((r for r in self._runs.values() if r.at >= since), key=lambda r: (r.at, r.vault_id.casefold()))

    def incidents_since(self, since: datetime) -> list[Incident]:
        with self._lock:
            return [i for i in self._incidents.values() if i.is_open or (i.closed_at is not None and i.closed_at >= since)]
