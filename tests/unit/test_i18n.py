"""The emails' translation machinery: gettext catalogs compiled with Babel, Jinja2's i18n extension, Babel's dates.

``i18n_demo/templates/demo.html.j2`` shows the whole path on a template of its own: Babel's Jinja2 extractor finds
its words, a catalog translates them, Babel compiles it, and the environment ``render`` uses speaks Japanese with the
input still escaped. The product's own emails in Japanese are specified in tests/test_japanese_emails.py.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jinja2
import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.support import Translations

from backup_events.mail import i18n, render

DEMO = Path(__file__).resolve().parent / "i18n_demo"
JAPANESE = {
    "WHAT TO DO": "対処方法",
    "The backup of %(item)s failed.": "%(item)s のバックアップに失敗しました。",
    "Started": "開始",
}
NOV_25_0600_UTC = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)


def compiled(catalog: Catalog) -> bytes:
    out = io.BytesIO()
    write_mo(out, catalog)
    return out.getvalue()


def translated(template: Catalog, words: dict[str, str], fuzzy: tuple[str, ...] = ()) -> Catalog:
    catalog = Catalog(locale="ja", domain=i18n.DOMAIN, fuzzy=False)
    for message in template:
        if message.id:
            catalog.add(message.id, words.get(str(message.id), ""), flags=["fuzzy"] if message.id in fuzzy else [])
    return catalog


def test_a_template_of_our_own_renders_in_japanese_through_extract_catalog_and_compile() -> None:
    template = i18n.extract(DEMO, DEMO / "babel.cfg")
    assert sorted(str(m.id) for m in template if m.id) == sorted(JAPANESE)
    words = Translations(io.BytesIO(compiled(translated(template, JAPANESE))), domain=i18n.DOMAIN)
    env = i18n.environment(jinja2.FileSystemLoader(DEMO / "templates"), words)

    html = env.get_template("demo.html.j2").render(item="<vm-01>", started="2026年11月25日 15:00 JST")

    assert "<h2>対処方法</h2>" in html
    assert "<p>&lt;vm-01&gt; のバックアップに失敗しました。</p>" in html
    assert "<p>開始: 2026年11月25日 15:00 JST</p>" in html
    assert not any(english in html for english in JAPANESE)


def test_the_same_template_in_english_is_its_own_text() -> None:
    env = i18n.environment(jinja2.FileSystemLoader(DEMO / "templates"), i18n.translations("en"))
    html = env.get_template("demo.html.j2").render(item="<vm-01>", started="2026-11-25 06:00 UTC")
    assert "<h2>WHAT TO DO</h2>" in html and "<p>The backup of &lt;vm-01&gt; failed.</p>" in html


def test_renders_environment_has_the_i18n_extension_and_the_readers_catalog_installed() -> None:
    japanese = render._environment("ja")
    assert "jinja2.ext.InternationalizationExtension" in japanese.extensions
    assert japanese is not render._environment("en")
    assert japanese.from_string("{% trans %}Not in the catalog yet{% endtrans %}").render() == "Not in the catalog yet"
    assert i18n.translations("ja").info()["language"] == "ja"  # the shipped .mo, with its header


def test_a_language_without_email_translations_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="no email translations for 'fr': use one of en, ja"):
        i18n.translations("fr")


def test_the_shipped_catalogs_are_current() -> None:
    pot = i18n.read_catalog(i18n.TEMPLATE)
    po = {"ja": i18n.read_catalog(i18n.po_path("ja"), "ja")}
    mo = {"ja": i18n.mo_path("ja").read_bytes()}
    assert i18n.stale(i18n.extract(), pot, po, mo) == []


def test_stale_catalogs_are_named_each_in_one_line() -> None:
    template = i18n.extract(DEMO, DEMO / "babel.cfg")
    good = translated(template, JAPANESE)
    assert i18n.stale(template, template, {"ja": good}, {"ja": compiled(good)}) == []

    untranslated = translated(template, {**JAPANESE, "Started": ""})
    fuzzy = translated(template, JAPANESE, fuzzy=("Started",))
    empty = Catalog(domain=i18n.DOMAIN)
    assert i18n.stale(template, empty, {}, {}) == sorted(
        f"messages.pot lacks {m!r}: run python -m backup_events.mail.i18n" for m in JAPANESE
    )
    assert i18n.stale(empty, template, {}, {}) == sorted(
        f"messages.pot still has {m!r}, which no template uses" for m in JAPANESE
    )
    assert i18n.stale(template, template, {"ja": untranslated}, {"ja": compiled(untranslated)}) == [
        "ja: no translation of 'Started' in messages.po"
    ]
    assert i18n.stale(template, template, {"ja": fuzzy}, {"ja": compiled(good)}) == [
        "ja: messages.mo is not messages.po compiled: run python -m backup_events.mail.i18n",
        "ja: no translation of 'Started' in messages.po",
    ]
    assert i18n.stale(template, template, {"ja": good}, {"ja": compiled(untranslated)}) == [
        "ja: messages.mo is not messages.po compiled: run python -m backup_events.mail.i18n"
    ]


@pytest.mark.parametrize(
    ("language", "zone", "shown"),
    [
        ("ja", "Asia/Tokyo", "2026年11月25日 15:00 JST"),
        ("ja", "UTC", "2026年11月25日 06:00 UTC"),
        ("en", "UTC", "2026-11-25 06:00 UTC"),
        ("en", "Asia/Tokyo", "2026-11-25 15:00 JST"),
        ("en", "Europe/Berlin", "2026-11-25 07:00 CET"),
    ],
)
def test_a_moment_is_shown_in_the_readers_language_and_time_zone(language: str, zone: str, shown: str) -> None:
    assert i18n.format_when(NOV_25_0600_UTC, language, zone) == shown


def test_a_moment_follows_summer_time_and_a_missing_one_is_a_dash() -> None:
    assert i18n.format_when(datetime(2026, 7, 1, 12, 0, tzinfo=UTC), "en", "America/New_York") == "2026-07-01 08:00 EDT"
    assert i18n.format_when(None, "ja", "Asia/Tokyo") == "—"


@pytest.mark.parametrize(
    ("duration", "ja", "en"),
    [
        (timedelta(hours=5, minutes=25), "5 時間 25 分", "5 hr 25 min"),
        (timedelta(hours=50), "2 日 2 時間", "2 days 2 hr"),
        (timedelta(minutes=1, seconds=30), "1 分 30 秒", "1 min 30 sec"),
        (timedelta(seconds=-1), "—", "—"),
        (None, "—", "—"),
    ],
)
def test_a_duration_is_two_units_in_the_readers_language(duration: timedelta | None, ja: str, en: str) -> None:
    assert (i18n.format_duration(duration, "ja"), i18n.format_duration(duration, "en")) == (ja, en)


def test_a_count_is_grouped_for_the_reader() -> None:
    assert (i18n.format_count(12345, "ja"), i18n.format_count(7, "en")) == ("12,345", "7")
