"""Writing incidents: the domain decides each new state, the store lands it atomically or says it lost a race.

Optimistic concurrency: read, decide, write conditionally; on a conflict (another instance changed the incident
first) read again and decide again. Counts stay exact with any number of instances, and a crash can't count a job
without its incident or the other way round (a change and its jobs land together).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from backup_events.domain.incidents import (
    Change,
    Incident,
    Outcome,
    Policy,
    Recorded,
    claimed,
    closed,
    counted,
    recovers,
    released,
    sent,
)
from backup_events.errors import IncidentsBusyError
from backup_events.ports import IncidentStore

_ATTEMPTS = 10
_JOBS_PER_CHANGE = 99  # with its incident, one entity-group transaction (100 operations)


def record_failures(store: IncidentStore, pairs: Sequence[tuple[str, Incident]]) -> list[Recorded]:
    """Count failed jobs (job key, the incident it belongs to) of one vault into their incidents; outcomes in order.

    Jobs of one incident count into it together, in one change; the vault's incidents are read once. A change that
    loses a race, or finds a job recorded before, is redone job by job, which settles each exactly.
    """
    if not pairs:
        return []
    groups: dict[str, list[int]] = {}
    for index, (_, incident) in enumerate(pairs):
        groups.setdefault(incident.key, []).append(index)
    existing = store.incidents_in(pairs[0][1].vault_id, list(groups))
    results = [Recorded.REPEAT] * len(pairs)
    changes: list[tuple[Change, list[int], list[Recorded]]] = []
    for key, indexes in groups.items():
        before = existing.get(key)
        for start in range(0, len(indexes), _JOBS_PER_CHANGE):
            chunk = indexes[start : start + _JOBS_PER_CHANGE]
            after, outcomes = counted(before, [pairs[i][1] for i in chunk])
            changes.append((Change(before, after, jobs=tuple(pairs[i][0] for i in chunk)), chunk, outcomes))
            before = after
    # A chunk made from a state that did not land cannot land either: the store finds its ``before`` unknown.
    for (_, chunk, outcomes), landed in zip(changes, store.commit([c for c, _, _ in changes]), strict=True):
        if landed is Outcome.LANDED:
            for i, outcome in zip(chunk, outcomes, strict=True):
                results[i] = outcome
        else:
            for i in chunk:
                results[i] = record_failure(store, *pairs[i])
    return results


def record_failure(store: IncidentStore, job_key: str, incident: Incident) -> Recorded:
    """Count one failed job into its incident, opening the incident if none is open."""
    for _ in range(_ATTEMPTS):
        before = store.incident(incident.key)
        after, (outcome,) = counted(before, [incident])
        landed = store.commit([Change(before, after, jobs=(job_key,))])[0]
        if landed is Outcome.LANDED:
            return outcome
        if landed is Outcome.DUPLICATE:
            return Recorded.DUPLICATE
    raise IncidentsBusyError(f"incident {incident.key} kept changing; job {job_key} left for the next run")


def close_recovered(
    store: IncidentStore, open_incidents: Sequence[Incident], *, at: datetime, operation: str | None, policy: Policy
) -> list[Incident]:
    """A good backup closes the open incidents it recovers; those another instance changed meanwhile wait a run."""
    changes = [Change(i, closed(i, at, policy)) for i in open_incidents if recovers(i, at, operation)]
    return [c.after for c, landed in zip(changes, store.commit(changes), strict=True) if landed is Outcome.LANDED]


def claim_emails(
    store: IncidentStore, wanted: Sequence[tuple[Incident, str]], now: datetime, *, digest: str = ""
) -> list[Incident | None]:
    """Take the right to send each (incident, kind), inside the digest ``digest`` if one; None where another was first."""
    changes = [Change(incident, claimed(incident, kind, now, digest=digest), email_only=True) for incident, kind in wanted]
    return [c.after if landed is Outcome.LANDED else None for c, landed in zip(changes, store.commit(changes), strict=True)]


def settle_emails(store: IncidentStore, outcomes: Sequence[tuple[Incident, str, bool]]) -> None:
    """Each claimed email sent (True) or owed again (False); the claim made the email state ours to write."""
    store.commit(
        [
            Change(claim, sent(claim, kind) if ok else released(claim, kind), email_only=True, unconditional=True)
            for claim, kind, ok in outcomes
        ]
    )
