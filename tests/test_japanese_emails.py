"""Every kind of email in Japanese, with times in JST: nothing of the English templates is left, and what stays in
English is someone else's words (Azure's messages and codes, item and vault names, ids, links) or a name.

The scan has two halves. No English text of the message catalog (messages.pot) appears untranslated; and once every
input-derived string (each string of the jobs, items and alerts fed in), every link and the ASCII words the Japanese
catalog itself uses (RdAgent, Windows, …) are taken out, no ASCII word of four letters or more remains but the few
names listed in ``NAMES``.
"""

from __future__ import annotations

import functools
import json
import re
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime
from email.header import Header
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from backup_events.adapters.outbox_mailer import to_mime
from backup_events.domain.model import EmailMessage, Phase, Workload
from backup_events.mail import i18n
from backup_events.mail.render import one_line
from backup_events.wire import dataprotection
from tests.app.test_blind_spots import FORBIDDEN, SIGN_IN
from tests.every_kind import DOCUMENTS, LONG_ITEM, RESTORES, Written, every_email, long_names_job, visible

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
# Names a Japanese email keeps as they are: the product's and Microsoft's, the portal's status words, the command.
NAMES = {
    "azure",
    "microsoft",
    "learn",
    "monitor",
    "portal",
    "backup-events",
    "inprogress",
    "failed",
    "take",
    "snapshot",
    "python",
    "backup_events",
    "test-email",
    "explain",
    "ncrontab",
    "outbox",
    # The blind spots' fixes: Azure Resource Manager, the az command's words, the settings they name.
    "manager",
    "assignment",
    "assignee",
    "scope",
    "azure_client_id",
    "backup_vault_ids",
    "backup_poll_schedule",
    "backup_subscription_ids",
}
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@'-]*[A-Za-z0-9]|[A-Za-z]")
# A word (no digit in it: those are ids and names) is English left over when it has four letters or more.
_LONG = 4
_URL = re.compile(r"https?://\S+")
_PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sd]|<[^>]+>|\\n")


@pytest.fixture(scope="module")
def japanese(tmp_path_factory: pytest.TempPathFactory, azurite: str) -> dict[str, Written]:
    return every_email(tmp_path_factory.mktemp("ja"), "ja", "Asia/Tokyo")


@pytest.fixture(scope="module")
def english(tmp_path_factory: pytest.TempPathFactory, azurite: str) -> dict[str, Written]:
    return every_email(tmp_path_factory.mktemp("en"))


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
        yield from value.split("/")
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def inputs() -> list[str]:
    """Every string fed to the pipeline (and each segment of a resource id), longest first."""
    files = [ROOT / "backup_events/dev/samples/jobs.json", RESTORES, *(DATA / f for f in DOCUMENTS.values())]
    found = {s for f in files for s in _strings(json.loads(f.read_text(encoding="utf-8")))}
    found |= set(_strings(long_names_job())) | {f"share-{i:02d}" for i in range(100)}
    found |= {f"vm-stuck-{n:02d}" for n in range(6)} | {w.value for w in Workload} | {p.value for p in Phase}
    found |= set(long_names_job()["properties"]["entityFriendlyName"].replace("/", " ").split())  # type: ignore[index]
    # The settings the emails were written with (addresses, the outbox folders), and why explain read no job: the
    # adapter's own words, quoted in a note.
    found |= {"oncall@example.com", "backup-events@example.com", "story", "restores", "reminders", "explain reads no API"}
    # The watchdog's: the errors its stand-in jobs sources give (synthetic, worded as the jobs source words them),
    # its long item, and the Backup vault's job type (as Azure names it).
    found |= {FORBIDDEN, *SIGN_IN.split(" {vault}: "), LONG_ITEM, dataprotection.JOB_TYPE}
    return sorted((" ".join(s.split()) for s in found if len(s) >= 2), key=len, reverse=True)


