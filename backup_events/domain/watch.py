"""Pure: what the monitor itself cannot see (blind spots), and what one run saw of one vault (``VaultRun``).

A monitor that fails silently is worse than none. A watched vault that cannot be read for ``after_runs`` runs in a row,
a run in which no vault can be read, or a watched subscription in which discovery finds no vault, is a blind spot: an
incident like the others (counted, told once, reminded, recovered), whose item is what cannot be seen. Each unreadable
run is counted into it as one "job"; it is held (owes no email) until it has been blind long enough to tell.
"""

from __future__ import annotations

import enum
import hashlib
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from backup_events.domain.identity import incident_key
from backup_events.domain.incidents import NONE, PENDING, SENT, Incident
from backup_events.domain.operations import N_

BLIND_CODE = "BlindSpot"
EVERY_VAULT = "/backup-events/every-vault"
"""The scope (in place of a vault id) of the blind spot "no vault could be read this run"."""
BACKUP_READER = "Backup Reader"
EVERY_VAULT_NAME = N_("every watched vault")
"""What on-call staff call the "every vault" blind spot (its item)."""
SUBSCRIPTION_NAME = N_("subscription %(id)s")
"""What on-call staff call a watched subscription with no vault (its item)."""


class Scope(enum.StrEnum):
    """What cannot be seen."""

    VAULT = "vault"
    EVERY_VAULT = "every vault"
    SUBSCRIPTION = "subscription"


class Cause(enum.StrEnum):
    """Why, in the words on-call staff use."""

    SIGN_IN = N_("sign-in failed")
    FORBIDDEN = N_("access denied (403)")
    GONE = N_("not found (404)")
    THROTTLED = N_("throttled (429)")
    NO_VAULTS = N_("no vault found")
    UNAVAILABLE = N_("unreachable")


_PATTERNS = (
    (Cause.SIGN_IN, re.compile(r"ClientAuthenticationError|CredentialUnavailable|AADSTS|HTTP 401|authenticat", re.I)),
    (Cause.FORBIDDEN, re.compile(r"HTTP 403|AuthorizationFailed|LinkedAuthorizationFailed|Forbidden", re.I)),
    (Cause.GONE, re.compile(r"HTTP 404|ResourceNotFound|ResourceGroupNotFound|SubscriptionNotFound|NotFound", re.I)),
    (Cause.THROTTLED, re.compile(r"HTTP 429|TooManyRequests|throttl", re.I)),
)


def common_cause(errors: Sequence[str]) -> tuple[Cause, str]:
    """The cause most of ``errors`` share (the first such on a tie), and one error that shows it."""
    causes = Counter(cause_of(e) for e in errors)
    cause = max(causes, key=lambda c: (causes[c], -[cause_of(e) for e in errors].index(c)))
    return cause, next(e for e in errors if cause_of(e) is cause)


def cause_of(error: str) -> Cause:
    """The cause of a read failure, from the error the jobs source gave (``HTTP <status> <ARM code>: …``)."""
    return next((cause for cause, pattern in _PATTERNS if pattern.search(error)), Cause.UNAVAILABLE)


def fix_for(cause: Cause, scope: Scope, target: str, gettext: Callable[[str], str] = N_) -> str:
    """What to do, in one or two sentences; ``target`` is the vault or subscription id (or empty for every vault).
    The words go through ``gettext`` (an email's language) when given; the domain itself stays English."""
    _ = gettext
    if cause is Cause.SIGN_IN:
        return _(
            "The app could not get a token for Azure Resource Manager: check that its managed identity still exists and "
            "is assigned to the function app (`AZURE_CLIENT_ID` names it), and that the tenant allows it to sign in."
        )
    if cause is Cause.FORBIDDEN:
        where = _("on %(target)s") % {"target": target} if target else _("on each watched vault")
        return _(
            "Grant the app's managed identity the %(role)s role %(where)s (`az role assignment create --role "
            "'%(role)s' --assignee <the app's AZURE_CLIENT_ID> --scope %(scope)s`); the next run reads it again."
        ) % {"role": BACKUP_READER, "where": where, "scope": target or _("<vault id>")}
    if cause is Cause.GONE:
        return _(
            "The vault (or its resource group or subscription) was deleted or moved: if that was meant, remove it from "
            "`BACKUP_VAULT_IDS`; if not, find who deleted it in the Activity log and restore it."
        )
    if cause is Cause.THROTTLED:
        return _(
            "Azure Resource Manager throttled the reads past the retry budget: another tool may be using the same "
            "subscription's read budget. Poll less often (`BACKUP_POLL_SCHEDULE`) or watch fewer vaults per instance."
        )
    if cause is Cause.NO_VAULTS:
        return _(
            "Discovery found no Recovery Services vault in subscription %(target)s: grant the app's managed identity "
            "%(role)s on the subscription, or remove it from `BACKUP_SUBSCRIPTION_IDS` if it holds no vault."
        ) % {"target": target, "role": BACKUP_READER}
    return _("Azure Resource Manager did not answer within the retry budget: check the service health; the next run tries again.")


MANY_ERRORS = N_("%(num)d vaults unreadable; for example: %(error)s")
"""The error of the "every vault" blind spot when the vaults failed in different ways: how many, and one of them."""
_MANY_ERRORS = re.compile(r"(\d+) vaults unreadable; for example: (.*)", re.DOTALL)


