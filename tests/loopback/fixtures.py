"""Shared helpers for tests that use the loopback stand-ins.

Fixtures stay in the test modules (tests/conftest.py belongs to someone else, and importing fixture functions
trips ruff's F811); they are one-liners over :func:`serving`::

    @pytest.fixture
    def arm() -> Iterator[ArmStandIn]:
        yield from serving(ArmStandIn())
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any, TypeVar

from azure.core.credentials import AccessToken

from tests.loopback.tls import LoopbackHttpsServer

ServerT = TypeVar("ServerT", bound=LoopbackHttpsServer)


def serving(server: ServerT) -> Iterator[ServerT]:
    """Run ``server`` for one test; fail the test if the stand-in itself broke (a route raised)."""
    with server:
        yield server
        assert server.errors == [], server.errors


class FakeTokenCredential:
    """A ``TokenCredential``: hands out a fixed token and records the scopes it was asked for."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.scopes: list[tuple[str, ...]] = []
        self._lock = threading.Lock()

    def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
        **kwargs: Any,
    ) -> AccessToken:
        with self._lock:
            self.scopes.append(scopes)
        return AccessToken(self.token, int(time.time()) + 3600)