def catalog_words() -> set[str]:
    """The ASCII words the Japanese catalog itself writes (commands, service and product names)."""
    text = (ROOT / "backup_events/catalog.ja.toml").read_text(encoding="utf-8")
    return {w.casefold() for w in _WORD.findall(json.dumps(tomllib.loads(text), ensure_ascii=False))}


def without_input(text: str, fed: list[str]) -> str:
    """``text`` without links and without the input strings of several words (Azure's messages), taken out whole."""
    text = " ".join(text.split())
    for value in (v for v in fed if " " in v):
        text = text.replace(value, " ")
    return _URL.sub(" ", text)


def english_left(text: str, fed: list[str], allowed: set[str]) -> set[str]:
    """The ASCII words of four letters or more left in ``text`` once input, links and allowed words are taken out.

    An input string of several words (Azure's message) is taken out whole; one of a single word (a code, a name) only
    where it stands as a word of its own, so a code's fragment never passes for Azure's."""
    text = without_input(text, fed)
    single = {v.casefold() for v in fed if " " not in v}
    words = (w for w in _WORD.findall(text) if len(w) >= _LONG and not any(c.isdigit() for c in w))
    return {w for w in words if w.casefold() not in allowed and w.casefold() not in single}


@functools.cache
def english_phrases() -> frozenset[str]:
    """The English phrases of messages.pot (two words or more, between placeholders and tags) that its Japanese
    translation does not keep (a command such as ``python -m backup_events test-email`` it keeps)."""
    phrases = set()
    for message in i18n.read_catalog(i18n.po_path("ja"), "ja"):
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        kept = " ".join(message.string if isinstance(message.string, tuple) else (message.string,))
        for fragment in (f.strip(" .,:;()[]") for msgid in ids for f in _PLACEHOLDER.split(str(msgid))):
            if len(re.findall(r"[A-Za-z]{2,}", fragment)) >= 2 and " ".join(fragment.split()) not in kept:
                phrases.add(" ".join(fragment.split()))
    return frozenset(phrases)


def untranslated(text: str, fed: list[str] | None = None) -> set[str]:
    """The English phrases of messages.pot found in ``text`` once the input (``fed``) is taken out."""
    text = without_input(text, fed or [])
    return {phrase for phrase in english_phrases() if phrase in text}


def shown(subject: str) -> str:
    """A subject as scanned: one cut at 250 characters (render.one_line) ends inside a word, which is left out."""
    return subject.rsplit(" ", 1)[0] if len(subject) >= 250 else subject


def test_every_kind_of_email_is_written_in_japanese(japanese: dict[str, Written]) -> None:
    subjects = "\n".join(w.subject for w in japanese.values())
    for label in (
        "[バックアップ失敗]",
        "[復元失敗]",
        "[バックアップ失敗継続中]",
        "[バックアップ復旧]",
        "[バックアップ未取得]",
        "[バックアップ未取得継続中]",
        "(まとめ)",
        "(再通知まとめ)",
        "[バックアップ セキュリティ アラート]",
        "[backup-events テスト]",
    ):
        assert label in subjects, label
    assert all('<html lang="ja">' in w.html for w in japanese.values())


def test_no_english_template_text_is_left_in_a_japanese_email(japanese: dict[str, Written]) -> None:
    fed, allowed = inputs(), NAMES | catalog_words()
    left = {
        f"{name} {part}": words
        for name, written in japanese.items()
        for part, text in (("subject", shown(written.subject)), ("text", written.text), ("html", visible(written.html)))
        if (words := english_left(text, fed, allowed) | untranslated(text, fed))
    }
    assert left == {}


def test_the_scan_finds_english_template_text() -> None:
    # The scan itself can fail: a sentence left in English, and a label.
    fed, allowed = inputs(), NAMES | catalog_words()
    assert untranslated("vm-app-02: No good backup since 2026年11月25日") == {"No good backup since"}
    assert english_left("コンテナー rsv-prod · Started 2026年", fed, allowed) == {"Started"}
    assert english_left("VM Agent unable to communicate with Azure Backup", fed, allowed) == set()  # Azure's words


