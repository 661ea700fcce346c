"""Recording and claiming over the in-memory store: exact outcomes in as few round trips as the docstrings promise."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import pytest

from backup_events.adapters.memory_store import MemoryIncidentStore
from backup_events.app import recording
from backup_events.domain.incidents import (
    OPENED,
    SENDING,
    SENT,
    Change,
    Outcome,
    Policy,
    Recorded,
)
from backup_events.errors import IncidentsBusyError
from tests.builders import make_incident
from tests.conftest import Clock

VAULT = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.RecoveryServices/vaults/v"
OTHER = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.RecoveryServices/vaults/w"


class CountingStore(MemoryIncidentStore):
    """The in-memory store, counting its commits (each one a storage round trip on Table Storage)."""

    commits = 0

    def commit(self, changes: Sequence[Change]) -> list[Outcome]:
        self.commits += 1
        return super().commit(changes)


class ContendedStore(MemoryIncidentStore):
    """A store where another instance always changes the incident first."""

    def commit(self, changes: Sequence[Change]) -> list[Outcome]:
        return [Outcome.CONFLICT for _ in changes]


def test_a_storm_of_repeats_of_an_open_incident_lands_in_one_round_trip_and_counts_exactly(clock: Clock) -> None:
    store = CountingStore(clock=clock)
    first = make_incident(VAULT, "vm-1", clock())
    assert recording.record_failures(store, [("job-0", first)]) == [Recorded.OPENED]
    store.commits = 0
    later = make_incident(VAULT, "vm-1", clock() + timedelta(minutes=5), last_job="job-150")
    pairs = [(f"job-{n}", later) for n in range(1, 151)]  # two changes: 99 jobs, then 51 made from the first
    assert recording.record_failures(store, pairs) == [Recorded.REPEAT] * 150
    assert store.commits == 1
    stored = store.incident(first.key)
    assert stored is not None and (stored.count, stored.last_job) == (151, "job-150")


def test_the_vaults_incidents_are_read_from_that_vault_only(clock: Clock) -> None:
    store = MemoryIncidentStore(clock=clock)
    mine, theirs = make_incident(VAULT, "vm-1", clock()), make_incident(OTHER, "vm-1", clock())
    recording.record_failures(store, [("job-1", mine)])
    recording.record_failures(store, [("job-2", theirs)])
    assert store.incidents_in(VAULT, [mine.key, theirs.key]) == {mine.key: store.incident(mine.key)}


def test_an_incident_that_keeps_changing_leaves_its_job_for_the_next_run_and_says_which(clock: Clock) -> None:
    incident = make_incident(VAULT, "vm-1", clock())
    with pytest.raises(IncidentsBusyError, match=r"incident .*inc-.* kept changing; job job-7 left for the next run"):
        recording.record_failure(ContendedStore(clock=clock), "job-7", incident)


def test_a_full_backup_closes_an_incident_of_a_failed_full_backup(clock: Clock) -> None:
    store = MemoryIncidentStore(clock=clock)
    full = make_incident(VAULT, "db-1", clock(), operation="Backup (Full)", workload="SQLDataBase")
    recording.record_failures(store, [("job-1", full)])
    closed = recording.close_recovered(store, [full], at=clock() + timedelta(hours=1), operation="Backup (Full)", policy=Policy())
    assert [i.key for i in closed] == [full.key]
    stored = store.incident(full.key)
    assert stored is not None and not stored.is_open


def test_a_claim_outside_a_digest_carries_no_digest_key(clock: Clock) -> None:
    store = MemoryIncidentStore(clock=clock)
    incident = make_incident(VAULT, "vm-1", clock())
    recording.record_failures(store, [("job-1", incident)])
    read = store.incident(incident.key)
    assert read is not None
    (claim,) = recording.claim_emails(store, [(read, OPENED)], clock())
    stored = store.incident(incident.key)
    assert claim is not None and stored is not None and (stored.opened_email, stored.digest) == (SENDING, "")


def test_a_claim_inside_a_digest_keeps_the_digests_key(clock: Clock) -> None:
    store = MemoryIncidentStore(clock=clock)
    incident = make_incident(VAULT, "vm-1", clock())
    recording.record_failures(store, [("job-1", incident)])
    read = store.incident(incident.key)
    assert read is not None
    (claim,) = recording.claim_emails(store, [(read, OPENED)], clock(), digest="digest|k")
    stored = store.incident(incident.key)
    assert claim is not None and stored is not None and (claim.digest, stored.digest) == ("digest|k", "digest|k")
    recording.settle_emails(store, [(claim, OPENED, True)])
    settled = store.incident(incident.key)
    assert settled is not None and (settled.opened_email, settled.digest, settled.recovery_email) == (SENT, "", "none")
