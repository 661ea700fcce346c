"""Blind spots: what the monitor cannot see is told once, reminded while it lasts, and told again when it ends.

Each source below is the samples with reads failing as the jobs API adapter reports them (``SourceError`` carrying
``HTTP <status> <ARM code>: <message>``, or the credential's own error). The errors' words are ARM's (see
tests/adapters/test_blind_causes.py for the same classification over the real adapter and a loopback ARM).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest

from backup_events.adapters.outbox_mailer import OutboxMailer
from backup_events.adapters.sample_jobs import SampleJobSource
from backup_events.app.alert_path import handle_alert_event
from backup_events.app.poll import on_timer, poll_jobs
from backup_events.domain.incidents import Policy
from backup_events.errors import RunFailedError, SourceError
from tests.app.conftest import ROOMY, BuildServices
from tests.app.parts import VAULTS, VM_JOB, ScriptedMailer, delivery, emails_in, html_of, job_alert, text_of
from tests.conftest import Clock

BROKEN = VAULTS["rsv-prod-weu"]
FORBIDDEN = (
    f"could not read the jobs of vault {BROKEN}: HTTP 403 AuthorizationFailed: The client '7f1c…' with object id "
    f"'7f1c…' does not have authorization to perform action 'Microsoft.RecoveryServices/vaults/backupJobs/read' over "
    f"scope '{BROKEN}' or the scope is invalid."
)
SIGN_IN = (
    "could not read the jobs of vault {vault}: ClientAuthenticationError: ManagedIdentityCredential authentication "
    "unavailable, no response from the IMDS endpoint."
)


class VaultForbidden(SampleJobSource):
    """The samples, with one vault's role assignment gone (403 on every read of it) until ``healed``."""

    healed = False

    def jobs(self, vault_id: str, **window: Any) -> Iterable[Mapping[str, Any]]:
        if vault_id == BROKEN and not self.healed:
            raise SourceError(FORBIDDEN)
        return super().jobs(vault_id, **window)

    def job_details(self, job_id: str) -> Mapping[str, Any]:
        if job_id.casefold().startswith(BROKEN.casefold()) and not self.healed:
            raise SourceError(FORBIDDEN)
        return super().job_details(job_id)


class SignInFails(SampleJobSource):
    """The samples, with the managed identity unable to get a token: every vault unreadable."""

    def jobs(self, vault_id: str, **window: Any) -> Iterable[Mapping[str, Any]]:
        raise SourceError(SIGN_IN.format(vault=vault_id))


class DiscoveryFails(SampleJobSource):
    def vault_ids(self) -> list[str]:
        raise SourceError("could not list the Recovery Services vaults of subscription 3b1f…: HTTP 429 TooManyRequests: …")


def blind_emails(outbox: Path) -> list[str]:
    return [str(m["Subject"]) for m in emails_in(outbox) if str(m["Subject"]).startswith(("[Blind", "[Still blind", "[Can see"))]


def runs(build: BuildServices, clock: Clock, source: SampleJobSource, n: int, **changes: Any) -> None:
    for _ in range(n):
        poll_jobs(build(source=source, **changes))
        clock.advance(minutes=15)


def test_a_vault_unreadable_for_three_runs_gives_exactly_one_email_and_reading_it_again_one_more(
    build: BuildServices, clock: Clock, outbox: Path
) -> None:
    source = VaultForbidden()
    runs(build, clock, source, 2)
    assert blind_emails(outbox) == []  # one or two bad runs are weather
    runs(build, clock, source, 3)
    (told,) = blind_emails(outbox)
    assert told == "[Blind spot] rsv-prod-weu: cannot be read since 2026-11-25 09:00 UTC (access denied (403))"
    message = next(m for m in emails_in(outbox) if m["Subject"] == told)
    text = text_of(message)
    assert "Failed backups in vault rsv-prod-weu are not being told while it cannot be read." in text
    assert "3 runs in a row" in text
    assert f"Backup Reader role on {BROKEN}" in text and "az role assignment create --role 'Backup Reader'" in text
    assert "AuthorizationFailed" in text
    assert "<code" in html_of(message) and "viewport" in html_of(message)
    source.healed = True
    runs(build, clock, source, 3)
    assert blind_emails(outbox) == [told, "[Can see again] rsv-prod-weu: read again after 1 h 15 min blind"]


