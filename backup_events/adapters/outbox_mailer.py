"""The local mailer: each email becomes a real ``.eml`` (multipart/alternative) plus its ``.html``.

File names derive from the message key, so telling the same job again overwrites instead of piling up.
"""

from __future__ import annotations

import email.message
import email.policy
import email.utils
import hashlib
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from backup_events.errors import DeliveryError
from backup_events.model import EmailMessage


def file_stem(message: EmailMessage) -> str:
    """``<item-slug>-<hash of key>``: readable and unique per told job."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", message.subject.removeprefix("[Backup failed]")).strip("-").lower()
    return f"{slug[:60]}-{hashlib.sha256(message.key.encode()).hexdigest()[:10]}"


def to_mime(message: EmailMessage, *, sent_at: datetime) -> email.message.EmailMessage:
    """The message as a standard MIME email, as a mail client would receive it."""
    mime = email.message.EmailMessage(policy=email.policy.SMTP)
    mime["Subject"] = message.subject
    mime["From"] = message.sender
    mime["To"] = ", ".join(message.recipients)
    mime["Date"] = email.utils.format_datetime(sent_at)
    mime["Message-ID"] = email.utils.make_msgid(idstring=hashlib.sha256(message.key.encode()).hexdigest()[:16])
    for name, value in message.headers.items():
        mime[name] = value
    mime.set_content(message.text)
    mime.add_alternative(message.html, subtype="html")
    return mime


class OutboxMailer:
    """Implements ``ports.Mailer`` by writing files into a folder."""

    def __init__(self, folder: Path, *, clock: Callable[[], datetime]) -> None:
        self.folder = folder
        self._clock = clock

    def delivered(self, message: EmailMessage) -> bool | None:
        """Was this message written already (its file name derives from its key)?"""
        return (self.folder / f"{file_stem(message)}.eml").exists()

    def send(self, message: EmailMessage) -> str:
        stem = file_stem(message)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            (self.folder / f"{stem}.eml").write_bytes(bytes(to_mime(message, sent_at=self._clock())))
            (self.folder / f"{stem}.html").write_text(message.html, encoding="utf-8")
        except OSError as exc:
            raise DeliveryError(f"could not write to the outbox {self.folder}: {exc.strerror}") from exc
        return f"outbox:{stem}"
