"""Log records of backup-events on one line each: a CR or LF in an input-derived value (a vault id, an alert's text)
could otherwise forge log lines. Installed once by the composition root; other loggers' records are left alone."""

from __future__ import annotations

import logging
from typing import Any

_PREFIX = "backup_events"


def install() -> None:
    """Escape CR and LF in every record the package logs (idempotent)."""
    factory = logging.getLogRecordFactory()
    if getattr(factory, "backup_events_one_line", False):
        return

    def one_line(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        if record.name.startswith(_PREFIX):
            message = record.getMessage()
            if "\r" in message or "\n" in message:
                record.msg, record.args = message.replace("\r", "\\r").replace("\n", "\\n"), None
        return record

    one_line.backup_events_one_line = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(one_line)
