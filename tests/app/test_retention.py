"""Retention: closed incidents and job rows older than ``retention`` are deleted, a bounded number per call.

The rows are made the way production makes them, by polls: a failed backup records a job row and opens an incident;
a later good backup of the item closes it.
"""

from __future__ import annotations

import zlib
from datetime import timedelta

from backup_events.adapters.sample_jobs import SampleJobSource
from backup_events.app.poll import poll_jobs
from backup_events.app.services import Services
from backup_events.domain.decide import ledger_key_of
from tests.app.conftest import BuildServices
from tests.app.parts import VAULTS, failed_vm_job
from tests.conftest import Clock

VAULT = VAULTS["rsv-prod-weu"]
RETENTION = timedelta(days=30)


def fail(build: BuildServices, clock: Clock, *items: str, recover: bool) -> list[tuple[str, str]]:
    """Poll while ``items`` fail now; with ``recover``, poll again once each has had a good backup.

    Returns each failed job's (job key, incident key).
    """
    failures = [failed_vm_job(zlib.crc32(item.encode()), item, clock()) for item in items]
    svc = build(source=SampleJobSource(failures), retention=RETENTION)
    poll_jobs(svc)
    if recover:
        clock.advance(hours=2)
        good = [
            failed_vm_job(n + 10**9, job["properties"]["entityFriendlyName"], clock() - timedelta(hours=1), status="Completed")
            for n, job in enumerate(failures)
        ]
        assert poll_jobs(build(source=SampleJobSource(failures + good), retention=RETENTION)).recovered == len(items)
    keys = []
    for job in failures:
        job_key = ledger_key_of(VAULT, job["name"])
        incident = svc.deps.incidents.incident_of_job(job_key)
        assert incident is not None
        keys.append((job_key, incident))
    return keys


def remembered(svc: Services, rows: list[tuple[str, str]]) -> int:
    """How many of these job rows and incidents the store still holds."""
    return sum(svc.deps.incidents.incident_of_job(job) is not None for job, _ in rows) + sum(
        svc.deps.incidents.incident(incident) is not None for _, incident in rows
    )


def test_expire_deletes_at_most_limit_rows_per_call(build: BuildServices, clock: Clock) -> None:
    today = clock()
    clock.now = today - RETENTION - timedelta(days=10)
    rows = fail(build, clock, *(f"vm-{n}" for n in range(5)), recover=True)  # 5 job rows, 5 closed incidents
    assert len(build().deps.incidents.runs_since(clock() - timedelta(days=1))) == 2  # and the two polls' run rows
    clock.now = today
    svc, cutoff = build(source=SampleJobSource([])), today - RETENTION

    assert svc.deps.incidents.expire(cutoff, limit=3) == 3
    assert remembered(svc, rows) == 7
    assert [svc.deps.incidents.expire(cutoff, limit=3) for _ in range(4)] == [3, 3, 3, 0]
    assert remembered(svc, rows) == 0
    assert svc.deps.incidents.runs_since(cutoff - timedelta(days=30)) == []


def test_a_poll_deletes_closed_incidents_and_job_rows_older_than_the_retention_and_keeps_the_rest(
    build: BuildServices, clock: Clock
) -> None:
    today = clock()
    clock.now = today - RETENTION - timedelta(days=10)
    ((old_job, old_closed),) = fail(build, clock, "vm-recovered-long-ago", recover=True)
    ((stuck_job, still_open),) = fail(build, clock, "vm-failing-since-long-ago", recover=False)
    clock.now = today - RETENTION + timedelta(days=1)
    ((recent_job, recent_closed),) = fail(build, clock, "vm-recovered-recently", recover=True)
    clock.now = today

    svc = build(source=SampleJobSource([]), retention=RETENTION)
    # The old polls' run rows were taken over by the recent polls at the same minutes of the day: nothing to expire.
    assert poll_jobs(svc).expired == 3
    assert len(svc.deps.incidents.runs_since(today - RETENTION)) == 2  # the recent polls' are kept

    assert svc.deps.incidents.incident(old_closed) is None
    assert svc.deps.incidents.incident_of_job(old_job) is None and svc.deps.incidents.incident_of_job(stuck_job) is None
    assert svc.deps.incidents.incident(still_open) is not None  # an open incident is never expired
    assert (
        svc.deps.incidents.incident(recent_closed) is not None and svc.deps.incidents.incident_of_job(recent_job) == recent_closed
    )
