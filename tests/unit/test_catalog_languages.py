"""The catalog in every language: catalog.ja.toml is loaded beside catalog.toml, and its check names the key."""

from __future__ import annotations

import tomllib

import pytest

from backup_events.domain import remediation
from backup_events.domain.model import LANGUAGES, RemediationText
from backup_events.errors import CatalogError

ENGLISH = """
schema = 1
[[entry]]
key = "A"
title = "Agent down"
codes = ["CodeA"]
workloads = ["Azure VM"]
phase = "Take Snapshot"
severity = "user"
cause = "The agent `waagent` stopped."
steps = ["Run `sudo systemctl start waagent`.", "Run Backup now."]
notes = ["Only the guest firewall can block 168.63.129.16."]
docs = "https://learn.microsoft.com/azure/backup/page#anchor"
"""

JAPANESE = """
schema = 1
language = "ja"
[entry.A]
title = "エージェントが停止しています"
cause = "エージェント `waagent` が停止しました。"
steps = ["`sudo systemctl start waagent` を実行します。", "「今すぐバックアップ」を実行します。"]
notes = ["168.63.129.16 をブロックできるのはゲスト OS のファイアウォールだけです。"]
docs = "https://learn.microsoft.com/ja-jp/azure/backup/page#anchor"
"""


def japanese(old: str, new: str) -> str:
    assert old in JAPANESE, old
    return JAPANESE.replace(old, new)


def problems(ja: str, en: str = ENGLISH) -> list[str]:
    with pytest.raises(CatalogError) as raised:
        remediation.parse(en, {"ja": ja})
    return list(raised.value.problems)


def test_an_entry_gives_its_japanese_text_and_keeps_its_english_attributes() -> None:
    (entry,) = remediation.parse(ENGLISH, {"ja": JAPANESE}).entries
    assert entry.text("ja") == RemediationText(
        title="エージェントが停止しています",
        cause="エージェント `waagent` が停止しました。",
        steps=("`sudo systemctl start waagent` を実行します。", "「今すぐバックアップ」を実行します。"),
        notes=("168.63.129.16 をブロックできるのはゲスト OS のファイアウォールだけです。",),
        docs_url="https://learn.microsoft.com/ja-jp/azure/backup/page#anchor",
    )
    assert (entry.title, entry.steps[1], entry.docs_url) == (
        "Agent down",
        "Run Backup now.",
        "https://learn.microsoft.com/azure/backup/page#anchor",
    )
    assert entry.text() == entry.text("en") == RemediationText(entry.title, entry.cause, entry.steps, entry.notes, entry.docs_url)


def test_text_in_a_language_the_entry_lacks_names_the_entry() -> None:
    (entry,) = remediation.parse(ENGLISH).entries
    with pytest.raises(LookupError, match="catalog entry A has no 'ja' text"):
        entry.text("ja")


def test_japanese_notes_are_optional_when_the_english_has_none() -> None:
    english = ENGLISH.replace('notes = ["Only the guest firewall can block 168.63.129.16."]\n', "")
    ja = japanese('notes = ["168.63.129.16 をブロックできるのはゲスト OS のファイアウォールだけです。"]\n', "")
    (entry,) = remediation.parse(english, {"ja": ja}).entries
    assert entry.text("ja").notes == ()


def test_every_bundled_entry_is_written_in_every_language_with_its_ja_jp_learn_page() -> None:
    catalog = remediation.load()
    assert LANGUAGES == ("en", "ja")
    assert len(catalog.entries) == len(tomllib.loads(remediation.catalog_text())["entry"]) >= 150
    for entry in catalog.entries:
        ja = entry.text("ja")
        assert len(ja.steps) == len(entry.steps) and len(ja.notes) == len(entry.notes), entry.key
        assert ja.docs_url == entry.docs_url.replace("learn.microsoft.com/", "learn.microsoft.com/ja-jp/"), entry.key
        assert ja.title != entry.title and ja.cause != entry.cause, entry.key


def test_the_bundled_japanese_keeps_the_seeds_field_knowledge() -> None:
    ja = remediation.load().by_code["usererrorguestagentstatusunavailable"].text("ja")
    text = "\n".join([ja.cause, *ja.steps, *ja.notes])
    for words in (
        "walinuxagent`",
        "waagent`",
        "`RdAgent`",
        "`Windows Azure Guest Agent`",
        "168.63.129.16",
        "ゲスト エージェント",
    ):
        assert words in text, words
    assert "「スナップショットの作成」" in text and "ゲスト OS 内のファイアウォール" in text
    in_progress = remediation.load().by_code["usererrorbackupoperationinprogress"].text("ja")
    assert "前回のバックアップ ジョブが「スナップショットの作成」フェーズにある間" in in_progress.cause
    assert any("「コンテナーへのデータ転送」" in note for note in in_progress.notes)


def test_the_learn_link_in_japanese_keeps_page_and_anchor_and_replaces_a_locale() -> None:
    assert remediation.translated_docs("https://learn.microsoft.com/azure/backup/p#a", "ja") == (
        "https://learn.microsoft.com/ja-jp/azure/backup/p#a"
    )
    assert remediation.translated_docs("https://learn.microsoft.com/en-us/azure/backup/p#a", "ja") == (
        "https://learn.microsoft.com/ja-jp/azure/backup/p#a"
    )


