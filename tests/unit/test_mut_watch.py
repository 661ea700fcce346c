"""Blind spots, the pure part, at the edges: each cause's fix in the reader's language, the 403 fix for one vault and
for every vault, what a blind spot's incident records, how it ends, where its runs are counted; and English plurals."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from backup_events.domain.incidents import SENT
from backup_events.domain.watch import (
    EVERY_VAULT,
    EVERY_VAULT_NAME,
    BlindSpot,
    Cause,
    Scope,
    blind_key,
    fix_for,
    held_incident,
    many_errors,
    observation_key,
    seen_again,
)
from backup_events.domain.words import counted, plural
from backup_events.mail.i18n import translations

AT = datetime(2026, 11, 25, 9, tzinfo=UTC)
SUB = "3b1f9c2e-5a7d-4e21-9c0b-7d2e4f6a8b10"
VAULT = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.RecoveryServices/vaults/rsv"


@pytest.mark.parametrize("cause", list(Cause))
@pytest.mark.parametrize(("scope", "target"), [(Scope.VAULT, VAULT), (Scope.EVERY_VAULT, ""), (Scope.SUBSCRIPTION, SUB)])
def test_every_causes_fix_reads_in_japanese_for_a_japanese_reader(cause: Cause, scope: Scope, target: str) -> None:
    english = fix_for(cause, scope, target)
    japanese = fix_for(cause, scope, target, translations("ja").gettext)
    assert japanese != english
    assert not any(word in japanese for word in ("The app", "Grant the", "The vault", "throttled", "did not answer"))


def test_the_fix_for_a_403_on_one_vault_names_that_vault_as_the_scope_to_grant() -> None:
    fix = fix_for(Cause.FORBIDDEN, Scope.VAULT, VAULT)
    assert fix == (
        f"Grant the app's managed identity the Backup Reader role on {VAULT} (`az role assignment create --role "
        f"'Backup Reader' --assignee <the app's AZURE_CLIENT_ID> --scope {VAULT}`); the next run reads it again."
    )


def test_the_fix_for_a_403_on_every_vault_says_each_watched_vault_and_leaves_the_scope_to_fill_in() -> None:
    fix = fix_for(Cause.FORBIDDEN, Scope.EVERY_VAULT, "")
    assert "role on each watched vault (`az role" in fix
    assert "--scope <vault id>`)" in fix


def test_the_other_causes_fixes_say_what_to_do_in_plain_english() -> None:
    fixes = {cause: fix_for(cause, Scope.VAULT, VAULT) for cause in Cause}
    assert fixes[Cause.SIGN_IN] == (
        "The app could not get a token for Azure Resource Manager: check that its managed identity still exists and "
        "is assigned to the function app (`AZURE_CLIENT_ID` names it), and that the tenant allows it to sign in."
    )
    assert fixes[Cause.GONE] == (
        "The vault (or its resource group or subscription) was deleted or moved: if that was meant, remove it from "
        "`BACKUP_VAULT_IDS`; if not, find who deleted it in the Activity log and restore it."
    )
    assert fixes[Cause.THROTTLED] == (
        "Azure Resource Manager throttled the reads past the retry budget: another tool may be using the same "
        "subscription's read budget. Poll less often (`BACKUP_POLL_SCHEDULE`) or watch fewer vaults per instance."
    )
    assert fixes[Cause.UNAVAILABLE] == (
        "Azure Resource Manager did not answer within the retry budget: check the service health; the next run tries again."
    )


def test_a_vaults_blind_spot_is_recorded_as_a_read_of_that_vault_that_failed() -> None:
    spot = BlindSpot(Scope.VAULT, VAULT, "rsv", "HTTP 403 AuthorizationFailed", AT)
    held = held_incident(spot, '{"facts": 1}')
    assert (held.key, held.vault_id, held.vault_name, held.item) == (blind_key(spot), VAULT, "rsv", "rsv")
    assert (held.workload, held.operation, held.last_job, held.title) == (
        "Vault",
        "Read",
        "(unreadable run)",
        "access denied (403)",
    )
    assert held.docs_url == "https://learn.microsoft.com/azure/backup/backup-rbac-rs-vault"
    assert (held.facts, held.opened_at, held.last_seen, held.is_open) == ('{"facts": 1}', AT, AT, True)


@pytest.mark.parametrize(
    ("spot", "partition"),
    [
        (BlindSpot(Scope.EVERY_VAULT, "", EVERY_VAULT_NAME, "ClientAuthenticationError", AT), EVERY_VAULT),
        (BlindSpot(Scope.SUBSCRIPTION, SUB, f"subscription {SUB}", "", AT), f"/subscriptions/{SUB}"),
    ],
)
def test_a_blind_spot_beyond_one_vault_is_the_apps_own_and_names_no_vault(spot: BlindSpot, partition: str) -> None:
    held = held_incident(spot, "{}")
    assert (held.vault_id, held.vault_name, held.item, held.workload) == (partition, "", spot.name, "backup-events")
    assert (held.operation, held.last_job, held.facts) == ("Read", "(unreadable run)", "{}")


def test_a_blind_spot_seen_again_is_closed_and_holds_no_claim_of_a_send() -> None:
    told = replace(held_incident(BlindSpot(Scope.VAULT, VAULT, "rsv", "x", AT), "{}"), opened_email=SENT, claimed_at=AT)
    ended = seen_again(told, AT + timedelta(hours=1))
    assert (ended.state, ended.claimed_at, ended.is_open) == ("closed", None, False)


def test_a_runs_ledger_row_lives_in_the_vaults_partition_however_its_id_is_spelt() -> None:
    key = observation_key(BlindSpot(Scope.VAULT, VAULT.upper() + "/", "rsv", "x", AT), "2026-11-25T09:00:00+00:00")
    partition, _, row = key.partition("|")
    assert partition == VAULT.casefold()
    assert row.startswith("blind-") and len(row.removeprefix("blind-")) == 32


@pytest.mark.parametrize(
    ("word", "many"),
    [("job", "jobs"), ("pass", "passes"), ("box", "boxes"), ("match", "matches"), ("crash", "crashes"), ("entry", "entries")],
)
def test_english_plurals_after_a_count(word: str, many: str) -> None:
    assert (plural(word, 1), plural(word, 2), counted(1_200, word)) == (word, many, f"1,200 {many}")


def test_vaults_failing_alike_show_that_one_error_and_failing_differently_how_many_and_one_for_example() -> None:
    same = ["HTTP 403 AuthorizationFailed: x"] * 3
    assert many_errors(same, same[0]) == "HTTP 403 AuthorizationFailed: x"
    mixed = ["HTTP 403 AuthorizationFailed: x", "HTTP 503 ServiceUnavailable", "HTTP 403 AuthorizationFailed: y"]
    assert many_errors(mixed, mixed[0]) == "3 vaults unreadable; for example: HTTP 403 AuthorizationFailed: x"
    two = ["HTTP 429 TooManyRequests", "HTTP 503 ServiceUnavailable"]
    assert many_errors(two, two[0]) == "2 vaults unreadable; for example: HTTP 429 TooManyRequests"
