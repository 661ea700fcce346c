"""The Table Storage ledger against Azurite: atomic claims, ETags, key encoding."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest

from backup_events.adapters.table_ledger import TableLedger, table_keys
from tests.builders import make_incident
from tests.conftest import Clock

VAULT = "/Subscriptions/3b1f9c2e-5a7d-4e21-9c0b-7d2e4f6a8b10/resourceGroups/rg/providers/Microsoft.RecoveryServices/vaults/rsv"
KEY = f"{VAULT.casefold()}|5a1e0000-0000-4000-8000-000000000001"
SUMMARY = {"item": "vm-app-02", "code": "UserErrorGuestAgentStatusUnavailable"}


def test_first_claim_wins_and_second_is_refused(table: Any, clock: Clock) -> None:
    ledger = TableLedger(table, clock=clock)
    assert ledger.claim(KEY, summary=SUMMARY) is True
    assert ledger.claim(KEY, summary=SUMMARY) is False
    assert TableLedger(table, clock=clock).claim(KEY, summary=SUMMARY) is False


def test_eight_threads_claiming_one_job_yield_exactly_one_winner(table: Any, clock: Clock) -> None:
    TableLedger(table, clock=clock).is_told(KEY)  # create the table before the race
    results: list[bool] = []
    barrier = threading.Barrier(8)

    def claim() -> None:
        ledger = TableLedger(table, clock=clock)
        barrier.wait()
        results.append(ledger.claim(KEY, summary=SUMMARY))

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 7 + [True]


def test_released_claim_can_be_claimed_again(table: Any, clock: Clock) -> None:
    ledger = TableLedger(table, clock=clock)
    assert ledger.claim(KEY, summary=SUMMARY)
    ledger.release(KEY)
    assert not ledger.is_told(KEY)
    assert ledger.claim(KEY, summary=SUMMARY)


def test_sent_job_is_told_for_good(table: Any, clock: Clock) -> None:
    ledger = TableLedger(table, clock=clock)
    ledger.claim(KEY, summary=SUMMARY)
    ledger.mark_sent(KEY, delivery_id="op-1")
    clock.advance(days=30)
    assert ledger.is_told(KEY)
    assert not ledger.claim(KEY, summary=SUMMARY)
    partition, row = table_keys(KEY)
    entity = table.get_entity(partition, row)
    assert (entity["state"], entity["deliveryId"], entity["ledgerKey"]) == ("sent", "op-1", KEY)


def test_claim_abandoned_by_a_crashed_instance_is_taken_over_after_the_lease(table: Any, clock: Clock) -> None:
    crashed = TableLedger(table, clock=clock, lease=timedelta(minutes=15))
    assert crashed.claim(KEY, summary=SUMMARY)
    survivor = TableLedger(table, clock=clock, lease=timedelta(minutes=15))
    clock.advance(minutes=10)
    assert survivor.is_told(KEY) and not survivor.claim(KEY, summary=SUMMARY)
    clock.advance(minutes=6)
    assert not survivor.is_told(KEY)
    assert survivor.claim(KEY, summary=SUMMARY)
    assert not TableLedger(table, clock=clock).claim(KEY, summary=SUMMARY)


def test_release_after_a_takeover_leaves_the_new_owner_alone(table: Any, clock: Clock) -> None:
    slow = TableLedger(table, clock=clock, lease=timedelta(minutes=1))
    slow.claim(KEY, summary=SUMMARY)
    clock.advance(minutes=2)
    fast = TableLedger(table, clock=clock, lease=timedelta(minutes=1))
    assert fast.claim(KEY, summary=SUMMARY)
    slow.release(KEY)  # ETag no longer matches: must not delete the new owner's claim
    assert fast.is_told(KEY)


@pytest.mark.parametrize(
    "name",
    ["plain-guid", "has/slash", "back\\slash", "hash#tag", "question?mark", "percent%20", "ctrl\x01char"],
)
def test_keys_with_characters_tables_forbid_are_encoded(table: Any, clock: Clock, name: str) -> None:
    key = f"{VAULT.casefold()}|{name}"
    partition, row = table_keys(key)
    assert not any(c in partition + row for c in "/\\#?\x01")
    ledger = TableLedger(table, clock=clock)
    assert ledger.claim(key, summary=SUMMARY)
    assert ledger.is_told(key)
    assert not ledger.is_told(f"{VAULT.casefold()}|other")


def test_same_job_name_in_two_vaults_are_two_keys() -> None:
    assert table_keys(f"{VAULT.casefold()}|job") != table_keys(f"{VAULT.casefold()}2|job")


def test_recording_a_batch_counts_new_open_and_closed_incidents_exactly(table: Any, clock: Clock) -> None:
    from backup_events.adapters.table_ledger import TableIncidents
    from backup_events.domain.incidents import Incident, Policy, Recorded

    store = TableIncidents(table, clock=clock, policy=Policy())
    vault = VAULT.casefold()

    def incident(item: str) -> Incident:
        return make_incident(VAULT, item, clock())

    # Before: vm-open has an open incident (1 failure); vm-closed had one that closed; job-0 was recorded already.
    assert store.record_failure(f"{vault}|old-1", incident("vm-open")) is Recorded.OPENED
    assert store.record_failure(f"{vault}|old-2", incident("vm-closed")) is Recorded.OPENED
    assert store.record_success(VAULT, "vm-closed", at=clock() + timedelta(minutes=1))
    assert store.record_failure(f"{vault}|job-0", incident("vm-new")) is Recorded.OPENED

    pairs = [
        (f"{vault}|job-{n}", incident(item)) for n, item in enumerate(["vm-new", "vm-new", "vm-open", "vm-closed", "vm-open"])
    ]
    outcomes = store.record_failures(pairs)

    assert outcomes == [Recorded.DUPLICATE, Recorded.REPEAT, Recorded.REPEAT, Recorded.OPENED, Recorded.REPEAT]
    counts = {item: store.incident(incident(item).key).count for item in ("vm-new", "vm-open", "vm-closed")}  # type: ignore[union-attr]
    assert counts == {"vm-new": 2, "vm-open": 3, "vm-closed": 1}
    assert store.incident(incident("vm-closed").key).is_open  # type: ignore[union-attr]


def test_only_incidents_that_may_owe_an_email_are_listed(table: Any, clock: Clock) -> None:
    from backup_events.adapters.table_ledger import TableIncidents
    from backup_events.domain.incidents import OPENED, Policy

    store = TableIncidents(table, clock=clock, policy=Policy(reminder_hours=(24, 72)))
    incident = make_incident(VAULT, "vm-1", clock())
    store.record_failure(f"{VAULT.casefold()}|job-1", incident)
    assert [i.key for i in store.incidents_owing_email()] == [incident.key]  # its opening email is owed
    (owed,) = store.incidents_owing_email()
    claimed = store.claim_email(owed, OPENED)
    assert claimed is not None
    store.settle_emails([(claimed, OPENED, True)])
    clock.advance(hours=23)
    assert store.incidents_owing_email() == []  # open, told, quiet: not read again until a reminder could be due
    clock.advance(hours=1, minutes=1)
    assert [i.key for i in store.incidents_owing_email()] == [incident.key]
