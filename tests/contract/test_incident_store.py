"""The incident store's contract: every promise the app relies on, held by the in-memory store and by Table Storage.

Each test runs twice: on ``MemoryIncidentStore`` and on ``TableIncidentStore`` against Azurite. The app's own
functions (``app.recording``) drive the stores where the promise is about how they are used together.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from backup_events.adapters.memory_store import MemoryIncidentStore
from backup_events.adapters.table_store import TableIncidentStore, table_keys
from backup_events.app.recording import claim_emails, close_recovered, record_failure, record_failures, settle_emails
from backup_events.domain.incidents import OPENED, Change, Incident, Outcome, Policy, Recorded, closed, owing_query
from backup_events.domain.watch import VaultRun
from backup_events.ports import IncidentStore
from tests.builders import make_incident
from tests.conftest import Clock

VAULT = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.RecoveryServices/vaults/v1"
JOB = f"{VAULT.casefold()}|job"


@pytest.fixture(params=["memory", "table"])
def make_store(request: pytest.FixtureRequest, clock: Clock) -> Iterator[Callable[[], IncidentStore]]:
    """A factory of stores sharing one backing (two instances of the app see the same incidents)."""
    if request.param == "memory":
        shared = MemoryIncidentStore(clock=clock)
        yield lambda: shared
        return
    from azure.data.tables import TableClient

    azurite, name = request.getfixturevalue("azurite"), request.getfixturevalue("table_name")
    clients: list[Any] = []

    def table_store() -> IncidentStore:
        clients.append(TableClient.from_connection_string(azurite, table_name=name))
        return TableIncidentStore(clients[-1], clock=clock)

    yield table_store
    if clients:
        clients[0].delete_table()
    for client in clients:
        client.close()


@pytest.fixture
def store(make_store: Callable[[], IncidentStore]) -> IncidentStore:
    return make_store()


def incident(clock: Clock, item: str = "vm-1", **changes: object) -> Incident:
    return make_incident(VAULT, item, clock(), **changes)


def test_a_new_incident_lands_with_its_job_and_reads_back_equal(store: IncidentStore, clock: Clock) -> None:
    new = incident(clock)
    assert store.commit([Change(None, new, jobs=(f"{JOB}-1",))]) == [Outcome.LANDED]
    assert store.incident(new.key) == new
    assert store.incident_of_job(f"{JOB}-1") == new.key
    assert store.recorded_jobs(VAULT) == {f"{JOB}-1"}
    assert store.incidents_in(VAULT, [new.key, "nope"]) == {new.key: new}


def test_a_job_is_recorded_once_and_a_second_change_with_it_writes_nothing(store: IncidentStore, clock: Clock) -> None:
    first = incident(clock)
    store.commit([Change(None, first, jobs=(f"{JOB}-1",))])
    other = incident(clock, "vm-2")
    assert store.commit([Change(None, other, jobs=(f"{JOB}-1",))]) == [Outcome.DUPLICATE]
    assert store.incident(other.key) is None


def test_a_change_from_a_state_that_is_no_longer_current_conflicts(make_store: Callable[[], IncidentStore], clock: Clock) -> None:
    mine, theirs = make_store(), make_store()
    new = incident(clock)
    mine.commit([Change(None, new)])
    seen = theirs.incident(new.key)
    assert seen is not None
    assert mine.commit([Change(new, replace(new, count=2))]) == [Outcome.LANDED]
    assert theirs.commit([Change(seen, replace(seen, count=5))]) == [Outcome.CONFLICT]
    assert theirs.commit([Change(None, new)]) == [Outcome.CONFLICT]  # created already
    assert mine.incident(new.key) == replace(new, count=2)


def test_an_email_claim_leaves_the_counts_alone_and_a_settlement_lands_even_after_a_count(
    make_store: Callable[[], IncidentStore], clock: Clock
) -> None:
    sender, counter = make_store(), make_store()
    new = incident(clock)
    sender.commit([Change(None, new, jobs=(f"{JOB}-1",))])
    (claim,) = claim_emails(sender, [(new, OPENED)], clock())
    assert claim is not None and claim.opened_email == "sending"
    assert record_failure(counter, f"{JOB}-2", new) is Recorded.REPEAT  # counted while the email is out
    settle_emails(sender, [(claim, OPENED, True)])
    final = counter.incident(new.key)
    assert final is not None and (final.count, final.opened_email) == (2, "sent")


def test_two_claims_of_one_email_have_one_winner(make_store: Callable[[], IncidentStore], clock: Clock) -> None:
    first, second = make_store(), make_store()
    new = incident(clock)
    first.commit([Change(None, new)])
    seen = second.incident(new.key)
    assert seen is not None
    assert claim_emails(first, [(new, OPENED)], clock())[0] is not None
    assert claim_emails(second, [(seen, OPENED)], clock()) == [None]


def test_eight_instances_counting_one_incident_count_each_job_once(make_store: Callable[[], IncidentStore], clock: Clock) -> None:
    new = incident(clock)
    outcomes: list[Recorded] = []
    barrier = threading.Barrier(8)

    def instance(n: int) -> None:
        store = make_store()
        barrier.wait()
        outcomes.extend(record_failure(store, f"{JOB}-{n % 6}", new) for _ in range(2))

    threads = [threading.Thread(target=instance, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count(Recorded.OPENED) == 1
    assert outcomes.count(Recorded.OPENED) + outcomes.count(Recorded.REPEAT) == 6
    final = make_store().incident(new.key)
    assert final is not None and final.count == 6


def test_recording_a_batch_counts_new_open_and_closed_incidents_exactly(store: IncidentStore, clock: Clock) -> None:
    # Before: vm-open has an open incident (1 failure); vm-closed had one that closed; job-0 was recorded already.
    assert record_failure(store, f"{JOB}-old-1", incident(clock, "vm-open")) is Recorded.OPENED
    assert record_failure(store, f"{JOB}-old-2", incident(clock, "vm-closed")) is Recorded.OPENED
    (open_closed,) = [i for i in store.open_incidents(VAULT) if i.item == "vm-closed"]
    assert close_recovered(store, [open_closed], at=clock() + timedelta(minutes=1), operation="Backup", policy=Policy())
    assert record_failure(store, f"{JOB}-0", incident(clock, "vm-new")) is Recorded.OPENED

    items = ["vm-new", "vm-new", "vm-open", "vm-closed", "vm-open"]
    outcomes = record_failures(store, [(f"{JOB}-{n}", incident(clock, item)) for n, item in enumerate(items)])

    assert outcomes == [Recorded.DUPLICATE, Recorded.REPEAT, Recorded.REPEAT, Recorded.OPENED, Recorded.REPEAT]
    counts = {item: store.incident(incident(clock, item).key).count for item in ("vm-new", "vm-open", "vm-closed")}  # type: ignore[union-attr]
    assert counts == {"vm-new": 2, "vm-open": 3, "vm-closed": 1}
    assert sorted(i.item for i in store.open_incidents(VAULT)) == ["vm-closed", "vm-new", "vm-open"]


def test_a_storm_of_250_failures_of_one_incident_counts_every_one(store: IncidentStore, clock: Clock) -> None:
    outcomes = record_failures(store, [(f"{JOB}-{n}", incident(clock)) for n in range(250)])
    assert outcomes.count(Recorded.OPENED) == 1 and outcomes.count(Recorded.REPEAT) == 249
    final = store.incident(incident(clock).key)
    assert final is not None and final.count == 250


def test_only_incidents_that_may_owe_an_email_are_listed(store: IncidentStore, clock: Clock) -> None:
    policy = Policy(reminder_hours=(24, 72))
    new = incident(clock)
    record_failure(store, f"{JOB}-1", new)
    assert [i.key for i in store.owing_email(owing_query(clock(), policy))] == [new.key]  # its opening email is owed
    (claim,) = claim_emails(store, [(new, OPENED)], clock())
    assert claim is not None
    settle_emails(store, [(claim, OPENED, True)])
    clock.advance(hours=23)
    assert store.owing_email(owing_query(clock(), policy)) == []  # open, told, quiet: not read until a reminder is due
    clock.advance(hours=1, minutes=1)
    assert [i.key for i in store.owing_email(owing_query(clock(), policy))] == [new.key]


def test_expire_deletes_old_closed_incidents_and_jobs_within_its_limit(store: IncidentStore, clock: Clock) -> None:
    for n in range(3):
        record_failure(store, f"{JOB}-{n}", incident(clock, f"vm-{n}"))
    for open_one in store.open_incidents(VAULT)[:2]:
        store.commit([Change(open_one, closed(open_one, clock(), Policy()))])
    clock.advance(days=31)
    assert store.expire(clock() - timedelta(days=30), limit=2) == 2
    assert store.expire(clock() - timedelta(days=30), limit=100) == 3  # the rest: 3 jobs; the open incident stays
    assert len(store.open_incidents(VAULT)) == 1
    assert store.recorded_jobs(VAULT) == set()


@pytest.mark.parametrize(
    "name", ["plain-guid", "has/slash", "back\\slash", "hash#tag", "question?mark", "percent%20", "ctrl\x01char"]
)
def test_job_keys_with_characters_tables_forbid_are_recorded(store: IncidentStore, clock: Clock, name: str) -> None:
    partition, row = table_keys(f"{VAULT.casefold()}|{name}")
    assert not any(c in partition + row for c in "/\\#?\x01")
    assert record_failure(store, f"{VAULT.casefold()}|{name}", incident(clock)) is Recorded.OPENED
    assert store.incident_of_job(f"{VAULT.casefold()}|{name}") is not None
    assert store.incident_of_job(f"{VAULT.casefold()}|other") is None


def test_same_job_name_in_two_vaults_are_two_keys() -> None:
    assert table_keys(f"{VAULT.casefold()}|job") != table_keys(f"{VAULT.casefold()}2|job")


def test_the_hourly_mail_budget_is_shared_exactly_by_every_instance(make_store: Callable[[], IncidentStore]) -> None:
    given: list[int] = []
    barrier = threading.Barrier(4)

    def instance() -> None:
        store = make_store()
        barrier.wait()
        given.extend(store.spend_mail("2026-11-25T09", 3, 10) for _ in range(2))

    threads = [threading.Thread(target=instance) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(given) == 10 and max(given) <= 3
    assert make_store().spend_mail("2026-11-25T09", 1, 10) == 0
    assert make_store().spend_mail("2026-11-25T10", 5, 10) == 5  # a new hour, a new budget


# --- what each run saw, and the incidents of the last day (the daily summary) ---------------------------------


def run_of(clock: Clock, vault: str = VAULT, **changes: object) -> VaultRun:
    run = VaultRun(vault, vault.rsplit("/", 1)[-1], clock(), 24, readable=True, succeeded=40, failed=2)
    return replace(run, **changes)  # type: ignore[arg-type]


def test_runs_are_kept_per_vault_and_read_back_oldest_first(store: IncidentStore, clock: Clock) -> None:
    other = VAULT.replace("/v1", "/v2")
    first = run_of(clock)
    clock.advance(minutes=15)
    second, blind = run_of(clock, failed=3), run_of(clock, other, readable=False, succeeded=0, failed=0, error="HTTP 403")
    store.record_runs([first])
    store.record_runs([second, blind])
    store.record_runs([second])  # a run written twice is one row
    assert store.runs_since(first.at) == [first, second, blind]  # by time, then vault
    assert store.runs_since(second.at) == [second, blind]
    assert store.runs_since(clock() + timedelta(seconds=1)) == []


def test_runs_expire_with_the_rest(store: IncidentStore, clock: Clock) -> None:
    store.record_runs([run_of(clock)])
    clock.advance(days=31, minutes=15)
    store.record_runs([run_of(clock)])
    assert store.expire(clock() - timedelta(days=30), limit=100) == 1
    assert [r.at for r in store.runs_since(clock() - timedelta(days=60))] == [clock()]


def test_a_vault_keeps_a_day_of_runs_at_most_whatever_the_number_of_runs(store: IncidentStore, clock: Clock) -> None:
    start = clock()
    for _ in range(3 * 96):  # three days of a poll every 15 minutes
        store.record_runs([run_of(clock)])
        clock.advance(minutes=15)
    kept = store.runs_since(start - timedelta(days=1))
    assert len(kept) == 96 and min(r.at for r in kept) == start + timedelta(days=2)  # the last day's, each once


def test_the_incidents_of_the_last_day_are_the_open_ones_and_those_closed_since(store: IncidentStore, clock: Clock) -> None:
    still_open, recovered_today, recovered_long_ago = (incident(clock, f"vm-{n}") for n in range(3))
    for n, new in enumerate((still_open, recovered_today, recovered_long_ago)):
        record_failure(store, f"{JOB}-{n}", new)
    (old,) = [i for i in store.open_incidents(VAULT) if i.key == recovered_long_ago.key]
    store.commit([Change(old, closed(old, clock(), Policy()))])
    clock.advance(days=2)
    (today,) = [i for i in store.open_incidents(VAULT) if i.key == recovered_today.key]
    store.commit([Change(today, closed(today, clock(), Policy()))])
    found = {i.key: i for i in store.incidents_since(clock() - timedelta(days=1))}
    assert sorted(found) == sorted([still_open.key, recovered_today.key])
    assert found[recovered_today.key].closed_at == clock() and found[still_open.key].is_open
