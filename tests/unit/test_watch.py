"""Blind spots, the pure rules: the cause in plain words, the fix for it, when one is told and how it ends."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from backup_events.domain.incidents import NONE, PENDING, SENT
from backup_events.domain.watch import (
    BlindSpot,
    Cause,
    Scope,
    blind_key,
    cause_of,
    common_cause,
    fix_for,
    held_incident,
    observation_key,
    seen_again,
    tell_if_due,
    told_after,
)

AT = datetime(2026, 11, 25, 9, tzinfo=UTC)
VAULT = "/subscriptions/3b1f9c2e-5a7d-4e21-9c0b-7d2e4f6a8b10/resourceGroups/rg/providers/Microsoft.RecoveryServices/vaults/rsv"


@pytest.mark.parametrize(
    ("error", "cause"),
    [
        ("ClientAuthenticationError: sign-in failed: ServiceRequestError: …", Cause.SIGN_IN),
        ("HTTP 401 AuthenticationFailed: Authentication failed.", Cause.SIGN_IN),
        ("HTTP 403 AuthorizationFailed: The client … does not have authorization to perform action", Cause.FORBIDDEN),
        ("HTTP 404 ResourceNotFound: The Resource 'Microsoft.RecoveryServices/vaults/rsv' … was not found.", Cause.GONE),
        ("HTTP 404 ResourceGroupNotFound: Resource group 'rg' could not be found.", Cause.GONE),
        ("HTTP 429 TooManyRequests: The request is being throttled (Retry-After: 30s)", Cause.THROTTLED),
        ("HTTP 503 ServiceUnavailable: …", Cause.UNAVAILABLE),
    ],
)
def test_the_cause_is_read_from_the_status_and_arms_code(error: str, cause: Cause) -> None:
    assert cause_of(error) is cause


def test_a_403_names_the_role_and_the_scope_to_grant() -> None:
    fix = fix_for(Cause.FORBIDDEN, Scope.VAULT, VAULT)
    assert f"Backup Reader role on {VAULT}" in fix and "az role assignment create" in fix


def test_a_subscription_without_vaults_says_where_to_grant_or_what_to_remove() -> None:
    spot = BlindSpot(Scope.SUBSCRIPTION, "1111", "subscription 1111", "", AT)
    assert spot.cause is Cause.NO_VAULTS and spot.partition == "/subscriptions/1111"
    assert "BACKUP_SUBSCRIPTION_IDS" in fix_for(spot.cause, spot.scope, spot.target)


def test_a_vault_waits_for_its_threshold_and_nothing_seen_for_a_cause_that_needs_someone_is_told_at_once() -> None:
    assert told_after(BlindSpot(Scope.VAULT, VAULT, "rsv", "HTTP 403 AuthorizationFailed", AT), 3) == 3
    every = BlindSpot(Scope.EVERY_VAULT, "", "every watched vault", "ClientAuthenticationError: sign-in failed", AT)
    assert told_after(every, 3) == 1
    assert told_after(replace(every, error="HTTP 403 AuthorizationFailed"), 3) == 1
    assert told_after(replace(every, error="HTTP 429 TooManyRequests"), 3) == 3  # weather: it waits like a vault
    assert told_after(replace(every, error="HTTP 503 ServiceUnavailable"), 3) == 3
    assert told_after(BlindSpot(Scope.SUBSCRIPTION, "1111", "subscription 1111", "", AT), 3) == 1


def test_a_blind_spot_is_held_until_it_counts_enough_runs_then_owes_one_email() -> None:
    spot = BlindSpot(Scope.VAULT, VAULT, "rsv", "HTTP 403 AuthorizationFailed", AT)
    held = held_incident(spot, "{}")
    assert (held.opened_email, held.key, held.title) == (NONE, blind_key(spot), "access denied (403)")
    assert tell_if_due(replace(held, count=2), 3, "{}") is None
    told = tell_if_due(replace(held, count=3), 3, "new")
    assert told is not None and (told.opened_email, told.facts) == (PENDING, "new")
    assert tell_if_due(replace(held, count=4, opened_email=SENT), 3, "{}") is None  # told once


def test_each_run_is_counted_once_and_in_the_spots_partition() -> None:
    spot = BlindSpot(Scope.VAULT, VAULT, "rsv", "x", AT)
    assert observation_key(spot, "r1") == observation_key(spot, "r1") != observation_key(spot, "r2")
    assert observation_key(spot, "r1").rpartition("|")[0] == blind_key(spot).rpartition("|")[0] == VAULT.casefold()


def test_seeing_again_owes_an_email_only_when_the_blind_spot_was_told() -> None:
    held = held_incident(BlindSpot(Scope.VAULT, VAULT, "rsv", "x", AT), "{}")
    later = AT + timedelta(hours=1)
    assert seen_again(held, later).recovery_email == NONE
    assert seen_again(replace(held, opened_email=SENT), later).recovery_email == PENDING
    assert seen_again(held, later).closed_at == later and not seen_again(held, later).is_open


def test_vaults_failing_for_different_reasons_are_told_by_the_reason_most_of_them_share() -> None:
    errors = ["HTTP 503 ServiceUnavailable", "HTTP 403 AuthorizationFailed: a", "HTTP 403 AuthorizationFailed: b"]
    assert common_cause(errors) == (Cause.FORBIDDEN, "HTTP 403 AuthorizationFailed: a")
    assert common_cause(["HTTP 429 TooManyRequests", "HTTP 403 AuthorizationFailed"])[0] is Cause.THROTTLED  # a tie: first
    spot = BlindSpot(Scope.EVERY_VAULT, "", "every watched vault", "3 vaults unreadable; for example: …", AT, Cause.FORBIDDEN)
    assert spot.cause is Cause.FORBIDDEN
