"""Emails as files: every line within RFC 5322's limit, and the plain-text part as complete as the HTML.

A reader whose client shows only text (or a pager gateway, or a ticket system) misses nothing but the layout: every
word the HTML shows is in the text, but for a few label words the two parts phrase differently ("Last good recovery
point" / "Last good")."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import UTC, datetime
from email.message import EmailMessage as MimeMessage
from pathlib import Path

import pytest

from backup_events.adapters.outbox_mailer import to_mime
from backup_events.cli import main as cli
from backup_events.dev import demo
from backup_events.domain.model import EmailMessage
from tests.every_kind import visible

# Words of labels the text part writes another way; never a value (an item, a code, a step, a cause).
LABEL_WORDS = {"error", "point", "points", "recovery", "digest", "instead", "from", "last", "this", "failures"}
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9'-]{3,}")


def words(text: str) -> set[str]:
    return {w.casefold() for w in _WORD.findall(text)}


def missing_from_text(message: MimeMessage) -> set[str]:
    """Words the HTML part shows that the text part lacks, label words aside."""
    shown = visible(message.get_body(("html",)).get_content())  # type: ignore[union-attr]
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    return words(shown) - words(text) - LABEL_WORDS


@pytest.fixture(scope="module")
def story_files(tmp_path_factory: pytest.TempPathFactory, azurite: str) -> list[bytes]:
    outbox = tmp_path_factory.mktemp("story")
    demo.story(tmp_path_factory.mktemp("state"), outbox, show=lambda title, report: None)
    return [p.read_bytes() for p in sorted(outbox.glob("*.eml"))]


@pytest.fixture(scope="module")
def story(story_files: list[bytes]) -> list[MimeMessage]:
    return [email.message_from_bytes(raw, policy=email.policy.default) for raw in story_files]  # type: ignore[misc]


def test_no_line_of_any_email_is_longer_than_rfc_5322_allows(story_files: list[bytes]) -> None:
    # 998 characters a line, headers included (RFC 5322 2.1.1); a digest's key header once grew past 2,700.
    longest = max(len(line) for raw in story_files for line in raw.split(b"\n"))
    assert longest <= 998
    headers = [line for raw in story_files for line in raw.split(b"\n\n", 1)[0].split(b"\n")]
    assert max(len(line) for line in headers) <= 78 * 2  # folded as mail clients expect


def test_the_story_writes_every_kind_of_email(story: list[MimeMessage]) -> None:
    subjects = " ".join(str(m["Subject"]) for m in story)
    for kind in ("[Backup failed]", "[Backup still failing]", "[Backup recovered]", "[Backup missed]", "(digest)"):
        assert kind in subjects, kind


def test_every_word_of_every_html_part_is_in_its_plain_text_part(story: list[MimeMessage]) -> None:
    gaps = {str(m["Subject"]): missing for m in story if (missing := missing_from_text(m))}
    assert gaps == {}


def test_the_test_email_text_is_as_complete_as_its_html(tmp_path: Path) -> None:
    message = cli.test_message(demo.settings_for("UseDevelopmentStorage=true", tmp_path))
    mime = email.message_from_bytes(_mime(message), policy=email.policy.default)
    assert missing_from_text(mime) == set()  # type: ignore[arg-type]


def test_a_missing_paragraph_is_caught() -> None:
    # The check itself can fail: an HTML part with a sentence the text part lacks.
    mime = MimeMessage()
    mime.set_content("Backup failed: vm-app-02")
    mime.add_alternative("<html><body><p>Backup failed: vm-app-02</p><p>Restart RdAgent now</p></body></html>", subtype="html")
    assert missing_from_text(mime) == {"restart", "rdagent"}


def _mime(message: EmailMessage) -> bytes:
    return to_mime(message, sent_at=datetime(2026, 11, 25, 9, 0, tzinfo=UTC)).as_bytes()
