"""The small interfaces the service talks to; adapters implement them structurally."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Protocol

from backup_events.model import EmailMessage

JobJson = Mapping[str, Any]
"""A ``JobResource`` as the jobs API returns it on the wire (camelCase keys)."""


class JobSource(Protocol):
    """Where jobs come from: the jobs API of each vault, or bundled samples."""

    def vault_ids(self) -> list[str]:
        """The ARM ids of the vaults to watch this run."""
        ...

    def jobs(self, vault_id: str, *, since: datetime, until: datetime) -> Iterable[JobJson]:
        """Jobs of one vault in the window that may need telling (failed ones at least).

        Raises ``SourceError`` when the vault cannot be read this run.
        """
        ...

    def job_details(self, job_id: str) -> JobJson:
        """The full job (with ``extendedInfo``) by its ARM id. Raises ``SourceError``."""
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


class Publisher(Protocol):
    """Publishes an event to the Event Grid custom topic (the alert relay's only job)."""

    def publish(self, *, event_id: str, event_type: str, source: str, subject: str, data: Mapping[str, Any]) -> None:
        """Publish one CloudEvent. Raises ``PublishError``."""
        ...