def test_a_vault_read_again_before_it_was_told_sends_nothing(build: BuildServices, clock: Clock, outbox: Path) -> None:
    source = VaultForbidden()
    runs(build, clock, source, 2)
    source.healed = True
    runs(build, clock, source, 2)
    source.healed = False
    runs(build, clock, source, 2)
    assert blind_emails(outbox) == []  # never three in a row


def test_the_threshold_is_a_setting(build: BuildServices, clock: Clock, outbox: Path) -> None:
    runs(build, clock, VaultForbidden(), 1, blind_after_runs=1)
    assert len(blind_emails(outbox)) == 1


def test_a_credential_failing_for_every_vault_gives_one_email_not_one_per_vault(
    build: BuildServices, clock: Clock, outbox: Path
) -> None:
    with pytest.raises(RunFailedError):
        on_timer(build(source=SignInFails()), past_due=False)
    runs(build, clock, SignInFails(), 4)
    (told,) = blind_emails(outbox)
    assert told == "[Blind spot] every watched vault: cannot be read since 2026-11-25 09:00 UTC (sign-in failed)"
    text = text_of(next(m for m in emails_in(outbox) if m["Subject"] == told))
    assert "No failed backup in any vault is being told while nothing can be read." in text
    assert "managed identity still exists" in text
    runs(build, clock, SampleJobSource(), 1)
    assert blind_emails(outbox)[1:] == ["[Can see again] every watched vault: read again after 1 h 00 min blind"]


def test_vaults_that_cannot_be_listed_are_one_blind_spot_and_fail_the_run(
    build: BuildServices, clock: Clock, outbox: Path
) -> None:
    for _ in range(3):  # throttled is weather until it lasts: told after three runs like a vault
        assert blind_emails(outbox) == []
        with pytest.raises(RunFailedError, match="could not be listed"):
            on_timer(build(source=DiscoveryFails()), past_due=False)
        clock.advance(minutes=15)
    assert blind_emails(outbox) == [
        "[Blind spot] every watched vault: cannot be read since 2026-11-25 09:00 UTC (throttled (429))"
    ]
    assert "Poll less often" in text_of(emails_in(outbox)[0])


def test_a_watched_subscription_where_discovery_finds_no_vault_is_told_once(
    build: BuildServices, clock: Clock, outbox: Path
) -> None:
    empty = "11111111-2222-3333-4444-555555555555"
    runs(build, clock, SampleJobSource(), 3, discovered_subscriptions=(empty,))
    (told,) = blind_emails(outbox)
    assert told == f"[Blind spot] subscription {empty}: cannot be read since 2026-11-25 09:00 UTC (no vault found)"
    assert "remove it from `BACKUP_SUBSCRIPTION_IDS`" in text_of(emails_in(outbox)[-1]) or "BACKUP_SUBSCRIPTION_IDS" in text_of(
        next(m for m in emails_in(outbox) if m["Subject"] == told)
    )


def test_a_blind_spot_that_lasts_is_reminded_like_any_incident(build: BuildServices, clock: Clock, outbox: Path) -> None:
    source = VaultForbidden()
    runs(build, clock, source, 3)
    clock.advance(hours=24)
    runs(build, clock, source, 1)
    assert blind_emails(outbox)[1:] == ["[Still blind] rsv-prod-weu: cannot be read for 24 h 45 min (access denied (403))"]
    runs(build, clock, source, 1)
    assert len(blind_emails(outbox)) == 2  # reminded once, not every run


