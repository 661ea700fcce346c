"""The emails in the reader's language: gettext catalogs compiled with Babel, Jinja2's i18n extension, Babel's dates.

The catalogs live in ``locale/``: ``messages.pot`` (every translatable string, extracted by Babel's Jinja2 extractor
from ``templates/`` and by its Python extractor from ``mail/``, ``domain/operations.py``, ``domain/watch.py`` and
``cli/main.py``, as ``babel.cfg`` says), and per language
``<lang>/LC_MESSAGES/messages.po`` (the translations) and ``messages.mo`` (compiled). The ``.mo`` is committed, so a
deployed Function App needs no build step; ``tests/unit/test_i18n.py`` fails while any of the three is stale.

After changing a wrapped text or a ``.po``: ``python -m backup_events.mail.i18n`` (extract, update, compile); how to
wrap, translate and check new words is docs/i18n.md.
"""

from __future__ import annotations

import gettext
import io
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from backup_events.domain.model import LANGUAGES

if TYPE_CHECKING:
    import jinja2
    from babel.messages.catalog import Catalog

MAIL = Path(__file__).resolve().parent
LOCALE_DIR = MAIL / "locale"
MAPPING = MAIL / "babel.cfg"
DOMAIN = "messages"
TEMPLATE = LOCALE_DIR / f"{DOMAIN}.pot"
# Dates in each language's own order; the zone follows as its tz database abbreviation (JST, UTC, CET), which both
# readers know, where CLDR would write JST in Japanese but +0900 in English.
_DATE_PATTERNS = {"en": "yyyy-MM-dd HH:mm", "ja": "y年M月d日 HH:mm"}
_DAY_PATTERNS = {"en": "yyyy-MM-dd", "ja": "y年M月d日"}


def po_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def mo_path(language: str) -> Path:
    return po_path(language).with_suffix(".mo")


def translations(language: str) -> gettext.NullTranslations:
    """The compiled catalog for ``language``; English is the templates' own text (no catalog)."""
    if language not in LANGUAGES:
        raise ValueError(f"no email translations for {language!r}: use one of {', '.join(LANGUAGES)}")
    if language == "en":
        return gettext.NullTranslations()
    from babel.support import Translations  # noqa: PLC0415 - imported on first render, not on cold start

    with mo_path(language).open("rb") as mo:
        return Translations(mo, domain=DOMAIN)


def environment(loader: jinja2.BaseLoader, words: gettext.NullTranslations) -> jinja2.Environment:
    """A Jinja2 environment for email templates with the i18n extension and ``words`` installed (new-style gettext:
    autoescaped, ``%(name)s`` placeholders). ``render`` builds its environments here; so can a test's own templates."""
    import jinja2  # noqa: PLC0415 - imported on first render, not on cold start

    env = jinja2.Environment(
        loader=loader,
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default_for_string=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        extensions=["jinja2.ext.i18n"],
    )
    env.policies["ext.i18n.trimmed"] = True  # a {% trans %} text may wrap over lines; babel.cfg extracts it the same way
    env.install_gettext_translations(words, newstyle=True)  # type: ignore[attr-defined]  # added by the extension
    return env


def format_when(value: datetime | None, language: str, zone: str = "UTC") -> str:
    """``2026年11月25日 15:00 JST`` / ``2026-11-25 06:00 UTC``: a moment in the reader's language and time zone."""
    if value is None:
        return "—"
    from babel.dates import format_datetime  # noqa: PLC0415 - imported on first render, not on cold start

    local = value.astimezone(ZoneInfo(zone))
    return f"{format_datetime(local, _DATE_PATTERNS[language], locale=language)} {local.tzname()}"


def format_day(value: datetime, language: str, zone: str = "UTC") -> str:
    """``2026年11月25日`` / ``2026-11-25``: the day a moment falls on in the reader's time zone, in their language."""
    from babel.dates import format_date  # noqa: PLC0415 - imported on first render, not on cold start

    return format_date(value.astimezone(ZoneInfo(zone)).date(), _DAY_PATTERNS[language], locale=language)


