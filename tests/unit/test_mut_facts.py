"""Facts keep a string of exactly the bound whole, and a blind spot's reader refuses any other kind by name."""

from __future__ import annotations

from dataclasses import replace

import pytest

from backup_events.app.facts import MAX_TEXT, FailureFacts, blind_loads, dumps, loads
from backup_events.domain.model import JobError
from backup_events.wire.jobs import normalise_job
from tests import recorded


def _failure(message: str) -> FailureFacts:
    job = normalise_job(recorded.one(recorded.VM_RESTORE_FAILED))
    return FailureFacts(replace(job, errors=(JobError(code="X", number=1, message=message, recommendations=()),)))


def test_an_error_text_exactly_at_the_bound_is_kept_whole() -> None:
    told = _failure("é" * MAX_TEXT)
    assert loads(dumps(told)) == told


def test_a_failures_facts_read_as_a_blind_spots_are_refused_naming_their_kind() -> None:
    with pytest.raises(ValueError, match="not a blind spot's facts: failure"):
        blind_loads(dumps(_failure("boom")))