def test_azures_own_message_stays_as_azure_gave_it_and_is_labelled(japanese: dict[str, Written]) -> None:
    failure = japanese["job-from-alert"]
    assert "Azure からのメッセージ (原文)" in failure.text
    alert = japanese["security-alert"]
    assert "Azure からのメッセージ (原文)" in alert.text and "Azure からのメッセージ (原文)" in visible(alert.html)


_JST = re.compile(r"(\d{4})年(\d{1,2})月(\d{1,2})日 (\d{2}):(\d{2}) JST")
_UTC = re.compile(r"(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?: UTC|:[\d.]+Z)")  # ours, or Azure's own


def _times(pattern: re.Pattern[str], text: str, zone: str) -> list[datetime]:
    return [datetime(*map(int, m.groups()), tzinfo=ZoneInfo(zone)).astimezone(UTC) for m in pattern.finditer(text)]


def _by_key(emails: dict[str, Written]) -> dict[str, Written]:
    """Emails by their message key's hash (the file name's end), the same in both languages; explained ones by name."""
    return {
        name.split("-", 1)[0] * name.startswith("watchdog-") + name.rsplit("-", 1)[-1]
        if re.search(r"-[0-9a-f]{10}$", name)
        else name: w
        for name, w in emails.items()
    }


def test_a_readers_time_zone_changes_every_time_shown(japanese: dict[str, Written], english: dict[str, Written]) -> None:
    ja, en = _by_key(japanese), _by_key(english)
    assert sorted(ja) == sorted(en)
    for key, written in ja.items():
        both = {"ja": written.subject + written.text, "en": en[key].subject + en[key].text}
        assert not _UTC.search(both["ja"]) and "JST" not in both["en"], key
        assert sorted(_times(_JST, both["ja"], "Asia/Tokyo")) == sorted(_times(_UTC, both["en"], "UTC")), key
    assert sum(len(_JST.findall(w.text)) for w in ja.values()) > 80  # the check saw times (89 at this writing)


def _header_lines(written: Written) -> list[bytes]:
    message = EmailMessage("k", written.subject, written.text, written.html, "a@example.com", ("b@example.com",))
    raw = to_mime(message, sent_at=datetime(2026, 11, 25, tzinfo=UTC)).as_bytes()
    return raw.split(b"\n\n", 1)[0].split(b"\n")


def test_japanese_subjects_stay_within_the_header_limits_after_rfc2047_encoding(japanese: dict[str, Written]) -> None:
    for written in japanese.values():
        assert written.subject == one_line(written.subject)
        assert len(written.subject) <= 250
        lines = _header_lines(written)
        assert all(len(line) <= 998 for line in lines), written.subject
        encoded = str(Header(written.subject, "utf-8").encode())
        assert "=?utf-8?" in encoded and all(len(line) <= 998 for line in encoded.splitlines())
        assert written.subject.encode("utf-8").decode("utf-8") == written.subject


def test_a_subject_cut_at_its_limit_in_japanese_still_folds_into_short_header_lines() -> None:
    # synth: an item named in Japanese (a database may be), long enough that the subject is cut at 250 characters.
    import email  # noqa: PLC0415
    import email.policy  # noqa: PLC0415

    subject = one_line("[バックアップ失敗] " + "販売データベース" * 40 + ": UserErrorParentFullBackupMissing")
    assert len(subject) == 250
    lines = _header_lines(Written(subject, "本文", "<p>本文</p>"))
    assert max(len(line) for line in lines) <= 78  # folded at 76 (RFC 2047 encoded words), far below 998
    raw = b"\n".join(lines) + b"\n\n"
    assert str(email.message_from_bytes(raw, policy=email.policy.default)["Subject"]) == subject
