"""Start Azurite's Table service from ``node_modules`` on a free loopback port (demo and tests).

Azurite is a development dependency (``package.json``, installed by ``npm ci``); it never runs in Azure.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from backup_events.errors import AzuriteUnavailable  # raised here; re-exported for callers

# The emulator's public, documented development key (not a secret).
DEV_ACCOUNT = "devstoreaccount1"
DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
REPO_ROOT = Path(__file__).resolve().parents[2]


def connection_string(port: int) -> str:
    """The full development connection string for a table endpoint on ``port``."""
    return (
        f"DefaultEndpointsProtocol=http;AccountName={DEV_ACCOUNT};AccountKey={DEV_KEY};"
        f"TableEndpoint=http://127.0.0.1:{port}/{DEV_ACCOUNT}"
    )


def executable() -> Path:
    """``node_modules/.bin/azurite-table`` of this checkout (or ``AZURITE_TABLE``)."""
    candidates = [Path(os.environ["AZURITE_TABLE"])] if os.environ.get("AZURITE_TABLE") else []
    candidates += [REPO_ROOT / "node_modules" / ".bin" / "azurite-table", Path.cwd() / "node_modules" / ".bin" / "azurite-table"]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise AzuriteUnavailable(
        "Azurite is not installed: run `npm ci` in the repository root (needs Node.js 18+). "
        f"Looked for {', '.join(str(c) for c in candidates)}."
    )


def free_port() -> int:
    """A port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def command(binary: Path, port: int, location: Path | None) -> list[str]:
    """Azurite Table on loopback only, with its usage telemetry off: it reports to an internet endpoint by default,
    and a local demo or test of a backup estate makes no connection its user did not ask for."""
    persistence = ["--location", str(location)] if location else ["--inMemoryPersistence"]
    return [
        str(binary),
        "--tableHost",
        "127.0.0.1",
        "--tablePort",
        str(port),
        "--disableTelemetry",
        "--skipApiVersionCheck",
        "--silent",
        *persistence,
    ]


@contextlib.contextmanager
def running(location: Path | None = None, *, startup_timeout: float = 30.0) -> Iterator[str]:
    """Run Azurite Table until the block ends; yields its connection string.

    ``location`` keeps the data on disk (the demo's second run must see the first's ledger);
    without it the data lives in memory.
    """
    binary = executable()
    port = free_port()
    if location:
        location.mkdir(parents=True, exist_ok=True)
    log_file = tempfile.TemporaryFile()  # noqa: SIM115 - closed in the finally below, after the process ends
    process = subprocess.Popen(
        command(binary, port, location),
        stdout=log_file,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + startup_timeout
        while not _listening(port):
            if process.poll() is not None or time.monotonic() > deadline:
                log_file.seek(0)
                output = log_file.read().decode(errors="replace")[-2000:]
                raise AzuriteUnavailable(f"Azurite did not start on port {port}: {output or 'no output'}")
            time.sleep(0.05)  # waiting for an external process to listen; bounded by the deadline
        yield connection_string(port)
    finally:
        # SIGINT, not SIGTERM: only on SIGINT does Azurite flush its on-disk database before exiting.
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log_file.close()
