"""The local mailer: each email becomes a real ``.eml`` (multipart/alternative) plus its ``.html``.

File names derive from the message key, so telling the same job again overwrites instead of piling up.
"""

from __future__ import annotations

import email.utils
import hashlib
import re
from collections.abc import Callable
from datetime import datetime
from email.charset import QP, Charset
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from pathlib import Path

from backup_events.domain.model import EmailMessage
from backup_events.errors import DeliveryError

_QUOTED_PRINTABLE_UTF8 = Charset("utf-8")
_QUOTED_PRINTABLE_UTF8.body_encoding = QP


def file_stem(message: EmailMessage) -> str:
    """``<item-slug>-<hash of key>``: readable and unique per told job."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", message.subject.removeprefix("[Backup failed]")).strip("-").lower()
    return f"{slug[:60]}-{hashlib.sha256(message.key.encode()).hexdigest()[:10]}"


def to_mime(message: EmailMessage, *, sent_at: datetime) -> MIMEMultipart:
    """The message as a standard MIME email (multipart/alternative: plain text, then HTML).

    Built with ``email.mime`` rather than the ``EmailMessage`` API: the same bytes on the wire, several times
    cheaper to build, which matters when a storm is written to the outbox.
    """
    mime = MIMEMultipart("alternative")
    # A non-ASCII subject (Japanese) as RFC 2047 encoded words, folded by the generator from the first line on.
    if message.subject.isascii():
        mime["Subject"] = message.subject
    else:
        mime["Subject"] = Header(message.subject, "utf-8", header_name="Subject")  # type: ignore[assignment]  # compat32 takes a Header
    mime["From"] = message.sender
    mime["To"] = ", ".join(message.recipients)
    mime["Date"] = email.utils.format_datetime(sent_at)
    mime["Message-ID"] = email.utils.make_msgid(idstring=hashlib.sha256(message.key.encode()).hexdigest()[:16])
    for name, value in message.headers.items():
        mime[name] = value
    for body, subtype in ((message.text, "plain"), (message.html, "html")):
        part = MIMENonMultipart("text", subtype)
        part.set_payload(body, _QUOTED_PRINTABLE_UTF8)  # readable in the raw .eml, unlike base64
        mime.attach(part)
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
            (self.folder / f"{stem}.eml").write_bytes(to_mime(message, sent_at=self._clock()).as_bytes())
            (self.folder / f"{stem}.html").write_text(message.html, encoding="utf-8")
        except OSError as exc:
            raise DeliveryError(f"could not write to the outbox {self.folder}: {exc.strerror}") from exc
        return f"outbox:{stem}"
