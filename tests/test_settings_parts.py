"""The deployed entry points read only the settings they use: the relay starts with broken mail settings, the
triggers do not."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from backup_events import bootstrap
from backup_events.errors import ConfigurationError


@pytest.fixture(autouse=True)
def fresh_bootstrap() -> Iterator[None]:
    cached = (bootstrap.relay_token_validator, bootstrap.relay_publisher, bootstrap.relay_watches, bootstrap.services)
    for function in cached:
        function.cache_clear()
    yield
    for function in cached:
        function.cache_clear()


def test_the_relay_is_built_whatever_the_mail_and_schedule_settings_say(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BACKUP_RELAY_AUDIENCE", "api://backup-events-relay")
    monkeypatch.setenv("BACKUP_RELAY_TENANT_ID", "00000000-0000-0000-0000-000000000001")
    monkeypatch.setenv("BACKUP_MAIL_SENDER", "notanemail")
    monkeypatch.setenv("BACKUP_POLL_SCHEDULE", "*/15 * * * *")
    assert bootstrap.relay_token_validator() is not None
    assert bootstrap.relay_publisher() is None  # no topic set: the relay answers that it is off
    assert bootstrap.relay_watches() is None
    with pytest.raises(ConfigurationError) as caught:
        bootstrap.services()  # the Timer and the Event Grid trigger use both
    assert {p.split(":")[0] for p in caught.value.problems} >= {"BACKUP_MAIL_SENDER", "BACKUP_POLL_SCHEDULE"}
