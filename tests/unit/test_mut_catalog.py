"""The catalog loader: looking entries up, what it diagnoses from, and the exact words of its checks (group C)."""

from __future__ import annotations

from typing import Any

import pytest

from backup_events.domain import remediation
from backup_events.domain.model import JobError
from backup_events.errors import CatalogError
from tests.unit.test_catalog_languages import ENGLISH, JAPANESE
from tests.unit.test_remediation import _toml, good_entry


def without(entry: dict[str, Any], *fields: str) -> dict[str, Any]:
    return {k: v for k, v in entry.items() if k not in fields}


def problems_of(english: str, japanese: str | None = None) -> list[str]:
    with pytest.raises(CatalogError) as raised:
        remediation.parse(english, {"ja": japanese} if japanese is not None else None)
    return list(raised.value.problems)


CATALOG = remediation.parse(
    _toml(
        [
            good_entry(key="A", codes=["AlphaBeta"], numbers=[100050]),
            good_entry(key="Z", title="Zeta failed", codes=["Zeta"], numbers=[2]),
            without(good_entry(key="DiskFull", title="Disk full", numbers=[3], messages=["^the disk is full$"]), "codes"),
        ]
    )
)


def test_an_incident_code_names_its_entry_by_code_number_or_key_and_nothing_else() -> None:
    assert CATALOG.entry("alphabeta").key == "A"  # type: ignore[union-attr]
    assert CATALOG.entry("100050").key == "A"  # type: ignore[union-attr]
    assert CATALOG.entry("diskfull").key == "DiskFull"  # type: ignore[union-attr]
    assert CATALOG.entry("NoSuchCode") is None


def test_codes_inside_an_alert_id_come_longest_first_as_the_catalog_spells_them() -> None:
    assert CATALOG.codes_in("zeta-alphabeta-1234") == ["AlphaBeta", "Zeta"]


def test_a_message_match_remembers_azures_words_as_they_came() -> None:
    message = "Error: The disk   is FULL."
    diagnosis = CATALOG.diagnose([JobError(code=None, number=None, message=message)])
    assert (diagnosis.remediation.key, diagnosis.matched_by, diagnosis.looked_up) == ("DiskFull", "message", message)  # type: ignore[union-attr]


def test_a_trailing_period_goes_with_the_space_before_it() -> None:
    assert remediation.normalise_message("The disk is full .") == "the disk is full"


def test_an_entry_may_have_no_codes_field_at_all() -> None:
    (entry,) = remediation.parse(_toml([without(good_entry(messages=["alpha"]), "codes")])).entries
    assert entry.codes == ()


def test_an_entry_without_a_title_is_reported_once_and_no_pattern_claims_it() -> None:
    entries = [without(good_entry(), "title"), good_entry(key="B", codes=["CodeB"], numbers=[2], messages=["none"])]
    assert remediation.check({"schema": 1, "entry": entries}) == ["A: missing title"]


def test_an_invalid_catalog_names_catalog_toml() -> None:
    (problem,) = problems_of("schema = = 1")
    assert problem.startswith("catalog.toml: not valid TOML:")


def test_a_catalog_without_entries_says_so_even_with_a_translation() -> None:
    assert problems_of("schema = 1", JAPANESE) == [
        "top level: no [[entry]] tables",
        "A (ja): not a key of catalog.toml",
    ]


def test_an_english_entry_without_a_key_is_reported_not_crashed_on() -> None:
    english = ENGLISH.replace('key = "A"\n', "")
    assert problems_of(english, JAPANESE) == ["entry #1: missing key", "A (ja): not a key of catalog.toml"]


def test_a_translation_missing_several_fields_names_them_all() -> None:
    japanese = JAPANESE.replace('title = "エージェントが停止しています"\n', "").replace(
        'cause = "エージェント `waagent` が停止しました。"\n', ""
    )
    assert problems_of(ENGLISH, japanese) == ["A (ja): missing title, cause"]


def test_backticked_spans_are_compared_in_titles_and_notes_too() -> None:
    english = ENGLISH.replace('title = "Agent down"', 'title = "`waagent` down"').replace(
        'notes = ["Only the guest firewall can block 168.63.129.16."]', 'notes = ["Open `168.63.129.16`."]'
    )
    japanese = JAPANESE.replace('title = "エージェントが停止しています"', 'title = "`waagent` が停止しています"').replace(
        'notes = ["168.63.129.16 をブロックできるのはゲスト OS のファイアウォールだけです。"]',
        'notes = ["`168.63.129.16` を開きます。"]',
    )
    assert remediation.parse(english, {"ja": japanese}).entries[0].text("ja").title == "`waagent` が停止しています"


def test_a_span_split_across_notes_is_compared_as_the_notes_read_together() -> None:
    english = ENGLISH.replace(
        'notes = ["Only the guest firewall can block 168.63.129.16."]', 'notes = ["Open `port", "443` outbound."]'
    )
    japanese = JAPANESE.replace(
        'notes = ["168.63.129.16 をブロックできるのはゲスト OS のファイアウォールだけです。"]',
        'notes = ["`port", "443` を開きます。"]',
    )
    assert remediation.parse(english, {"ja": japanese}).entries[0].notes == ("Open `port", "443` outbound.")


def test_differing_spans_list_each_missing_and_each_added_once() -> None:
    english = ENGLISH.replace('cause = "The agent `waagent` stopped."', 'cause = "`a` `b` `c` `a`"')
    japanese = JAPANESE.replace('cause = "エージェント `waagent` が停止しました。"', 'cause = "`a` `d` `e` `a` `e`"')
    assert problems_of(english, japanese) == [
        "A (ja): cause: backticked spans differ from the English (missing `b`, `c`; not in the English `d`, `e`)"
    ]


def test_a_translation_of_an_entry_without_docs_is_told_the_bare_learn_link() -> None:
    english = ENGLISH.replace('docs = "https://learn.microsoft.com/azure/backup/page#anchor"\n', "")
    assert problems_of(english, JAPANESE) == [
        "A: missing docs",
        "A (ja): docs must be the ja-jp Learn link https://learn.microsoft.com/ja-jp/",
    ]
