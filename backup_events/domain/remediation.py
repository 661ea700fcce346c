"""The remediation catalog: load it, check it, and find the entry for a job's error.

The catalog is data: ``catalog.toml`` (English, and everything that matches a job) and one ``catalog.<lang>.toml``
per other language in ``LANGUAGES`` (the same entries' words, keyed by entry key); this module only reads them.
Matching order, first hit wins:
1. an exact string code (case-insensitive; alerts carry it lower-cased); a Backup vault error's
   ``<code>/<inner code>`` before its code alone,
2. the integer code,
3. a message pattern on Azure's error text, normalised (case, whitespace, trailing period, "Error:" prefixes).
"""

from __future__ import annotations

import functools
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from backup_events.domain.model import (
    LANGUAGES,
    Diagnosis,
    JobError,
    Phase,
    Remediation,
    RemediationText,
    Severity,
    Workload,
)
from backup_events.domain.words import plural
from backup_events.errors import CatalogError

REQUIRED_FIELDS = ("key", "title", "cause", "steps", "docs", "phase", "severity", "workloads")
TEXT_FIELDS = ("title", "cause", "steps", "docs")  # required in a catalog.<lang>.toml table; "notes" is optional
LEARN = "https://learn.microsoft.com/"
LOCALES = {"ja": "ja-jp"}  # Learn's locale for each language but English
_BACKTICKED = re.compile(r"`([^`]*)`")
_LEARN_LOCALE = re.compile(r"^[a-z]{2}-[a-z]{2}/")
_WORKLOADS = {w.value for w in Workload} - {Workload.UNKNOWN.value}
_MESSAGE_ID = re.compile(r"\bID:?\s*(\d{3,9})\b", re.IGNORECASE)
_WORD = re.compile(r"\b[A-Za-z][A-Za-z0-9]{7,}\b")
_PREFIX = re.compile(r"^\W*(?:error|erreur|fehler|fout|errore|エラー|错误|오류)\s*(?:\(\w+\))?\s*[:：]\s*", re.IGNORECASE)


def normalise_message(message: str) -> str:
    """Fold case and whitespace, drop a localised ``Error:`` prefix and one trailing period."""
    text = " ".join(message.split()).casefold()
    text = _PREFIX.sub("", text)
    return text[:-1].rstrip() if text.endswith(".") else text


@dataclass(frozen=True)
class Catalog:
    """The loaded catalog with its three indexes."""

    entries: tuple[Remediation, ...]
    by_code: Mapping[str, Remediation]
    by_number: Mapping[int, Remediation]
    patterns: tuple[tuple[re.Pattern[str], Remediation], ...]

    def codes_in(self, text: str) -> list[str]:
        """Catalog codes found inside ``text`` (an alert's lower-cased ``originAlertId``), longest first."""
        folded = text.casefold()
        found = [self.canonical_code(code) for code in self.by_code if code in folded]
        return sorted(found, key=len, reverse=True)

    def canonical_code(self, code: str) -> str:
        """A code as the catalog spells it (alerts lower-case them); unknown codes come back unchanged."""
        entry = self.by_code.get(code.casefold())
        return next((c for c in entry.codes if c.casefold() == code.casefold()), code) if entry else code

    def entry(self, code: str) -> Remediation | None:
        """The entry an incident's code names: one of its codes, its number, or its key (message-only entries)."""
        if found := self.by_code.get(code.casefold()):
            return found
        if code.isdigit() and (found := self.by_number.get(int(code))):
            return found
        return next((e for e in self.entries if e.key.casefold() == code.casefold()), None)

    def diagnose(self, errors: Iterable[JobError], *, extra_codes: Iterable[str] = ()) -> Diagnosis:
        """Find the entry for a job's errors (first error first); ``extra_codes`` come from alert ids."""
        errors = tuple(errors)
        # Backup vault errors name a cause under a generic code (PostgreSQLFlexOperationFailedUserError with inner
        # code ResourceGroupNotFound): the catalog keys those as "<code>/<inner code>", tried before the code alone.
        inner = [f"{e.code}/{e.inner_code}" for e in errors if e.code and e.inner_code]
        for code in inner + [e.code for e in errors if e.code] + list(extra_codes):
            if entry := self.by_code.get(code.casefold()):
                return Diagnosis(entry, "code", code)
        for error in errors:
            if error.number is not None and (entry := self.by_number.get(error.number)):
                return Diagnosis(entry, "number", str(error.number))
        for error in errors:
            # MARS and DPM/MABS have no code field; their messages quote an "(ID: 100050)".
            for number in _MESSAGE_ID.findall(error.message):
                if entry := self.by_number.get(int(number)):
                    return Diagnosis(entry, "number", number)
        for error in errors:
            text = normalise_message(error.message)
            for pattern, entry in self.patterns:
                if text and pattern.search(text):
                    return Diagnosis(entry, "message", error.message)
            for word in _WORD.findall(error.message):
                if entry := self.by_code.get(word.casefold()):
                    return Diagnosis(entry, "message", word)
        first = errors[0] if errors else None
        looked_up = (first.code or (str(first.number) if first.number is not None else None)) if first else None
        return Diagnosis(None, None, looked_up or next(iter(extra_codes), None))