def format_duration(value: timedelta | None, language: str) -> str:
    """``5 時間 25 分`` / ``5 hr 25 min``: two units at most (days and hours from 48 h, minutes and seconds under 1 h)."""
    if value is None or value < timedelta(0):  # running jobs report negative durations
        return "—"
    from babel.units import format_unit  # noqa: PLC0415 - imported on first render, not on cold start

    minutes, seconds = divmod(int(value.total_seconds()), 60)
    hours, minutes = divmod(minutes, 60)
    if hours >= 48:
        parts = [(hours // 24, "duration-day"), (hours % 24, "duration-hour")]
    elif hours:
        parts = [(hours, "duration-hour"), (minutes, "duration-minute")]
    else:
        parts = [(minutes, "duration-minute"), (seconds, "duration-second")]
    return " ".join(format_unit(n, unit, length="short", locale=language) for n, unit in parts)


def format_count(value: int, language: str) -> str:
    """``12,345``: a number grouped as the reader's language groups it."""
    from babel.numbers import format_decimal  # noqa: PLC0415 - imported on first render, not on cold start

    return format_decimal(value, locale=language)


# --- keeping the catalogs current (dev time: `python -m backup_events.mail.i18n`, checked by tests/unit/test_i18n.py)


def extract(root: Path = MAIL.parent, mapping: Path = MAPPING) -> Catalog:
    """Every translatable string under ``root``, found as ``mapping`` (babel.cfg) says."""
    from babel.messages.extract import extract_from_dir  # noqa: PLC0415 - dev time only
    from babel.messages.frontend import parse_mapping_cfg  # noqa: PLC0415

    with mapping.open(encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)  # type: ignore[no-untyped-call]  # Babel is untyped here
    catalog = _catalog()
    for filename, lineno, message, comments, context in extract_from_dir(root, method_map, options_map):
        catalog.add(message, locations=[(filename, lineno)], auto_comments=comments, context=context)
    return catalog


def _catalog(language: str | None = None) -> Catalog:
    """An empty catalog with a fixed creation date, so regenerating unchanged catalogs changes no file."""
    from babel.messages.catalog import Catalog  # noqa: PLC0415 - dev time only

    fixed = datetime(2026, 12, 1, tzinfo=ZoneInfo("UTC"))
    return Catalog(
        locale=language,
        domain=DOMAIN,
        header_comment="# The backup-events emails' words. Regenerate: python -m backup_events.mail.i18n",
        project="backup-events",
        version="1",
        msgid_bugs_address="backup-events issues",
        copyright_holder="backup-events",
        last_translator="backup-events developers",
        language_team=f"backup-events {language or 'all'}",
        creation_date=fixed,
        revision_date=fixed,
        fuzzy=False,  # a fuzzy header would leave the .mo without its charset
    )


def read_catalog(path: Path, language: str | None = None) -> Catalog:
    from babel.messages.pofile import read_po  # noqa: PLC0415 - dev time only

    with path.open("rb") as po:
        return read_po(po, locale=language, domain=DOMAIN)


def stale(
    template: Catalog, committed_pot: Catalog, translated: Mapping[str, Catalog], compiled: Mapping[str, bytes]
) -> list[str]:
    """What is out of date, one line each: the .pot against the templates, every .po against the .pot, every .mo
    against its .po. Empty when the catalogs are current."""
    problems = [f"messages.pot lacks {m!r}: run python -m backup_events.mail.i18n" for m in _ids(template) - _ids(committed_pot)]
    problems += [f"messages.pot still has {m!r}, which no template uses" for m in _ids(committed_pot) - _ids(template)]
    for language, po in translated.items():
        done = {_text(m.id): m for m in po if m.id and all(_plural(m.string)) and not m.fuzzy}
        problems += [f"{language}: no translation of {m!r} in messages.po" for m in sorted(_ids(committed_pot) - set(done))]
        if _compiled_pairs(compiled.get(language, b"")) != {k: _text(m.string) for k, m in done.items()}:
            problems.append(f"{language}: messages.mo is not messages.po compiled: run python -m backup_events.mail.i18n")
    return sorted(problems)


def _plural(value: object) -> tuple[str, ...]:
    """A message's id or string as a tuple: one text, or each plural form (a .po reads them as a tuple, a .mo as a
    list)."""
    return tuple(str(v) for v in value) if isinstance(value, list | tuple) else (str(value),)


def _text(value: object) -> str:
    """A message's id or string as one comparable text: a plural's forms joined by a newline and a form feed."""
    return "\n\f".join(_plural(value))


def _ids(catalog: Catalog) -> set[str]:
    return {_text(m.id) for m in catalog if m.id}


def _compiled_pairs(mo: bytes) -> dict[str, str]:
    if not mo:
        return {}
    from babel.messages.mofile import read_mo  # noqa: PLC0415 - dev time only

    return {_text(m.id): _text(m.string) for m in read_mo(io.BytesIO(mo)) if m.id}


def regenerate() -> None:
    """Extract the .pot, update every .po from it (new strings untranslated), compile every .mo."""
    from babel.messages.mofile import write_mo  # noqa: PLC0415 - dev time only
    from babel.messages.pofile import write_po  # noqa: PLC0415

    template = extract()
    TEMPLATE.parent.mkdir(parents=True, exist_ok=True)
    with TEMPLATE.open("wb") as pot:
        write_po(pot, template, width=120, omit_header=False, sort_output=True)
    for language in LANGUAGES[1:]:
        po = read_catalog(po_path(language), language) if po_path(language).exists() else _catalog(language)
        po.update(template, no_fuzzy_matching=True)
        po.fuzzy = False
        po_path(language).parent.mkdir(parents=True, exist_ok=True)
        with po_path(language).open("wb") as out:
            write_po(out, po, width=120, sort_output=True, ignore_obsolete=True)
        with mo_path(language).open("wb") as mo:
            write_mo(mo, po)


if __name__ == "__main__":
    regenerate()
    print(f"wrote {TEMPLATE.relative_to(MAIL.parent.parent)} and the catalogs of {', '.join(LANGUAGES[1:])}")
