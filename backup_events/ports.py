"""The small interfaces the service talks to; adapters implement them structurally."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from backup_events.domain.incidents import Change, Incident, Outcome, OwingQuery
from backup_events.domain.model import EmailMessage
from backup_events.domain.watch import VaultRun

JobJson = Mapping[str, Any]
"""A ``JobResource`` as the jobs API returns it on the wire (camelCase keys)."""


class JobSource(Protocol):
    """Where jobs come from: the jobs API of each vault, or bundled samples."""

    def vault_ids(self) -> list[str]:
        """The ARM ids of the vaults to watch this run."""
        ...

    def jobs(
        self, vault_id: str, *, since: datetime, until: datetime, statuses: Sequence[str] = ("Failed",)
    ) -> Iterable[JobJson]:
        """Jobs of one vault that started in the window with one of ``statuses``.

        Raises ``SourceError`` when the vault cannot be read this run.
        """
        ...

    def job_details(self, job_id: str) -> JobJson:
        """The full job (with ``extendedInfo``) by its ARM id. Raises ``SourceError``."""
        ...

    def protected_items(self, vault_id: str) -> list[JobJson]:
        """The vault's protected items (``ProtectedItemResource`` wire JSON). Raises ``SourceError``."""
        ...

    def resource_tags(self, resource_id: str) -> Mapping[str, str]:
        """The tags of any Azure resource (the VM, the storage account). Raises ``SourceError``."""
        ...

    def policy(self, vault_id: str, name: str) -> JobJson:
        """One backup policy of the vault (``ProtectionPolicyResource`` wire JSON). Raises ``SourceError``."""
        ...


class Mailer(Protocol):
    """Hands a rendered email to a mail service (or a local outbox)."""

    def send(self, message: EmailMessage) -> str:
        """Deliver ``message``; return the service's id for it. Raises ``DeliveryError``."""
        ...

    def delivered(self, message: EmailMessage) -> bool | None:
        """Whether the service already has ``message`` (same key); None when it can't tell."""
        ...


class Publisher(Protocol):
    """Publishes an event to the Event Grid custom topic (the alert relay's only job)."""

    def publish(self, *, event_id: str, event_type: str, source: str, subject: str, data: Mapping[str, Any]) -> None:
        """Publish one CloudEvent. Raises ``PublishError``."""
        ...


class TokenValidator(Protocol):
    """Checks the bearer token of a call to the relay (the action group's secure webhook, Microsoft Entra)."""

    def check(self, authorization: str | None) -> None:
        """Return when ``authorization`` (the request's Authorization header, None when absent) is a valid token.

        Raises ``UnauthorizedError`` with a short reason that never quotes the token.
        """
        ...


class IncidentStore(Protocol):
    """Incidents and the jobs counted into them, shared by every instance; shaped by the domain, not by storage.

    It reads and it writes what it is told: every decision (is this a repeat, does this backup recover that
    incident, is a reminder due) is the domain's. Writes are atomic per ``Change`` and conditional on the state
    the store last handed out for ``before``, so two instances never both win; batching is the store's business.
    """

    def incident(self, key: str) -> Incident | None:
        """One incident by key."""
        ...

    def incidents_in(self, vault_id: str, keys: Collection[str]) -> dict[str, Incident]:
        """The vault's incidents among ``keys`` that exist, by key (one read for a whole batch)."""
        ...

    def open_incidents(self, vault_id: str) -> list[Incident]:
        """The vault's open incidents."""
        ...

    def owing_email(self, query: OwingQuery) -> list[Incident]:
        """Incidents that may owe an email (``query`` says which, ``incidents.may_owe`` exactly); the domain decides."""
        ...

    def recorded_jobs(self, vault_id: str) -> set[str]:
        """Keys of the vault's jobs recorded before (one read per vault and run)."""
        ...

    def incident_of_job(self, job_key: str) -> str | None:
        """The key of the incident a recorded job was counted into; None for a job never recorded."""
        ...

    def commit(self, changes: Sequence[Change]) -> list[Outcome]:
        """Write each change atomically (its incident and its new job rows together); one outcome each, in order."""
        ...

    def spend_mail(self, hour: str, wanted: int, limit: int) -> int:
        """Take up to ``wanted`` emails from the ``limit`` that every instance shares in ``hour``; how many were given."""
        ...

    def expire(self, before: datetime, *, limit: int) -> int:
        """Delete at most ``limit`` closed incidents, job rows and spent mail budgets older than ``before``."""
        ...

    def record_runs(self, runs: Sequence[VaultRun]) -> None:
        """Keep what one run saw of each vault: one small row a vault and run, for a day (a run takes the row of the
        run at the same minute the day before), and expired with the rest."""
        ...

    def runs_since(self, since: datetime) -> list[VaultRun]:
        """Every vault's runs at or after ``since``, oldest first (the daily summary's counts)."""
        ...

    def incidents_since(self, since: datetime) -> list[Incident]:
        """Every incident open now, or closed at or after ``since``, of every vault (the daily summary)."""
        ...
