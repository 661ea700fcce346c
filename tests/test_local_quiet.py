"""Nothing leaves this machine: Azurite starts on loopback with its telemetry off, and the test process itself may
connect to loopback only (pytest-socket, on for the whole suite)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import pytest_socket

from backup_events.dev import local_azurite


def test_every_azurite_the_project_starts_is_loopback_only_and_sends_no_telemetry() -> None:
    argv = local_azurite.command(Path("azurite-table"), 10002, None)
    assert "--disableTelemetry" in argv
    assert argv[argv.index("--tableHost") + 1] == "127.0.0.1"


def test_the_suite_refuses_every_connection_beyond_loopback(request: pytest.FixtureRequest) -> None:
    assert request.config.getoption("--allow-hosts") in ("127.0.0.1,::1", ["127.0.0.1", "::1"])
    # The guard is in place before anything is tried: the connect below is refused in Python, never sent.
    assert socket.socket.connect is not pytest_socket._true_connect  # type: ignore[attr-defined]
    with (
        socket.socket() as probe,
        pytest.warns(UserWarning, match="192.0.2.1"),
        pytest.raises(pytest_socket.SocketConnectBlockedError),
    ):
        probe.connect(("192.0.2.1", 9))  # TEST-NET-1, documentation only
    with socket.socket() as local:
        local.bind(("127.0.0.1", 0))  # loopback stays open: the stand-ins and Azurite live there
