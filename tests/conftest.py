"""Shared fixtures: a clean environment, an injected clock, and one Azurite for the whole session."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from backup_events.dev import local_azurite

DATA = Path(__file__).parent / "data"


def load(name: str) -> Any:
    """A recorded payload from tests/data."""
    return json.loads((DATA / name).read_text(encoding="utf-8"))


class Clock:
    """A clock the test moves by hand; nothing in the code under test sleeps on it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep a developer's Azure and backup-events settings out of every test."""
    for name in list(os.environ):
        if name.startswith(("AZURE_", "BACKUP_", "MSI_", "IDENTITY_")):
            monkeypatch.delenv(name)


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 11, 25, 9, 0, tzinfo=UTC))


@pytest.fixture(scope="session")
def azurite() -> Iterator[str]:
    """Azurite Table on a free loopback port for the session; its connection string.

    A missing Azurite fails the run (never skips): install it with `npm ci`.
    """
    try:
        with local_azurite.running() as connection:
            yield connection
    except local_azurite.AzuriteUnavailable as exc:
        pytest.fail(f"Azurite is required for these tests: {exc}", pytrace=False)


@pytest.fixture
def table_name() -> str:
    """A fresh table per test, so tests share one Azurite without seeing each other."""
    return f"t{uuid.uuid4().hex[:20]}"


@pytest.fixture
def table(azurite: str, table_name: str) -> Any:
    from azure.data.tables import TableClient

    client = TableClient.from_connection_string(azurite, table_name=table_name)
    yield client
    client.delete_table()
    client.close()


@pytest.fixture
def app_settings(azurite: str, table_name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """App settings for the function app on local parts (sample jobs, Azurite, outbox); yields the outbox."""
    from backup_events import bootstrap

    bootstrap.services.cache_clear()
    bootstrap.relay_publisher.cache_clear()
    bootstrap.relay_watches.cache_clear()
    for name, value in {
        "BACKUP_JOBS_SOURCE": "sample",
        "BACKUP_TABLE_CONNECTION_STRING": azurite,
        "BACKUP_TABLE_NAME": table_name,
        "BACKUP_MAILER": "outbox",
        "BACKUP_OUTBOX_DIR": str(tmp_path),
        "BACKUP_MAIL_RECIPIENTS": "oncall@example.com",
    }.items():
        monkeypatch.setenv(name, value)
    yield tmp_path
    bootstrap.services.cache_clear()
    bootstrap.relay_publisher.cache_clear()
    bootstrap.relay_watches.cache_clear()
