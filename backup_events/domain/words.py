"""Counting words in English messages: ``counted(1, "entry")`` is ``1 entry``, ``counted(2, "entry")`` ``2 entries``."""

from __future__ import annotations

_IRREGULAR = {"entry": "entries", "is": "are", "was": "were", "this": "these", "identity": "identities"}


def plural(word: str, n: int) -> str:
    """``word`` as it reads after the number ``n``."""
    if n == 1:
        return word
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    return f"{word}es" if word.endswith(("s", "x", "ch", "sh")) else f"{word}s"


def counted(n: int, word: str) -> str:
    """``n`` and ``word``, the word in the plural unless ``n`` is 1."""
    return f"{n:,} {plural(word, n)}"
