"""What an incident keeps to write its first email when it is sent: the facts, never the rendered email.

A failure is recorded in milliseconds and told later (the mail budget, a digest, a retry after a failed send); the
email is rendered from these facts at that moment, once, with the catalog of that moment. Repeats render nothing.
Facts are bounded (``MAX_TEXT`` characters a string, ``MAX_ITEMS`` entries a list), so an incident never nears a
storage row's limit whatever Azure sent.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import json
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from backup_events.domain.exposure import ProtectedItem
from backup_events.domain.model import BackupJob
from backup_events.domain.watch import BlindSpot
from backup_events.wire.alerts import BackupAlert

MAX_TEXT = 4000
MAX_ITEMS = 20
_T = TypeVar("_T")


@dataclass(frozen=True)
class FailureFacts:
    """A failed job as it was read (details included), the item's last good recovery point, and alert code hints."""

    job: BackupJob
    last_good: datetime | None = None
    extra_codes: tuple[str, ...] = ()
    unknown: str = ""  # when ``last_good`` is None, why: "unread", "not-found", "no-point" (mail.render.UNKNOWN_BECAUSE)


@dataclass(frozen=True)
class MissedFacts:
    """A protected item behind its policy's schedule, and how often the policy backs it up."""

    item: ProtectedItem
    interval: timedelta


@dataclass(frozen=True)
class AlertFacts:
    """A built-in alert that is not about a job (a security alert)."""

    alert: BackupAlert


@dataclass(frozen=True)
class BlindFacts:
    """What the monitor could not see at the latest unreadable run: the vault (or subscription, or every vault) and why."""

    spot: BlindSpot


Facts = FailureFacts | MissedFacts | AlertFacts
_KINDS: dict[str, type[Any]] = {"failure": FailureFacts, "missed": MissedFacts, "alert": AlertFacts, "blind": BlindFacts}


def dumps(facts: Facts | BlindFacts) -> str:
    """The facts as bounded JSON, tagged with their kind."""
    kind = next(name for name, cls in _KINDS.items() if isinstance(facts, cls))
    return json.dumps({"kind": kind, "facts": _encode(facts)}, ensure_ascii=False, separators=(",", ":"))


def loads(text: str) -> Facts:
    """Facts written by ``dumps``."""
    document = json.loads(text)
    facts: Facts = _decode(_KINDS[document["kind"]], document["facts"])
    return facts


def blind_loads(text: str) -> BlindFacts:
    """The facts of a blind spot (``app.blind``), written by ``dumps``."""
    document = json.loads(text)
    if document["kind"] != "blind":
        raise ValueError(f"not a blind spot's facts: {document['kind']}")
    facts: BlindFacts = _decode(BlindFacts, document["facts"])
    return facts


def _encode(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, (tuple, list)):
        return [_encode(v) for v in value[:MAX_ITEMS]]
    if isinstance(value, str) and len(value) > MAX_TEXT:
        return value[: MAX_TEXT - 1] + "…"
    return value


def _decode(kind: Any, value: Any) -> Any:
    return None if value is None else _decoder(kind)(value)


@functools.cache
def _decoder(kind: Any) -> Callable[[Any], Any]:
    """How to decode a non-None value of type ``kind``, worked out once per type: resolving a dataclass's type hints
    (``typing.get_type_hints`` evaluates every string annotation) cost more than the decoding itself."""
    if isinstance(kind, types.UnionType) or typing.get_origin(kind) is typing.Union:
        return _decoder(next(k for k in typing.get_args(kind) if k is not type(None)))
    if typing.get_origin(kind) is tuple:
        (element, *_) = typing.get_args(kind)
        return lambda value: tuple(_decode(element, v) for v in value)
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        hints = typing.get_type_hints(kind)
        plan = tuple((f.name, hints[f.name]) for f in dataclasses.fields(kind))
        return lambda value: kind(**{name: _decode(hint, value[name]) for name, hint in plan if name in value})
    if kind is datetime:
        return datetime.fromisoformat
    if kind is timedelta:
        return lambda value: timedelta(seconds=value)
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return kind
    return lambda value: value