def severity_of(diagnosis: Diagnosis, errors: Iterable[JobError]) -> Severity | None:
    """Whose move it is: the catalog's word when it knows the error, else what Azure says of it.

    Backup vault jobs flag each error ``isUserError`` / ``isRetryable``. Only a flag that is set counts: the live
    service sends ``false`` for both on ``UserErrorStorageAccountContainerNotFound`` (a user error by any reading),
    so a ``false`` says nothing. Recovery Services jobs carry neither flag.
    """
    if diagnosis.remediation:
        return diagnosis.remediation.severity
    errors = tuple(errors)
    if any(e.user_error for e in errors):
        return Severity.USER
    if any(e.retryable for e in errors):
        return Severity.TRANSIENT
    return None


def translated_docs(english: str, language: str) -> str:
    """The Learn link in ``language``: the English page and anchor with the language's locale after the host."""
    path = _LEARN_LOCALE.sub("", english.removeprefix(LEARN))
    return f"{LEARN}{LOCALES[language]}/{path}"


def _text(raw: Mapping[str, Any]) -> RemediationText:
    return RemediationText(
        title=str(raw["title"]),
        cause=str(raw["cause"]),
        steps=tuple(str(s) for s in raw["steps"]),
        notes=tuple(str(n) for n in raw.get("notes", ())),
        docs_url=str(raw["docs"]),
    )


def _entry(raw: Mapping[str, Any], translations: Mapping[str, Mapping[str, Any]]) -> Remediation:
    return Remediation(
        key=str(raw["key"]),
        title=str(raw["title"]),
        cause=str(raw["cause"]),
        steps=tuple(str(s) for s in raw["steps"]),
        docs_url=str(raw["docs"]),
        phase=Phase(raw["phase"]),
        severity=Severity(raw["severity"]),
        codes=tuple(str(c) for c in raw.get("codes", ())),
        numbers=tuple(int(n) for n in raw.get("numbers", ())),
        workloads=tuple(str(w) for w in raw["workloads"]),
        notes=tuple(str(n) for n in raw.get("notes", ())),
        translations=tuple((language, _text(tables[raw["key"]])) for language, tables in translations.items()),
    )


