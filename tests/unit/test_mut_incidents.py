"""Incidents' email bookkeeping, pinned where a slip would change what readers get or what the store keeps."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from backup_events.domain.incidents import (
    NONE,
    OPENED,
    PENDING,
    RECOVERED,
    REMINDER,
    SENDING,
    SENT,
    Incident,
    Policy,
    being_sent,
    claimed,
    closed,
    counted,
    digest_key,
    emails_due,
    hour_of,
    may_owe,
    owing_query,
    pack_mail,
    recovers,
    sent,
    unpack_mail,
)
from tests.builders import make_incident

T0 = datetime(2026, 11, 25, 0, 0, tzinfo=UTC)
H = timedelta(hours=1)
POLICY = Policy(reminder_hours=(24, 72))
VAULT = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.RecoveryServices/vaults/v"


def incident(item: str = "vm-1", **changes: object) -> Incident:
    return make_incident(VAULT, item, T0, **changes)


def told(**changes: object) -> Incident:
    """An open incident whose opening email went out when it opened."""
    return incident(**{"opened_email": SENT, "emailed_at": T0, **changes})


def test_a_kept_email_comes_back_whole() -> None:
    assert unpack_mail(pack_mail("件名", "text", "<p>html</p>")) == ("件名", "text", "<p>html</p>")


def test_a_claim_is_held_for_the_whole_lease_and_not_a_moment_less() -> None:
    out = claimed(incident(), OPENED, T0)
    assert being_sent(out, T0 + POLICY.lease, POLICY.lease)
    assert not being_sent(out, T0 + POLICY.lease + timedelta(seconds=1), POLICY.lease)


def test_a_reminder_being_sent_elsewhere_is_not_due_again_until_its_lease_runs_out() -> None:
    at = T0 + 25 * H
    out = claimed(told(), REMINDER, at)
    assert emails_due(out, at + timedelta(minutes=5), POLICY) == []
    assert emails_due(out, at + timedelta(minutes=16), POLICY) == [REMINDER]


def test_a_recovery_email_being_sent_elsewhere_is_not_due_again_until_its_lease_runs_out() -> None:
    at = T0 + 2 * H
    out = claimed(closed(told(), at, POLICY), RECOVERED, at)
    assert emails_due(out, at + timedelta(minutes=5), POLICY) == []
    assert emails_due(out, at + timedelta(minutes=16), POLICY) == [RECOVERED]


def test_a_first_email_told_late_waits_the_schedules_whole_gap_before_its_reminder() -> None:
    late = told(emailed_at=T0 + 10 * H)
    assert emails_due(late, T0 + 33 * H + 30 * timedelta(minutes=1), POLICY) == []
    assert emails_due(late, T0 + 34 * H, POLICY) == [REMINDER]


def test_a_second_reminder_waits_the_gap_between_the_first_and_the_second() -> None:
    policy = Policy(reminder_hours=(24, 72, 168))
    reminded_late = told(reminders_sent=1, emailed_at=T0 + 50 * H)
    assert emails_due(reminded_late, T0 + 72 * H, policy) == []
    assert emails_due(reminded_late, T0 + 98 * H, policy) == [REMINDER]


def test_repeats_of_an_open_incident_keep_its_latest_failure_and_last_job() -> None:
    existing = incident(last_seen=T0 + H, last_job="j0")
    later = incident(last_seen=T0 + 3 * H, last_job="j2")
    earlier = incident(last_seen=T0 + 2 * H, last_job="j1")
    after, _ = counted(existing, [later, earlier])
    assert (after.count, after.last_seen, after.last_job) == (3, T0 + 3 * H, "j1")


def test_failures_that_open_an_incident_keep_the_latest_time_and_the_last_job() -> None:
    first = incident(last_seen=T0, last_job="j1")
    second = incident(last_seen=T0 + 2 * H, last_job="j2")
    after, _ = counted(None, [first, second])
    assert (after.count, after.opened_at, after.last_seen, after.last_job) == (2, T0, T0 + 2 * H, "j2")


def test_a_good_backup_of_the_same_kind_at_the_failures_own_time_recovers_it() -> None:
    full = incident(operation="Backup (Full)")
    assert recovers(full, T0, "Backup (Full)")
    assert not recovers(full, T0 - timedelta(seconds=1), "Backup (Full)")


def test_the_owing_query_gives_the_schedule_as_cut_offs_from_now() -> None:
    now = T0 + 200 * H
    query = owing_query(now, Policy(reminder_hours=(24, 72, 168)))
    assert query.now == now
    assert query.reminders == (
        (now - 24 * H, now - 24 * H),
        (now - 72 * H, now - 48 * H),
        (now - 168 * H, now - 96 * H),
    )


def test_the_stores_pre_selection_agrees_exactly_with_the_reminders_due() -> None:
    policy = Policy(reminder_hours=(24, 72, 168))
    now = T0 + 300 * H
    query = owing_query(now, policy)
    checked = 0
    for age in range(0, 300, 6):
        opened = now - age * H
        for since in range(0, age + 1, 6):
            for k in range(4):
                one = incident(opened_at=opened, last_seen=opened, opened_email=SENT, emailed_at=now - since * H)
                one = replace(one, reminders_sent=k)
                assert may_owe(one, query) == (emails_due(one, now, policy) == [REMINDER]), (age, since, k)
                checked += 1
    assert checked > 1000


def test_a_recovery_closes_the_incident_and_drops_any_claim_on_it() -> None:
    out = closed(claimed(told(), REMINDER, T0 + 25 * H), T0 + 26 * H, POLICY)
    assert (out.state, out.is_open, out.closed_at, out.claimed_at, out.recovery_email) == (
        "closed",
        False,
        T0 + 26 * H,
        None,
        PENDING,
    )


def test_an_opening_claim_remembers_its_digest_and_settling_forgets_it() -> None:
    assert claimed(incident(), OPENED, T0).digest == ""
    in_digest = claimed(incident(), OPENED, T0, digest="digest|abc")
    assert in_digest.digest == "digest|abc"
    assert sent(in_digest, OPENED).digest == ""


def test_each_kind_of_claim_marks_only_its_own_email_and_takes_the_claim_time() -> None:
    before = told(claimed_at=T0)
    at = T0 + 30 * H
    reminder = claimed(before, REMINDER, at)
    assert (reminder.opened_email, reminder.reminder_state, reminder.recovery_email, reminder.claimed_at) == (
        SENT,
        SENDING,
        NONE,
        at,
    )
    recovery = claimed(replace(before, state="closed", recovery_email=PENDING), RECOVERED, at)
    assert (recovery.opened_email, recovery.reminder_state, recovery.recovery_email, recovery.claimed_at) == (
        SENT,
        NONE,
        SENDING,
        at,
    )


def test_digest_keys_stay_those_earlier_versions_stored() -> None:
    a, b = incident("vm-a"), incident("vm-b", reminders_sent=1)
    assert digest_key([a, b]) == digest_key([b, a]) == "digest|" + _sha([a.key, b.key])
    assert digest_key([a, b], REMINDER) == "digest-reminder|" + _sha([f"{a.key}:0", f"{b.key}:1"])


def _sha(parts: list[str]) -> str:
    return hashlib.sha256("|".join(sorted(parts)).encode()).hexdigest()[:32]


def test_the_hourly_budget_is_counted_per_utc_hour() -> None:
    assert hour_of(datetime(2026, 12, 1, 12, 29, tzinfo=UTC)) == "2026-12-01T12"
