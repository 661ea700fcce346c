"""The demo: the whole pipeline on embedded defaults, no Azure account.

``run``: the bundled sample world (jobs, protected items, policies) at its own clock, the ledger in Azurite
(kept on disk, so a second run tells nothing new), emails in ``./outbox``.
``story``: the same parts driven through two days with an injected clock, to show an incident open, repeat,
remind and recover, a missed backup, and a storm folded into one digest.
"""

from __future__ import annotations

import copy
import shutil
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from backup_events import bootstrap
from backup_events.adapters.sample_jobs import SampleJobSource, bundled
from backup_events.app import poll
from backup_events.app.services import RunReport
from backup_events.dev import local_azurite
from backup_events.settings import Settings

DEMO_NOW = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)
"""The sample world's clock: the bundled jobs and recovery points are dated around it."""


def settings_for(table_connection_string: str, outbox: Path, **overrides: str) -> Settings:
    """The embedded local defaults."""
    values = {
        "BACKUP_JOBS_SOURCE": "sample",
        "BACKUP_TABLE_CONNECTION_STRING": table_connection_string,
        "BACKUP_TABLE_NAME": "backupevents",
        "BACKUP_MAILER": "outbox",
        "BACKUP_OUTBOX_DIR": str(outbox),
        "BACKUP_MAIL_SENDER": "backup-events@example.com",
        "BACKUP_MAIL_RECIPIENTS": "oncall@example.com",
        # One email per sample failure, so each kind of email can be seen (production default: digest above 5).
        "BACKUP_DIGEST_THRESHOLD": "50",
        "BACKUP_EMAILS_PER_RUN": "50",
        "BACKUP_EMAILS_PER_HOUR": "1000",
    }
    return Settings.from_environ({**values, **overrides})


def _fresh(state: Path, reset: bool) -> None:
    if reset and state.exists():
        shutil.rmtree(state)


def clear_outbox(outbox: Path) -> int:
    """Delete the emails an earlier run wrote into ``outbox`` (its .eml and .html files, nothing else); how many."""
    emails = [p for p in outbox.glob("*") if p.suffix in (".eml", ".html") and p.is_file()] if outbox.is_dir() else []
    for path in emails:
        path.unlink()
    return len(emails)


def run(state: Path, outbox: Path, *, reset: bool = False, **overrides: str) -> RunReport:
    """One poll of the sample world; the ledger survives in ``state`` for the next run (``reset``: forgets it, and
    clears the emails of earlier runs from ``outbox``). ``overrides`` are settings (``BACKUP_MAIL_LANGUAGE=ja``,
    ``BACKUP_TIMEZONE=Asia/Tokyo``)."""
    _fresh(state, reset)
    if reset:
        clear_outbox(outbox)
    with local_azurite.running(state / "azurite") as connection:
        return poll.poll_jobs(bootstrap.build(settings_for(connection, outbox, **overrides), clock=lambda: DEMO_NOW))


class _StorySource(SampleJobSource):
    """The sample world plus whatever the story adds, answering for the asked window like the jobs API."""

    def __init__(self) -> None:
        world = bundled()
        super().__init__(world["value"], protected_items=world["protectedItems"], policies=world["policies"])
        self.all: list[Mapping[str, Any]] = list(world["value"])

    def add(self, jobs: Iterable[Mapping[str, Any]]) -> None:
        self.all.extend(jobs)

    def backed_up(self, item: str, at: datetime) -> None:
        """A good backup of ``item`` at ``at``: its protected item gets a new last recovery point."""
        for items in self._items.values():
            for raw in items:
                if raw["properties"].get("friendlyName") == item:
                    raw["properties"]["lastRecoveryPoint"] = at.isoformat()

    def jobs(
        self, vault_id: str, *, since: datetime, until: datetime, statuses: Sequence[str] = ("Failed",)
    ) -> Iterable[Mapping[str, Any]]:
        self._jobs = [j for j in self.all if since <= datetime.fromisoformat(str(j["properties"]["startTime"])) <= until]
        return super().jobs(vault_id, since=since, until=until, statuses=statuses)

    def vault_ids(self) -> list[str]:
        self._jobs = self.all
        return super().vault_ids()

    def job_details(self, job_id: str) -> Mapping[str, Any]:
        self._jobs = self.all
        return super().job_details(job_id)


def _again(template: Mapping[str, Any], n: int, at: datetime, **properties: Any) -> dict[str, Any]:
    job = copy.deepcopy(dict(template))
    name = f"5e000000-0000-4000-8000-{n:012d}"
    job["id"] = f"{str(job['id']).rsplit('/backupJobs/', 1)[0]}/backupJobs/{name}"
    job["name"] = name
    duration = timedelta(minutes=30)
    job["properties"].update(startTime=at.isoformat(), endTime=(at + duration).isoformat(), **properties)
    return job


def story(state: Path, outbox: Path, *, show: Callable[[str, RunReport], None], **overrides: str) -> list[tuple[str, RunReport]]:
    """Two days of a backup estate, polled at chosen moments; ``show`` is called after each step. ``overrides`` are
    settings (the readers' language and time zone).

    Always from the start: the story's ledger and the emails already in ``outbox`` are cleared first.
    """
    shutil.rmtree(state, ignore_errors=True)
    clear_outbox(outbox)
    source = _StorySource()
    vm_failure = source.all[0]  # vm-app-02, UserErrorGuestAgentStatusUnavailable
    now = {"t": DEMO_NOW}
    steps: list[tuple[str, RunReport]] = []
    with local_azurite.running(state / "azurite") as connection:
        settings = settings_for(
            connection, outbox, **{"BACKUP_DIGEST_THRESHOLD": "14", "BACKUP_LOOKBACK_HOURS": "36", **overrides}
        )
        services = bootstrap.build(settings, clock=lambda: now["t"], source=source)

        def step(title: str, at: datetime) -> None:
            now["t"] = at
            report = poll.poll_jobs(services)
            steps.append((title, report))
            show(title, report)

        step("06:00 the sample world: each failure opens an incident; vm-legacy-09 has missed its backups", DEMO_NOW)
        source.add([_again(vm_failure, 1, DEMO_NOW + timedelta(hours=1))])
        step("08:00 vm-app-02 fails again with the same code: counted, no email", DEMO_NOW + timedelta(hours=2))
        storm_vault = source.all[4]  # share-finance's vault stands in for a storage outage
        source.add(
            _again(storm_vault, 100 + i, DEMO_NOW + timedelta(hours=3), entityFriendlyName=f"share-{i:02d}") for i in range(15)
        )
        step("10:00 a storage outage fails 15 shares at once: one digest", DEMO_NOW + timedelta(hours=4))
        source.backed_up("vm-web-01", DEMO_NOW + timedelta(hours=10, minutes=41))  # its daily backup at 16:00 went fine
        step("next day 06:30 still failing after 24 h: reminders", DEMO_NOW + timedelta(hours=24, minutes=30))
        source.add([_again(vm_failure, 2, DEMO_NOW + timedelta(hours=25), status="Completed", errorDetails=[])])
        source.backed_up("vm-app-02", DEMO_NOW + timedelta(hours=25, minutes=30))
        step("next day 08:00 vm-app-02 backs up fine: recovered", DEMO_NOW + timedelta(hours=26))
    return steps
