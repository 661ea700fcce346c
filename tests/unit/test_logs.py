"""Log lines cannot be forged: a CR or LF from input is escaped in every record backup-events logs."""

from __future__ import annotations

import logging

import pytest

from backup_events import logs


def test_a_vault_id_with_a_line_break_stays_on_one_log_line(caplog: pytest.LogCaptureFixture) -> None:
    logs.install()
    logs.install()  # idempotent: installing twice wraps once
    forged = "/subscriptions/s/vaults/v\r\nERROR backup_events: all backups deleted"
    with caplog.at_level(logging.INFO):
        logging.getLogger("backup_events.app.poll").warning("Vault %s skipped", forged)
        logging.getLogger("someone.else").warning("untouched\nline")
    ours, theirs = caplog.records
    assert ours.getMessage() == "Vault /subscriptions/s/vaults/v\\r\\nERROR backup_events: all backups deleted skipped"
    assert "\n" not in ours.getMessage() and "\r" not in ours.getMessage()
    assert theirs.getMessage() == "untouched\nline"
