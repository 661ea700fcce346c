"""The one place tests/app builds a Services: real ports around this test's store.

Every test in tests/app reaches storage only through what this builder returns (``svc.deps.incidents``): the in-memory
store, which keeps the same contract as Table Storage (tests/contract runs both), so these tests need no Azurite and
run in seconds. Services built by one test share one store: a test calls the builder once per run, and each run sees
what the earlier runs recorded.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from backup_events.adapters.memory_store import MemoryIncidentStore
from backup_events.adapters.outbox_mailer import OutboxMailer
from backup_events.adapters.sample_jobs import SampleJobSource
from backup_events.app.services import Services
from backup_events.domain import remediation
from backup_events.domain.incidents import Policy
from backup_events.ports import IncidentStore, JobSource, Mailer
from tests.builders import WATCHED_SUBSCRIPTIONS
from tests.conftest import Clock

SENDER = "backup-events@example.com"
ON_CALL = "oncall@example.com"
ROOMY = Policy(digest_threshold=100, emails_per_run=100)
"""No digest and no budget in the way, unless a test is about them."""

BuildServices = Callable[..., Services]


@functools.cache
def _catalog() -> remediation.Catalog:
    return remediation.load()


def app_services(
    store: IncidentStore,
    outbox: Path,
    clock: Clock,
    *,
    source: JobSource | None = None,
    mailer: Mailer | None = None,
    policy: Policy = ROOMY,
    **changes: Any,
) -> Services:
    """Services on real parts: the sample jobs, this test's store, the outbox mailer writing .eml files.

    Missed-backup checks and tag routing are off unless a test turns them on (``missed_grace=``, ``route_tag=``);
    ``changes`` sets any other Services field (``routes``, ``retention``, ...).
    """
    services = Services.of(
        source=source or SampleJobSource(),
        incidents=store,
        mailer=mailer or OutboxMailer(outbox, clock=clock),
        catalog=_catalog(),
        clock=clock,
        sender=SENDER,
        recipients=(ON_CALL,),
        portal_url="https://portal.azure.com",
        lookback=timedelta(hours=24),
        policy=policy,
        missed_grace=None,
        subscription_ids=WATCHED_SUBSCRIPTIONS,
    )
    return services.changed(**changes)


@pytest.fixture
def outbox(tmp_path: Path) -> Path:
    """Where the outbox mailer writes this test's emails."""
    return tmp_path / "outbox"


@pytest.fixture
def store(clock: Clock) -> IncidentStore:
    """This test's incidents, shared by every run it makes."""
    return MemoryIncidentStore(clock=clock)


@pytest.fixture
def build(store: IncidentStore, outbox: Path, clock: Clock) -> BuildServices:
    """``build(source=..., mailer=..., policy=..., **changes)``: this test's Services, one call per run."""
    return functools.partial(app_services, store, outbox, clock)