def check(data: Mapping[str, Any]) -> list[str]:
    """Every rule the catalog must keep; returns one line per problem, naming the entry."""
    problems: list[str] = []
    entries = data.get("entry")
    if data.get("schema") != 1:
        problems.append("top level: schema must be 1")
    if not isinstance(entries, list) or not entries:
        return problems + ["top level: no [[entry]] tables"]
    seen_keys: set[str] = set()
    seen_codes: dict[str, str] = {}
    seen_numbers: dict[int, str] = {}
    compiled: list[tuple[str, re.Pattern[str]]] = []
    for index, raw in enumerate(entries):
        name = str(raw.get("key") or f"entry #{index + 1}")
        missing = [f for f in REQUIRED_FIELDS if not raw.get(f)]
        if missing:
            problems.append(f"{name}: missing {', '.join(missing)}")
            continue
        if name in seen_keys:
            problems.append(f"{name}: duplicate key")
        seen_keys.add(name)
        if not raw.get("codes") and not raw.get("numbers") and not raw.get("messages"):
            problems.append(f"{name}: nothing to match on (codes, numbers or messages)")
        if raw["phase"] not in {p.value for p in Phase}:
            problems.append(f"{name}: phase {raw['phase']!r} is not one of {[p.value for p in Phase]}")
        if raw["severity"] not in {s.value for s in Severity}:
            problems.append(f"{name}: severity {raw['severity']!r} is not one of {[s.value for s in Severity]}")
        if bad := [w for w in raw["workloads"] if w not in _WORKLOADS]:
            problems.append(f"{name}: unknown {plural('workload', len(bad))} {bad}")
        if not str(raw["docs"]).startswith("https://learn.microsoft.com/"):
            problems.append(f"{name}: docs must be an https://learn.microsoft.com/ link")
        if not all(isinstance(s, str) and s.strip() for s in raw["steps"]):
            problems.append(f"{name}: every step must be non-empty text")
        for code in raw.get("codes", ()):
            if (other := seen_codes.setdefault(str(code).casefold(), name)) != name:
                problems.append(f"{name}: code {code} is also claimed by {other}")
        for number in raw.get("numbers", ()):
            if not isinstance(number, int):
                problems.append(f"{name}: number {number!r} is not an integer")
            elif (other := seen_numbers.setdefault(number, name)) != name:
                problems.append(f"{name}: number {number} is also claimed by {other}")
        for pattern in raw.get("messages", ()):
            try:
                compiled.append((name, re.compile(pattern)))
            except re.error as exc:
                problems.append(f"{name}: pattern {pattern!r} does not compile: {exc}")
    problems.extend(_overlapping_patterns(entries, compiled))
    return problems


def _overlapping_patterns(entries: list[Any], compiled: list[tuple[str, re.Pattern[str]]]) -> list[str]:
    """No pattern may claim another entry's own message (its title or a literal of its patterns)."""
    problems = []
    for raw in entries:
        name = str(raw.get("key"))
        samples = [normalise_message(str(raw.get("title", "")))]
        samples += [normalise_message(re.sub(r"[\\^$]", "", p)) for p in raw.get("examples", ())]
        for other, pattern in compiled:
            if other != name and any(s and pattern.search(s) for s in samples):
                problems.append(f"{other}: pattern {pattern.pattern!r} also matches {name}'s message")
    return problems


def check_translation(data: Mapping[str, Any], english: Iterable[Mapping[str, Any]], language: str) -> list[str]:
    """The rules a ``catalog.<language>.toml`` must keep against the English entries; one line per problem."""
    source = f"catalog.{language}.toml"
    problems: list[str] = []
    if data.get("schema") != 1:
        problems.append(f"{source}: schema must be 1")
    if data.get("language") != language:
        problems.append(f"{source}: language must be {language!r}")
    tables = data.get("entry")
    if not isinstance(tables, dict):
        return problems + [f"{source}: no [entry.<key>] tables"]
    english_by_key = {str(raw["key"]): raw for raw in english if isinstance(raw, Mapping) and raw.get("key")}
    problems += [f"{key}: no {language} text (add [entry.{key}] to {source})" for key in english_by_key if key not in tables]
    for key, table in tables.items():
        if key not in english_by_key:
            problems.append(f"{key} ({language}): not a key of catalog.toml")
        elif not isinstance(table, Mapping):
            problems.append(f"{key} ({language}): must be a table")
        else:
            problems += [f"{key} ({language}): {p}" for p in _translation_problems(table, english_by_key[key], language)]
    return problems


