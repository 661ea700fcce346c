"""What every use case is handed: the ports and settings of a run (``Services``), and what a run reports."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta
from typing import Any

from backup_events.domain.ids import watched
from backup_events.domain.incidents import Incident, Policy
from backup_events.domain.operations import OperationKind
from backup_events.domain.remediation import Catalog
from backup_events.domain.routing import Route, reader_for, recipients_for
from backup_events.domain.watch import VaultRun
from backup_events.ports import IncidentStore, JobSource, Mailer

log = logging.getLogger(__name__)

SUCCESS_STATUSES = ("Completed", "CompletedWithWarnings")


@dataclass(frozen=True)
class Deps:
    """The ports a run talks through (and the clock): what tests and the demo replace."""

    source: JobSource
    incidents: IncidentStore
    mailer: Mailer
    catalog: Catalog
    clock: Callable[[], datetime]


@dataclass(frozen=True)
class Config:
    """The values a run decides by, from the settings."""

    sender: str
    recipients: tuple[str, ...]
    portal_url: str
    lookback: timedelta
    policy: Policy = Policy()
    retention: timedelta = timedelta(days=30)
    vault_concurrency: int = 4
    routes: tuple[Route, ...] = ()
    missed_grace: timedelta | None = timedelta(hours=6)
    route_tag: str = ""
    route_tag_domains: tuple[str, ...] = ()
    route_tag_replaces: bool = False
    tell_operations: frozenset[OperationKind] = frozenset(OperationKind)
    vault_ids: tuple[str, ...] = ()  # the watched vaults and subscriptions; both empty: the jobs source's vaults
    subscription_ids: tuple[str, ...] = ()
    discovered_subscriptions: tuple[str, ...] = ()  # whose vaults the jobs source discovers: one with none is a blind spot
    blind_after_runs: int = 3
    summary_time: str | None = "09:00"  # HH:MM in ``timezone``; None: no daily summary
    language: str = "en"  # BACKUP_MAIL_LANGUAGE: the emails' language where no route names one
    zone: str = "UTC"  # BACKUP_TIMEZONE: the time zone of every time shown, where no route names one

    def reader_of(self, incident: Incident) -> tuple[str, str]:
        """The language and time zone of the group that hears about this incident (its vault's routes, else the
        defaults); a routing tag's addresses read what the vault's group reads."""
        return reader_for(incident.vault_id, self.routes, self.language, self.zone)

    def recipients_for(self, vault_id: str) -> tuple[str, ...]:
        """Who hears about this vault."""
        return recipients_for(vault_id, self.routes, self.recipients)

    def recipients_of(self, incident: Incident) -> tuple[str, ...]:
        """Who hears about this incident: the vault's routes and the affected resource's routing tag (or the tag alone,
        with ``BACKUP_ROUTE_TAG_MODE=replace``)."""
        vault = self.recipients_for(incident.vault_id)
        if not incident.route_to:
            return vault
        tagged = tuple(incident.route_to.split(","))
        return tagged if self.route_tag_replaces else tuple(dict.fromkeys(vault + tagged))


_DEPS = {f.name for f in fields(Deps)}


@dataclass(frozen=True)
class Services:
    """What a use case is handed, built once by ``bootstrap``: its ports (``deps``) and its values (``config``)."""

    deps: Deps
    config: Config

    @classmethod
    def of(cls, **values: Any) -> Services:
        """From named ports and values, each sorted into its half."""
        return cls(
            Deps(**{k: v for k, v in values.items() if k in _DEPS}), Config(**{k: v for k, v in values.items() if k not in _DEPS})
        )

    def changed(self, **values: Any) -> Services:
        """A copy with some ports or values replaced (tests, the demo's story, benchmarks)."""
        deps = {k: v for k, v in values.items() if k in _DEPS}
        config = {k: v for k, v in values.items() if k not in _DEPS}
        return Services(replace(self.deps, **deps), replace(self.config, **config))

    def watches(self, vault_id: str) -> bool:
        """Is this vault watched? Alerts about any other vault are not ours to tell, whoever sent them."""
        if self.config.vault_ids or self.config.subscription_ids:
            return watched(vault_id, self.config.vault_ids, self.config.subscription_ids)
        return watched(vault_id, tuple(self.deps.source.vault_ids()), ())


@dataclass
class RunReport:
    """What one poll saw and did; the CLI prints it, tests assert on it."""

    vaults: int = 0
    vaults_skipped: int = 0
    jobs_seen: int = 0
    failures: int = 0
    opened: int = 0
    repeats: int = 0
    duplicates: int = 0
    recovered: int = 0
    missed: int = 0
    emails_sent: int = 0
    reminders_sent: int = 0
    recovery_emails: int = 0
    digests: int = 0
    deferred: int = 0
    expired: int = 0
    blind: int = 0  # blind spots newly owed their email this run
    problems: list[str] = field(default_factory=list)
    unreadable: dict[str, str] = field(default_factory=dict)  # vault id -> why it could not be read this run
    runs: list[VaultRun] = field(default_factory=list)  # what this run saw of each vault (the summary's counts)
    blind_keys: list[str] = field(default_factory=list)  # blind spots the alert path counted or ended (its notify's)

    def add(self, other: RunReport) -> None:
        """Fold another report (one vault's) into this one."""
        for name, value in other.__dict__.items():
            if isinstance(value, int):
                setattr(self, name, getattr(self, name) + value)
        self.problems.extend(other.problems)
        self.unreadable.update(other.unreadable)
        self.runs.extend(other.runs)

    def rows(self) -> list[tuple[str, int]]:
        """The summary table, in reading order."""
        return [
            ("vaults read", self.vaults - self.vaults_skipped),
            ("vaults skipped", self.vaults_skipped),
            ("jobs seen", self.jobs_seen),
            ("failures", self.failures),
            ("new incidents", self.opened),
            ("repeats (counted)", self.repeats),
            ("duplicates skipped", self.duplicates),
            ("recovered", self.recovered),
            ("missed backups", self.missed),
            ("emails written", self.emails_sent),
            ("  of which reminders", self.reminders_sent),
            ("  of which recovered", self.recovery_emails),
            ("  of which digests", self.digests),
            ("left for next run", self.deferred),
        ]


# --- recording failures --------------------------------------------------------------------------------


@dataclass(frozen=True)
class EventEnvelope:
    """An Event Grid delivery as the service sees it, whichever schema it came in (no azure.functions types)."""

    id: str
    type: str
    data: Any