@pytest.mark.parametrize(
    ("ja", "problem"),
    [
        (japanese("[entry.A]", "[entry.B]"), "A: no ja text (add [entry.A] to catalog.ja.toml)"),
        (JAPANESE + '\n[entry.Z]\ntitle = "t"\n', "Z (ja): not a key of catalog.toml"),
        (
            japanese(', "「今すぐバックアップ」を実行します。"]', "]"),
            "A (ja): 1 steps, the English has 2",
        ),
        (japanese("notes = [", 'notes = ["追加のメモ", '), "A (ja): 2 notes, the English has 1"),
        (
            japanese("`sudo systemctl start waagent` を実行します。", "`sudo systemctl start walinuxagent` を実行します。"),
            "A (ja): step 1: backticked spans differ from the English (missing `sudo systemctl start waagent`; "
            "not in the English `sudo systemctl start walinuxagent`)",
        ),
        (
            japanese("`sudo systemctl start waagent` を実行します。", "sudo systemctl start waagent を実行します。"),
            "A (ja): step 1: backticked spans differ from the English (missing `sudo systemctl start waagent`)",
        ),
        (
            japanese("エージェント `waagent` が停止しました。", "エージェントが停止しました。"),
            "A (ja): cause: backticked spans differ from the English (missing `waagent`)",
        ),
        (
            japanese('title = "エージェントが停止しています"', 'title = "`waagent` が停止しています"'),
            "A (ja): title: backticked spans differ from the English (not in the English `waagent`)",
        ),
        (
            japanese("ファイアウォールだけです。", "ファイアウォール (`iptables`) だけです。"),
            "A (ja): notes: backticked spans differ from the English (not in the English `iptables`)",
        ),
        (
            japanese("https://learn.microsoft.com/ja-jp/", "https://learn.microsoft.com/"),
            "A (ja): docs must be the ja-jp Learn link https://learn.microsoft.com/ja-jp/azure/backup/page#anchor",
        ),
        (
            japanese("https://learn.microsoft.com/ja-jp/", "https://learn.microsoft.com/en-us/"),
            "A (ja): docs must be the ja-jp Learn link https://learn.microsoft.com/ja-jp/azure/backup/page#anchor",
        ),
        (
            japanese("page#anchor", "page#other-anchor"),
            "A (ja): docs must be the ja-jp Learn link https://learn.microsoft.com/ja-jp/azure/backup/page#anchor",
        ),
        (japanese('cause = "エージェント `waagent` が停止しました。"', ""), "A (ja): missing cause"),
        (japanese('title = "エージェントが停止しています"', 'title = ""'), "A (ja): missing title"),
        (
            japanese("[entry.A]", '[entry.A]\ncodes = ["CodeA"]'),
            "A (ja): unknown field(s) ['codes']: only words are translated, matching stays in catalog.toml",
        ),
        (japanese("steps = [", 'steps = [" ", '), "A (ja): every step must be non-empty text"),
        (japanese("notes = [", "notes = [3, "), "A (ja): every note must be non-empty text"),
        (japanese("schema = 1", "schema = 2"), "catalog.ja.toml: schema must be 1"),
        (japanese('language = "ja"', 'language = "en"'), "catalog.ja.toml: language must be 'ja'"),
        ('schema = 1\nlanguage = "ja"\n', "catalog.ja.toml: no [entry.<key>] tables"),
        ('schema = 1\nlanguage = "ja"\nentry = 3\n', "catalog.ja.toml: no [entry.<key>] tables"),
        ('schema = 1\nlanguage = "ja"\nentry = {A = 3}\n', "A (ja): must be a table"),
    ],
    ids=[
        "entry without japanese",
        "unknown key",
        "step count",
        "note count",
        "command changed",
        "backticks dropped",
        "cause span",
        "title span",
        "notes span",
        "docs not ja-jp",
        "docs en-us",
        "docs other anchor",
        "missing field",
        "empty field",
        "matching field",
        "blank step",
        "note not text",
        "schema",
        "language",
        "no tables",
        "tables not a table",
        "entry not a table",
    ],
)
def test_the_check_fails_naming_the_key(ja: str, problem: str) -> None:
    assert problem in problems(ja)


def test_a_japanese_file_that_is_not_toml_is_named_in_one_line() -> None:
    (problem,) = problems('title = "unterminated\n')
    assert problem.startswith("catalog.ja.toml: not valid TOML: Illegal character") and "line 1" in problem


def test_english_and_japanese_problems_are_reported_together() -> None:
    english = ENGLISH.replace('phase = "Take Snapshot"', 'phase = "Lunch"')
    found = problems(japanese("ja-jp/", ""), english)
    assert found[0].startswith("A: phase 'Lunch' is not one of")
    assert found[1].startswith("A (ja): docs must be the ja-jp Learn link")


def test_the_bundled_japanese_passes_its_check() -> None:
    english = tomllib.loads(remediation.catalog_text())["entry"]
    ja = tomllib.loads(remediation.translation_texts()["ja"])
    assert remediation.check_translation(ja, english, "ja") == []