def _translation_problems(table: Mapping[str, Any], english: Mapping[str, Any], language: str) -> list[str]:
    if missing := [f for f in TEXT_FIELDS if not table.get(f)]:
        return [f"missing {', '.join(missing)}"]
    problems = []
    if unknown := sorted(set(table) - {*TEXT_FIELDS, "notes"}):
        problems.append(f"unknown field(s) {unknown}: only words are translated, matching stays in catalog.toml")
    steps, notes = table["steps"], table.get("notes", [])
    if not isinstance(steps, list) or not all(isinstance(s, str) and s.strip() for s in steps):
        return problems + ["every step must be non-empty text"]
    if not isinstance(notes, list) or not all(isinstance(n, str) and n.strip() for n in notes):
        return problems + ["every note must be non-empty text"]
    english_steps, english_notes = list(english.get("steps") or []), list(english.get("notes") or [])
    if len(steps) != len(english_steps):
        problems.append(f"{len(steps)} steps, the English has {len(english_steps)}")
    if len(notes) != len(english_notes):
        problems.append(f"{len(notes)} notes, the English has {len(english_notes)}")
    pairs = [("title", table["title"], english.get("title", "")), ("cause", table["cause"], english.get("cause", ""))]
    if len(steps) == len(english_steps):
        pairs += [(f"step {i}", mine, theirs) for i, (mine, theirs) in enumerate(zip(steps, english_steps, strict=True), 1)]
    pairs.append(("notes", " ".join(notes), " ".join(str(n) for n in english_notes)))
    for where, mine, theirs in pairs:
        if (spans := _spans(str(mine))) != (wanted := _spans(str(theirs))):
            problems.append(f"{where}: backticked spans differ from the English ({_difference(spans, wanted)})")
    if table["docs"] != (wanted_docs := translated_docs(str(english.get("docs", "")), language)):
        problems.append(f"docs must be the {LOCALES[language]} Learn link {wanted_docs}")
    return problems


def _spans(text: str) -> list[str]:
    return sorted(_BACKTICKED.findall(text))


def _difference(mine: list[str], wanted: list[str]) -> str:
    """``missing `a`; not in the English `b```: what the translation lacks and what it added."""
    missing = ", ".join(dict.fromkeys(f"`{s}`" for s in wanted if wanted.count(s) > mine.count(s)))
    extra = ", ".join(dict.fromkeys(f"`{s}`" for s in mine if mine.count(s) > wanted.count(s)))
    return "; ".join(([f"missing {missing}"] if missing else []) + ([f"not in the English {extra}"] if extra else []))


def _load_toml(text: str, source: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError([f"{source}: not valid TOML: {exc}"]) from None


def parse(text: str, translations: Mapping[str, str] | None = None) -> Catalog:
    """Build a catalog from TOML text and ``{language: TOML text}`` of its translations (none: English only).

    Raises ``CatalogError`` listing every problem of every file.
    """
    data = _load_toml(text, "catalog.toml")
    texts = {language: _load_toml(t, f"catalog.{language}.toml") for language, t in (translations or {}).items()}
    problems = check(data)
    raw_entries = data.get("entry")
    english: list[Any] = raw_entries if isinstance(raw_entries, list) else []
    for language, translated in texts.items():
        problems += check_translation(translated, english, language)
    if problems:
        raise CatalogError(problems)
    tables = {language: translated["entry"] for language, translated in texts.items()}
    entries = tuple(_entry(raw, tables) for raw in data["entry"])
    raws = {raw["key"]: raw for raw in data["entry"]}
    return Catalog(
        entries=entries,
        by_code={c.casefold(): e for e in entries for c in e.codes},
        by_number={n: e for e in entries for n in e.numbers},
        patterns=tuple((re.compile(p), e) for e in entries for p in raws[e.key].get("messages", ())),
    )


def catalog_text() -> str:
    """The bundled catalog's TOML."""
    return resources.files("backup_events").joinpath("catalog.toml").read_text(encoding="utf-8")


def translation_texts() -> dict[str, str]:
    """The bundled translations' TOML, ``{language: text}``, one per language in ``LANGUAGES`` but English."""
    texts = {}
    for language in LANGUAGES[1:]:
        source = resources.files("backup_events").joinpath(f"catalog.{language}.toml")
        if not source.is_file():
            raise CatalogError([f"catalog.{language}.toml: missing, every entry needs its {language} text"])
        texts[language] = source.read_text(encoding="utf-8")
    return texts


@functools.cache
def load() -> Catalog:
    """The bundled catalog in every language, parsed and checked once per process."""
    return parse(catalog_text(), translation_texts())
