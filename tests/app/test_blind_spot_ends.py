"""Blind spots end when what could not be seen is read again, at the run that read it; the run report counts each
blind spot told, once; and the "every vault" spot's fix says where to grant when no vault could be read."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from backup_events.adapters.sample_jobs import SampleJobSource
from backup_events.app import blind
from backup_events.app.poll import poll_jobs
from backup_events.domain.watch import blind_key
from backup_events.errors import SourceError
from backup_events.ports import IncidentStore
from tests.app.conftest import BuildServices
from tests.app.parts import VAULTS, emails_in, text_of
from tests.app.test_blind_spots import blind_emails
from tests.conftest import Clock

EMPTY = "11111111-2222-3333-4444-555555555555"
NEW_VAULT = f"/subscriptions/{EMPTY}/resourceGroups/rg-new/providers/Microsoft.RecoveryServices/vaults/rsv-new"


class VaultCreated(SampleJobSource):
    """The samples, and once ``created`` a new vault (with no job yet) in the subscription that had none."""

    created = False

    def vault_ids(self) -> list[str]:
        return [*super().vault_ids(), *([NEW_VAULT] if self.created else [])]


def forbidden(vault_id: str) -> SourceError:
    return SourceError(f"could not read the jobs of vault {vault_id}: HTTP 403 AuthorizationFailed: The client '7f1c…'")


class Forbidden(SampleJobSource):
    """The samples, with the app's role gone on the vaults in ``denied`` (every vault when None)."""

    def __init__(self, denied: Iterable[str] | None = None) -> None:
        super().__init__()
        self.denied = None if denied is None else {v.casefold() for v in denied}

    def jobs(self, vault_id: str, **window: Any) -> Iterable[Mapping[str, Any]]:
        if self.denied is None or vault_id.casefold() in self.denied:
            raise forbidden(vault_id)
        return super().jobs(vault_id, **window)


def test_a_subscription_in_which_a_vault_appears_is_seen_again_at_that_run(
    build: BuildServices, clock: Clock, outbox: Path, store: IncidentStore
) -> None:
    source = VaultCreated()
    poll_jobs(build(source=source, discovered_subscriptions=(EMPTY,)))
    assert blind_emails(outbox) == [
        f"[Blind spot] subscription {EMPTY}: cannot be read since 2026-11-25 09:00 UTC (no vault found)"
    ]
    clock.advance(hours=1)
    source.created = True
    poll_jobs(build(source=source, discovered_subscriptions=(EMPTY,)))
    assert blind_emails(outbox)[1:] == [f"[Can see again] subscription {EMPTY}: read again after 1 h 00 min blind"]
    (ended,) = [i for i in store.incidents_since(clock.now) if i.item == f"subscription {EMPTY}"]
    assert (ended.is_open, ended.closed_at) == (False, clock.now)
    clock.advance(minutes=15)
    poll_jobs(build(source=source, discovered_subscriptions=(EMPTY,)))
    assert len(blind_emails(outbox)) == 2  # still seen: nothing more


def test_each_run_that_finds_no_vault_in_a_subscription_is_counted(
    build: BuildServices, clock: Clock, store: IncidentStore
) -> None:
    for _ in range(3):
        poll_jobs(build(discovered_subscriptions=(EMPTY,)))
        clock.advance(minutes=15)
    (spot,) = [i for i in store.incidents_since(clock.now - timedelta(days=1)) if i.item == f"subscription {EMPTY}"]
    assert spot.count == 3


class Throttled(SampleJobSource):
    def jobs(self, vault_id: str, **window: Any) -> Iterable[Mapping[str, Any]]:
        raise SourceError(f"could not read the jobs of vault {vault_id}: HTTP 429 TooManyRequests: throttled")


def test_every_vault_throttled_is_weather_until_it_lasts_as_many_runs_as_a_vault_would(
    build: BuildServices, clock: Clock, outbox: Path
) -> None:
    for _ in range(2):
        poll_jobs(build(source=Throttled()))
        clock.advance(minutes=15)
    assert blind_emails(outbox) == []
    poll_jobs(build(source=Throttled()))
    assert blind_emails(outbox) == [
        "[Blind spot] every watched vault: cannot be read since 2026-11-25 09:00 UTC (throttled (429))"
    ]


def test_the_run_report_counts_each_blind_spot_when_it_is_told_and_not_again(build: BuildServices, clock: Clock) -> None:
    source = Forbidden([VAULTS["rsv-prod-weu"], VAULTS["rsv-files-weu"]])
    assert len(VAULTS) > 2  # not every vault: one blind spot each
    assert poll_jobs(build(source=source, blind_after_runs=1)).blind == 2
    clock.advance(minutes=15)
    assert poll_jobs(build(source=source, blind_after_runs=1)).blind == 0


def test_no_vault_readable_for_a_403_says_grant_on_each_watched_vault_and_ends_when_one_is_read(
    build: BuildServices, clock: Clock, outbox: Path, store: IncidentStore
) -> None:
    assert poll_jobs(build(source=Forbidden())).blind == 1  # one blind spot, not one per vault
    (told,) = blind_emails(outbox)
    assert told == "[Blind spot] every watched vault: cannot be read since 2026-11-25 09:00 UTC (access denied (403))"
    text = " ".join(text_of(next(m for m in emails_in(outbox) if m["Subject"] == told)).split())
    assert "Backup Reader role on each watched vault" in text and "--scope <vault id>" in text
    clock.advance(minutes=30)
    poll_jobs(build(source=Forbidden([VAULTS["rsv-prod-weu"]])))
    spot = blind.every_vault_spot("", clock.now)
    ended = store.incident(blind_key(spot))
    assert ended is not None and (ended.is_open, ended.closed_at) == (False, clock.now)
    assert "[Can see again] every watched vault: read again after 30 min 00 s blind" in blind_emails(outbox)


def test_a_vault_id_that_does_not_parse_is_named_as_it_came() -> None:
    spot = blind.vault_spot("rsv-typo", "HTTP 404 ResourceNotFound", datetime(2026, 11, 25, 9, tzinfo=UTC))
    assert (spot.name, spot.target) == ("rsv-typo", "rsv-typo")
