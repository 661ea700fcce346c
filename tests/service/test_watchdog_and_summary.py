"""Blind spots and the daily summary end to end on real parts: Table Storage in Azurite, the outbox on disk.

Each poll builds its services afresh over the same table (a new instance of the app: nothing kept in memory).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from backup_events.app import summary
from backup_events.app.poll import poll_jobs
from tests.conftest import Clock
from tests.service.test_poll_jobs import BrokenVaultSource, emails_in, services


def subjects(outbox: Path) -> list[str]:
    return [" ".join(str(m["Subject"]).split()) for m in emails_in(outbox)]


def test_a_vault_unreadable_for_three_runs_is_told_once_and_once_again_when_read_and_the_summary_shows_it(
    table: Any, tmp_path: Path, clock: Clock
) -> None:
    outbox = tmp_path / "outbox"
    broken = BrokenVaultSource("rsv-files-weu")
    for _ in range(4):
        poll_jobs(services(table, outbox, clock, source=broken))
        clock.advance(minutes=15)
    blind = [s for s in subjects(outbox) if s.startswith("[Blind spot]")]
    assert blind == ["[Blind spot] rsv-files-weu: cannot be read since 2026-11-25 09:00 UTC (unreachable)"]
    report = summary.send_summary(services(table, outbox, clock))
    (subject,) = report.subjects
    assert "1 blind spot" in subject and "failing" in subject
    text = next(m for m in emails_in(outbox) if "summary" in str(m["Subject"])).get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "rsv-files-weu: unreachable, since 2026-11-25 09:00 UTC (4 runs)" in text
    assert "unreadable in 4 of 4 runs" in text
    poll_jobs(services(table, outbox, clock))
    poll_jobs(services(table, outbox, clock))
    assert [s for s in subjects(outbox) if s.startswith("[Can see again]")] == [
        "[Can see again] rsv-files-weu: read again after 1 h 00 min blind"
    ]
