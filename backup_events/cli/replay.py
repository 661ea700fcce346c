"""``replay``: exported jobs played through the real pipeline on the jobs' own clock.

The Timer is stepped at the poll interval from the earliest job to the latest. Steps at which nothing can
change are skipped (no job starts in their window, no reminder falls due, nothing was left for later): they
would read the same jobs, find them recorded, and send nothing. Incidents live in the in-memory store, fresh each
replay (nothing to install, nothing remembered), and emails go to an outbox folder. The daily summary is written at
its time (``BACKUP_SUMMARY_SCHEDULE`` in ``BACKUP_TIMEZONE``) on each day the replay spans, from what the polls kept.
"""

from __future__ import annotations

import heapq
import zoneinfo
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from backup_events import bootstrap
from backup_events.adapters.file_jobs import FileJobSource
from backup_events.adapters.memory_store import MemoryIncidentStore
from backup_events.app import poll, summary
from backup_events.app.services import RunReport
from backup_events.settings import Settings

_MOST_DRAINING_POLLS = 1000


@dataclass
class Replay:
    """What a replay did: every poll's report folded into one, and the span it covered."""

    report: RunReport = field(default_factory=RunReport)
    polls: int = 0
    first: datetime | None = None
    last: datetime | None = None
    vaults: int = 0
    jobs: int = 0
    failed: int = 0
    items: int = 0
    summaries: list[str] = field(default_factory=list)  # the daily summaries' subjects, one a day and recipient group


def _step_up(moment: datetime, interval: timedelta) -> datetime:
    """The first poll at or after ``moment`` on a grid of ``interval`` from midnight UTC."""
    midnight = moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    steps = -((midnight - moment) // interval)
    return midnight + steps * interval


def summary_times(first: datetime, last: datetime, settings: Settings) -> list[datetime]:
    """The daily summary's moments whose 24 hours overlap ``[first, last]``: one for each day the replay spans."""
    if settings.summary_schedule is None:
        return []
    zone = zoneinfo.ZoneInfo(settings.timezone)
    hour, minute = (int(part) for part in settings.summary_schedule.split(":"))
    day, times = first.astimezone(zone).date(), list[datetime]()
    while True:
        moment = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone).astimezone(UTC)
        if moment - summary.WINDOW >= last:
            return times
        if moment >= first:
            times.append(moment)
        day += timedelta(days=1)


def settings_for(outbox: Path, **overrides: str) -> Settings:
    """Embedded local defaults: exported files in, the in-memory store, the outbox mailer."""
    values = {
        "BACKUP_JOBS_SOURCE": "sample",  # the files source is passed in directly
        "BACKUP_TABLE_CONNECTION_STRING": "UseDevelopmentStorage=true",  # never opened: the store is in memory
        "BACKUP_MAILER": "outbox",
        "BACKUP_OUTBOX_DIR": str(outbox),
        "BACKUP_MAIL_SENDER": "backup-events@example.com",
        "BACKUP_MAIL_RECIPIENTS": "oncall@example.com",
    }
    return Settings.from_environ({**values, **overrides})


def replay(files: list[Path], outbox: Path, *, interval: timedelta = timedelta(minutes=15), **overrides: str) -> Replay:
    """Play ``files`` through normalise → incidents → emails, polled as the Timer would have polled them."""
    source = FileJobSource(files, honour_window=True)
    jobs = source.export.jobs.values()
    result = Replay(
        vaults=len(source.vault_ids()),
        jobs=len(jobs),
        failed=sum(str(j["properties"].get("status")).casefold() == "failed" for j in jobs),
        items=sum(map(len, source.export.items.values())),
    )
    starts = source.start_times()
    if not starts:
        return result
    first, last = _step_up(min(starts), interval), _step_up(max(starts), interval)
    result.first, result.last = first, last
    settings = settings_for(outbox, **overrides)
    now = {"t": first}
    store = MemoryIncidentStore(clock=lambda: now["t"])
    services = bootstrap.build(settings, clock=lambda: now["t"], source=source, store_override=store)
    reminders = [timedelta(hours=h) for h in settings.reminder_hours]
    pending = sorted({_step_up(t, interval) for t in starts})  # a sorted list is a heap
    done: set[datetime] = set()
    draining: set[datetime] = set()  # polls past the last job, only to send what the mail budget held back
    summaries = summary_times(first, last, settings)
    polled: list[datetime] = []

    def summarise_until(moment: datetime) -> None:
        """The summaries due by ``moment``; a day without a poll in its 24 hours (a gap in the export) has none."""
        while summaries and summaries[0] <= moment:
            now["t"] = summaries.pop(0)
            if polled and polled[-1] > now["t"] - summary.WINDOW:
                result.summaries += summary.send_summary(services).subjects

    while pending:
        at = heapq.heappop(pending)
        if at in done or (at > last and at not in draining):
            continue
        done.add(at)
        summarise_until(at - timedelta(microseconds=1))  # a summary at the poll's own time sees that poll
        now["t"] = at
        report = poll.poll_jobs(services)
        polled.append(at)
        result.report.add(report)
        result.polls += 1
        if report.deferred and len(draining) < _MOST_DRAINING_POLLS:  # held back by the budget: sent next poll
            heapq.heappush(pending, at + interval)
            draining.add(at + interval)
        for offset in reminders if report.opened else []:  # new incidents owe reminders later
            heapq.heappush(pending, _step_up(at + offset, interval))
    summarise_until(datetime.max.replace(tzinfo=UTC))
    return result
