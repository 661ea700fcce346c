"""The small interfaces the service talks to; adapters implement them structurally."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from backup_events.domain.incidents import Incident, Recorded
from backup_events.domain.model import EmailMessage

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


class Ledger(Protocol):
    """Remembers which failures have been told, across runs, triggers and instances.

    Implementations take a clock at construction: a claim older than their lease counts as abandoned.
    """

    def is_told(self, key: str) -> bool:
        """True when the key was told or is being told right now by another instance."""
        ...

    def claim(self, key: str, *, summary: Mapping[str, str]) -> bool:
        """Atomically take the right to tell ``key``; True for exactly one claimant.

        A claim left half-done by a crashed instance (older than the lease) may be taken over.
        """
        ...

    def mark_sent(self, key: str, *, delivery_id: str) -> None:
        """Record that the email for ``key`` was accepted by the mail service."""
        ...

    def release(self, key: str) -> None:
        """Give a claim back after a failed send, so the next run retries it."""
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


class IncidentStore(Protocol):
    """Incidents (one item failing with one code) and the emails they are owed; shared by every instance."""

    def incident(self, key: str) -> Incident | None:
        """One incident by key."""
        ...

    def recorded_jobs(self, vault_id: str) -> set[str]:
        """Keys of the vault's jobs recorded before (one query per vault and run)."""
        ...

    def incident_of_job(self, job_key: str) -> str | None:
        """The key of the incident a recorded job was counted into."""
        ...

    def record_failure(self, job_key: str, incident: Incident) -> Recorded:
        """Count a failed job into its incident, atomically; opening the incident if none is open."""
        ...

    def record_failures(self, pairs: Sequence[tuple[str, Incident]]) -> list[Recorded]:
        """``record_failure`` for many (job key, incident) pairs of one vault, in the same order."""
        ...

    def open_items(self, vault_id: str) -> set[str]:
        """Item keys of the vault that have an open incident."""
        ...

    def record_success(self, vault_id: str, item: str, *, at: datetime, operation: str | None = None) -> list[Incident]:
        """A good backup (``operation``; None for a newer recovery point) closes the item's open incidents it recovers."""
        ...

    def incidents_owing_email(self) -> list[Incident]:
        """Open incidents and those with an unsent email (the caller decides which email is due)."""
        ...

    def claim_email(self, incident: Incident, kind: str) -> Incident | None:
        """Take the right to send ``kind`` for the incident; None when another instance has it."""
        ...

    def claim_emails(self, wanted: Sequence[tuple[Incident, str]]) -> list[Incident | None]:
        """``claim_email`` for many at once, in the same order."""
        ...

    def settle_emails(self, outcomes: Sequence[tuple[Incident, str, bool]]) -> None:
        """For each claimed incident and kind: sent (True) or owed again (False)."""
        ...

    def expire(self, before: datetime, *, limit: int) -> int:
        """Delete closed incidents and job rows older than ``before``; returns how many."""
        ...
