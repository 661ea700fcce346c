"""Blind spots: what this run (or an alert) could not read is counted into an incident, told once it has lasted, and
told again ("can see again") when it is read. Rules in ``domain.watch``; the incident machinery does the rest."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from backup_events.app import facts, recording
from backup_events.app.services import RunReport, Services
from backup_events.domain.ids import parse_vault_id
from backup_events.domain.incidents import Change, Incident, Outcome
from backup_events.domain.watch import (
    EVERY_VAULT_NAME,
    SUBSCRIPTION_NAME,
    BlindSpot,
    Cause,
    Scope,
    blind_key,
    common_cause,
    held_incident,
    many_errors,
    observation_key,
    seen_again,
    tell_if_due,
    told_after,
)
from backup_events.errors import MalformedInputError

log = logging.getLogger(__name__)


def vault_spot(vault_id: str, error: str, at: datetime) -> BlindSpot:
    """One vault that could not be read."""
    try:
        name = parse_vault_id(vault_id)["vault_name"]
    except MalformedInputError:
        name = vault_id
    return BlindSpot(Scope.VAULT, vault_id, name, error, at)


def every_vault_spot(error: str, at: datetime, cause: Cause | None = None) -> BlindSpot:
    """Nothing could be read this run: the credential, discovery or ARM itself (``cause``: most vaults')."""
    return BlindSpot(Scope.EVERY_VAULT, "", EVERY_VAULT_NAME, error, at, cause)


def subscription_spot(subscription_id: str, at: datetime) -> BlindSpot:
    """A watched subscription in which discovery found no vault."""
    return BlindSpot(Scope.SUBSCRIPTION, subscription_id, SUBSCRIPTION_NAME % {"id": subscription_id}, "", at)


def spot_of(incident: Incident) -> BlindSpot:
    """What a blind spot's email is written from: the latest unreadable run counted before it was told."""
    return facts.blind_loads(incident.facts).spot


def observe(services: Services, spots: Sequence[BlindSpot], run: str, report: RunReport) -> list[str]:
    """Count one unreadable run (``run`` names it: the run's time, an alert's id) into each spot's incident; a spot
    blind for long enough now owes its email. Returns the incidents' keys (for the alert path's ``notify``)."""
    store = services.deps.incidents
    keys = []
    for spot in spots:
        told = facts.dumps(facts.BlindFacts(spot))
        recording.record_failure(store, observation_key(spot, run), held_incident(spot, told))
        keys.append(blind_key(spot))
        current = store.incident(blind_key(spot))
        due = None if current is None else tell_if_due(current, told_after(spot, services.config.blind_after_runs), told)
        if current is not None and due is not None and store.commit([Change(current, due)]) == [Outcome.LANDED]:
            report.blind += 1
            log.error("Blind spot: %s cannot be read since %s (%s)", spot.name, current.opened_at, spot.cause.value)
    return keys


def clear(services: Services, incidents: Sequence[Incident], at: datetime) -> list[str]:
    """The open blind spots among ``incidents`` whose target was just read end (a 'can see again' email if told)."""
    ending = [i for i in incidents if i.is_open]
    outcomes = services.deps.incidents.commit([Change(i, seen_again(i, at)) for i in ending])
    for incident, outcome in zip(ending, outcomes, strict=True):
        if outcome is Outcome.LANDED:
            log.info("Blind spot ended: %s can be read again", incident.item)
    return [i.key for i in ending]


def clear_spot(services: Services, spot: BlindSpot, at: datetime) -> list[str]:
    """End one spot's blind incident, if it has one open (one point read)."""
    current = services.deps.incidents.incident(blind_key(spot))
    return clear(services, [current], at) if current is not None else []


def after_run(services: Services, vault_ids: Sequence[str], report: RunReport, at: datetime) -> None:
    """What the whole run could not see: every vault (one blind spot, not one per vault), else each unreadable vault;
    and each watched subscription in which discovery found no vault. What was seen again ends its blind spot."""
    run = at.isoformat()
    if vault_ids and len(report.unreadable) == len(vault_ids):
        errors = list(report.unreadable.values())
        cause, shown = common_cause(errors)
        observe(services, [every_vault_spot(many_errors(errors, shown), at, cause)], run, report)
    else:
        if vault_ids:
            clear_spot(services, every_vault_spot("", at), at)
        spots = [vault_spot(vault_id, error, at) for vault_id, error in report.unreadable.items()]
        observe(services, spots, run, report)
    found = [v.casefold() for v in vault_ids]
    watched = services.config.discovered_subscriptions
    subscriptions = {s: any(v.startswith(f"/subscriptions/{s.casefold()}/") for v in found) for s in watched}
    observe(services, [subscription_spot(s, at) for s, seen in subscriptions.items() if not seen], run, report)
    for subscription in (s for s, seen in subscriptions.items() if seen):
        clear_spot(services, subscription_spot(subscription, at), at)
