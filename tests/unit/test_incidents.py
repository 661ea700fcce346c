"""Which emails an incident is owed, as pure decisions."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from backup_events.domain.identity import incident_key
from backup_events.domain.incidents import (
    OPENED,
    RECOVERED,
    REMINDER,
    SENDING,
    SENT,
    Incident,
    Policy,
    claimed,
    closed,
    emails_due,
    sent,
)
from tests.builders import make_incident

T0 = datetime(2026, 11, 25, 0, 0, tzinfo=UTC)
POLICY = Policy(reminder_hours=(24, 72))
VAULT = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.RecoveryServices/vaults/v"


def incident(**changes: object) -> Incident:
    return make_incident(VAULT, "vm-1", T0, **changes)


def test_a_new_incident_is_owed_its_opening_email() -> None:
    assert emails_due(incident(), T0, POLICY) == [OPENED]


def test_an_opening_email_being_sent_elsewhere_is_not_owed_until_the_lease_runs_out() -> None:
    being_sent = claimed(incident(), OPENED, T0)
    assert emails_due(being_sent, T0 + timedelta(minutes=5), POLICY) == []
    assert emails_due(being_sent, T0 + timedelta(minutes=16), POLICY) == [OPENED]


def test_reminders_follow_the_schedule() -> None:
    told = sent(claimed(incident(), OPENED, T0), OPENED)
    assert emails_due(told, T0 + timedelta(hours=23), POLICY) == []
    assert emails_due(told, T0 + timedelta(hours=24), POLICY) == [REMINDER]
    reminded = sent(claimed(told, REMINDER, T0 + timedelta(hours=24)), REMINDER)
    assert emails_due(reminded, T0 + timedelta(hours=71), POLICY) == []
    assert emails_due(reminded, T0 + timedelta(hours=72), POLICY) == [REMINDER]
    done = sent(claimed(reminded, REMINDER, T0 + timedelta(hours=72)), REMINDER)
    assert emails_due(done, T0 + timedelta(days=30), POLICY) == []


def test_a_failure_first_told_late_is_not_reminded_minutes_later() -> None:
    told_late = sent(claimed(incident(), OPENED, T0 + timedelta(hours=30)), OPENED)
    assert emails_due(told_late, T0 + timedelta(hours=30, minutes=15), POLICY) == []
    assert emails_due(told_late, T0 + timedelta(hours=54), POLICY) == [REMINDER]


def test_recovery_is_owed_only_after_the_opening_email_went_out_and_if_the_workload_wants_it() -> None:
    told = sent(claimed(incident(), OPENED, T0), OPENED)
    assert emails_due(closed(told, T0 + timedelta(hours=3), POLICY), T0 + timedelta(hours=3), POLICY) == [RECOVERED]
    quiet = Policy(recovery_workloads=frozenset({"Azure Files"}))
    assert emails_due(closed(told, T0 + timedelta(hours=3), quiet), T0 + timedelta(hours=3), quiet) == []
    untold = closed(incident(), T0 + timedelta(hours=1), POLICY)
    assert emails_due(untold, T0 + timedelta(hours=1), POLICY) == [OPENED]


def test_sent_records_when_and_moves_reminders_on() -> None:
    reminded = sent(claimed(replace(incident(), opened_email=SENT), REMINDER, T0 + timedelta(hours=24)), REMINDER)
    assert (reminded.reminders_sent, reminded.emailed_at, reminded.reminder_state) == (1, T0 + timedelta(hours=24), "none")
    assert claimed(incident(), OPENED, T0).opened_email == SENDING


def test_incident_keys_share_the_vault_partition_and_differ_by_item_and_code() -> None:
    a, b, c = incident_key(VAULT, "vm-1", "X"), incident_key(VAULT, "VM-1", "x"), incident_key(VAULT, "vm-2", "X")
    assert a == b and a != c
    assert a.split("|")[0] == VAULT.casefold()