def test_a_mailer_that_cannot_send_fails_the_run_and_the_blind_spot_is_told_by_the_next_one(
    build: BuildServices, clock: Clock, outbox: Path
) -> None:
    broken = ScriptedMailer(OutboxMailer(outbox, clock=clock), failing=range(1, 1000))
    with pytest.raises(RunFailedError, match="not sent"):
        on_timer(build(source=SignInFails(), mailer=broken), past_due=False)
    assert blind_emails(outbox) == []
    clock.advance(minutes=15)
    runs(build, clock, SignInFails(), 1)
    assert len(blind_emails(outbox)) == 1


def test_the_jobs_api_failing_for_alerts_is_a_blind_spot_too(build: BuildServices, clock: Clock, outbox: Path) -> None:
    source = VaultForbidden()
    policy = Policy(digest_threshold=100, emails_per_run=100)
    for n in range(3):
        alert = job_alert(VM_JOB)
        alert["data"]["essentials"]["alertId"] = alert["data"]["essentials"]["alertId"][:-1] + str(n)
        alert["data"]["alertContext"]["extendedInfo"]["jobId"] = f"{VM_JOB['name'][:-1]}{n}"
        handle_alert_event(build(source=source, policy=policy), delivery(alert, f"evt-{n}"))
        clock.advance(minutes=5)
    assert blind_emails(outbox) == ["[Blind spot] rsv-prod-weu: cannot be read since 2026-11-25 09:00 UTC (access denied (403))"]
    source.healed = True
    runs(build, clock, source, 1, policy=ROOMY)
    assert blind_emails(outbox)[1:] == ["[Can see again] rsv-prod-weu: read again after 15 min 00 s blind"]


class TwoVaultsForbidden(SampleJobSource):
    def jobs(self, vault_id: str, **window: Any) -> Iterable[Mapping[str, Any]]:
        if vault_id in (VAULTS["rsv-prod-weu"], VAULTS["rsv-files-weu"]):
            raise SourceError(FORBIDDEN)
        return super().jobs(vault_id, **window)


def test_blind_spots_are_never_folded_into_a_digest_of_failures(build: BuildServices, clock: Clock, outbox: Path) -> None:
    runs(build, clock, TwoVaultsForbidden(), 3, policy=Policy(digest_threshold=1, emails_per_run=100))
    assert sorted(blind_emails(outbox)) == [
        "[Blind spot] rsv-files-weu: cannot be read since 2026-11-25 09:00 UTC (access denied (403))",
        "[Blind spot] rsv-prod-weu: cannot be read since 2026-11-25 09:00 UTC (access denied (403))",
    ]
    assert not any("BlindSpot" in text_of(m) for m in emails_in(outbox) if "(digest)" in str(m["Subject"]))


def test_seen_again_after_longer_than_the_lookback_names_the_stretch_never_read(
    build: BuildServices, clock: Clock, outbox: Path
) -> None:
    source = VaultForbidden()
    runs(build, clock, source, 3)
    clock.advance(hours=30)
    source.healed = True
    runs(build, clock, source, 1)
    seen = next(m for m in emails_in(outbox) if str(m["Subject"]).startswith("[Can see again]"))
    assert "JOBS THAT STARTED BETWEEN 2026-11-25 09:00 UTC AND 2026-11-25 15:45 UTC WERE NEVER READ" in text_of(seen)
    assert "than the polls look back (24 h 00 min)" in text_of(seen)


def test_seen_again_within_the_lookback_says_the_failures_meanwhile_are_told(
    build: BuildServices, clock: Clock, outbox: Path
) -> None:
    source = VaultForbidden()
    runs(build, clock, source, 3)
    source.healed = True
    runs(build, clock, source, 1)
    seen = next(m for m in emails_in(outbox) if str(m["Subject"]).startswith("[Can see again]"))
    assert "NEVER READ" not in text_of(seen) and "within the polls'\nlookback (24 h 00 min)" in text_of(seen)