def many_errors(errors: Sequence[str], shown: str) -> str:
    """``errors`` as one: ``shown`` when they are all the same, else how many there were and ``shown`` for example."""
    return shown if len(set(errors)) == 1 else MANY_ERRORS % {"num": len(errors), "error": shown}


def told_error(error: str, gettext: Callable[[str], str] = N_) -> str:
    """A blind spot's error as an email says it: Azure's (or the jobs source's) words as they came; our own words
    around them ("5 vaults unreadable; for example: …") through ``gettext`` when given."""
    many = _MANY_ERRORS.fullmatch(error)
    return gettext(MANY_ERRORS) % {"num": int(many[1]), "error": many[2]} if many else error


def told_name(item: str, gettext: Callable[[str], str] = N_) -> str:
    """A blind spot's item (``BlindSpot.name``) as an email says it, through ``gettext`` when given: a vault's name
    as it is, "every watched vault" and "subscription <id>" in the email's language."""
    if item == EVERY_VAULT_NAME:
        return gettext(EVERY_VAULT_NAME)
    prefix = SUBSCRIPTION_NAME.split("%", 1)[0]
    if item.startswith(prefix):
        return gettext(SUBSCRIPTION_NAME) % {"id": item.removeprefix(prefix)}
    return item


@dataclass(frozen=True)
class BlindSpot:
    """One observation: ``target`` (a vault id, a subscription id, or ``EVERY_VAULT``) could not be read at ``at``."""

    scope: Scope
    target: str
    name: str  # what on-call staff call it: the vault's name, "subscription <id>", "every watched vault"
    error: str
    at: datetime
    reason: Cause | None = None  # the cause when it is not ``error``'s own (several vaults, several errors)

    @property
    def cause(self) -> Cause:
        if self.reason is not None:
            return self.reason
        return Cause.NO_VAULTS if self.scope is Scope.SUBSCRIPTION and not self.error else cause_of(self.error)

    @property
    def partition(self) -> str:
        """Where its incident lives: the vault's partition, or one of its own for a subscription or every vault."""
        if self.scope is Scope.SUBSCRIPTION:
            return f"/subscriptions/{self.target}"
        return self.target if self.scope is Scope.VAULT else EVERY_VAULT


def blind_key(spot: BlindSpot) -> str:
    """The key of the blind spot's incident: one per vault (or subscription, or every vault)."""
    return incident_key(spot.partition, spot.name, BLIND_CODE)


def observation_key(spot: BlindSpot, run: str) -> str:
    """The ledger key of one unreadable run (``run``: the run's time, or an alert's id): each is counted once."""
    digest = hashlib.sha256(f"{spot.scope}|{spot.target.casefold()}|{run}".encode()).hexdigest()[:32]
    return f"{spot.partition.rstrip('/').casefold()}|blind-{digest}"


def held_incident(spot: BlindSpot, facts: str) -> Incident:
    """A new blind spot: open, counted once, owing no email until it has been blind long enough (``tell_if_due``)."""
    return Incident(
        key=blind_key(spot),
        vault_id=spot.partition,
        vault_name=spot.name if spot.scope is Scope.VAULT else "",
        item=spot.name,
        workload="Vault" if spot.scope is Scope.VAULT else "backup-events",
        code=BLIND_CODE,
        title=spot.cause.value,
        docs_url="https://learn.microsoft.com/azure/backup/backup-rbac-rs-vault",
        opened_at=spot.at,
        last_seen=spot.at,
        opened_email=NONE,
        last_job="(unreadable run)",
        operation="Read",
        facts=facts,
    )


def is_blind(incident: Incident) -> bool:
    return incident.code == BLIND_CODE


def told_after(spot: BlindSpot, after_runs: int) -> int:
    """How many unreadable runs in a row a blind spot needs before it is told.

    A vault waits ``after_runs``: one bad run is weather. So does "every vault" when Azure only throttled or did not
    answer. When nothing at all can be seen because the app cannot sign in, lacks its roles or the vaults are gone,
    or a watched subscription shows no vault, it is told at once: no later run will see more until someone acts.
    """
    if spot.scope is Scope.VAULT or spot.cause in (Cause.THROTTLED, Cause.UNAVAILABLE):
        return after_runs
    return 1


def tell_if_due(incident: Incident, runs: int, facts: str) -> Incident | None:
    """The held blind spot, now owing its email (written from the latest ``facts``), once it counts ``runs``; else None."""
    if not incident.is_open or incident.opened_email != NONE or incident.count < runs:
        return None
    return replace(incident, opened_email=PENDING, facts=facts)


def seen_again(incident: Incident, at: datetime) -> Incident:
    """A blind spot ends when its target is read again; a 'can see again' email is owed only if it was told."""
    told = incident.opened_email == SENT
    return replace(incident, state="closed", closed_at=at, recovery_email=PENDING if told else NONE, claimed_at=None)


@dataclass(frozen=True)
class VaultRun:
    """What one run saw of one vault over its lookback window: the summary's per-vault counts (one small row a run)."""

    vault_id: str
    vault_name: str
    at: datetime
    window_hours: int
    readable: bool
    succeeded: int = 0
    failed: int = 0
    error: str = ""
