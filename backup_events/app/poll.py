"""The Timer's use case: every watched vault read, its failures recorded, recoveries and missed backups found, and
the emails owed sent once the whole run is known (so the digest and the budget see all of it)."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from backup_events.app import blind, recording
from backup_events.app.missed import check_missed
from backup_events.app.notify import notify
from backup_events.app.record import count, handle_job, protected_items
from backup_events.app.recover import close_recovered, open_by_item, recover_from_items
from backup_events.app.services import SUCCESS_STATUSES, RunReport, Services
from backup_events.domain.ids import parse_vault_id
from backup_events.domain.incidents import Incident
from backup_events.domain.watch import VaultRun
from backup_events.errors import MalformedInputError, RunFailedError, SourceError

log = logging.getLogger(__name__)

_EXPIRE_PER_RUN = 500


def poll_vault(services: Services, vault_id: str, since: datetime, until: datetime) -> RunReport:
    """Record one vault's failures, close its recovered incidents, spot missed backups; skip it if unreadable."""
    report = RunReport(vaults=1)
    try:
        jobs = list(services.deps.source.jobs(vault_id, since=since, until=until))
        items = protected_items(services, vault_id) if jobs or services.config.missed_grace is not None else {}
        recorded = services.deps.incidents.recorded_jobs(vault_id) if jobs else set()
        pending: list[tuple[str, Incident]] = []
        tag_routes: dict[str, str] = {}
        for raw in jobs:
            try:
                if prepared := handle_job(services, raw, report, items=items, recorded=recorded, tag_routes=tag_routes):
                    pending.append(prepared)
            except Exception as exc:  # one bad job never stops the run; it is retried next run
                log.exception("Job %s could not be handled", raw.get("id"))
                report.problems.append(f"job {raw.get('id')}: {type(exc).__name__}: {exc}")
        try:
            for (_, incident), outcome in zip(pending, recording.record_failures(services.deps.incidents, pending), strict=True):
                count(report, outcome, incident)
        except Exception as exc:  # the ledger failed: what was not recorded is seen again, and recorded, next run
            log.exception("Jobs of vault %s could not be recorded", vault_id)
            report.problems.append(f"recording the jobs of vault {vault_id} stopped part-way: {type(exc).__name__}: {exc}")
        blind_spots: list[Incident] = []
        by_item = open_by_item(services, vault_id, blind=blind_spots)  # after recording: this run's may have opened some
        # Good jobs close incidents and are the summary's successes; with neither to serve, they are not read.
        counting = any(by_item.values()) or services.config.summary_time is not None
        successes = (
            list(services.deps.source.jobs(vault_id, since=since, until=until, statuses=SUCCESS_STATUSES)) if counting else []
        )
        blind.clear(services, blind_spots, until)  # read again: no longer blind
        close_recovered(services, until, report, by_item=by_item, successes=successes)
        if items:
            recover_from_items(services, items, report, by_item=by_item)
            check_missed(services, vault_id, items, until, report, by_item=by_item)
        report.runs.append(_run_of(services, vault_id, until, succeeded=len(successes), failed=len(jobs)))
    except SourceError as exc:
        report.vaults_skipped += 1
        report.problems.append(f"vault {vault_id} skipped this run: {exc}")
        report.unreadable[vault_id] = str(exc)
        report.runs.append(_run_of(services, vault_id, until, error=str(exc)))
        log.error("Vault %s skipped this run: %s", vault_id, exc)
    return report


def _run_of(services: Services, vault_id: str, at: datetime, *, succeeded: int = 0, failed: int = 0, error: str = "") -> VaultRun:
    """The row the daily summary reads: this run's window, and what it held (or why it could not be read)."""
    try:
        name = parse_vault_id(vault_id)["vault_name"]
    except MalformedInputError:  # a vault id no API accepts: it is named as given
        name = vault_id
    hours = int(services.config.lookback.total_seconds() // 3600)
    return VaultRun(vault_id, name, at, hours, readable=not error, succeeded=succeeded, failed=failed, error=error[:1000])


def poll_jobs(services: Services, *, past_due: bool = False) -> RunReport:
    """One run over every vault: record each failed job, close recovered incidents, send what is owed.

    Vaults are read concurrently by a bounded pool (they may sit in many subscriptions and regions);
    emails are sent afterwards, in one place, so the digest and the budget see the whole run.
    """
    if past_due:
        log.warning("Timer is past due: this run's window still overlaps the missed ones")
    until = services.deps.clock()
    since = until - services.config.lookback
    report = RunReport()
    try:
        vault_ids = services.deps.source.vault_ids()
    except SourceError as exc:  # discovery failed: nothing at all can be seen this run
        report.problems.append(f"the watched vaults could not be listed: {exc}")
        log.error("The watched vaults could not be listed: %s", exc)
        blind.observe(services, [blind.every_vault_spot(str(exc), until)], until.isoformat(), report)
        notify(services, report)
        return report
    with ThreadPoolExecutor(max_workers=max(1, min(services.config.vault_concurrency, len(vault_ids)))) as pool:
        for vault_report in pool.map(lambda vault_id: poll_vault(services, vault_id, since, until), vault_ids):
            report.add(vault_report)
    blind.after_run(services, vault_ids, report, until)
    services.deps.incidents.record_runs(report.runs)
    notify(services, report)
    report.expired = services.deps.incidents.expire(until - services.config.retention, limit=_EXPIRE_PER_RUN)
    return report


def on_timer(services: Services, *, past_due: bool) -> RunReport:
    """The Timer's work: poll, log the summary, and fail the invocation when anything went wrong."""
    report = poll_jobs(services, past_due=past_due)
    log.info("Poll finished: %s", ", ".join(f"{name.strip()} {count}" for name, count in report.rows()))
    if report.vaults_skipped or report.problems:
        raise RunFailedError("; ".join(report.problems))
    return report
