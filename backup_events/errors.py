"""The exceptions backup-events raises on purpose.

BackupEventsError
├── ConfigurationError   settings missing or invalid; lists every problem at once
├── CatalogError         the remediation catalog breaks a rule; lists every problem at once
├── MalformedInputError  a job, alert or event that cannot be understood; names the field
├── SourceError          the jobs API failed for one vault (throttled past the cap, 5xx, auth)
├── DeliveryError        an email could not be handed to the mail service; the job stays untold
├── PublishError         the relay could not publish an alert to Event Grid; the action group retries
├── RunFailedError       a run finished but some jobs could not be told; raised so the host marks it failed
├── IncidentsBusyError   an incident kept changing under us; its job is left for the next run
├── AzuriteUnavailable   dev/tests only: the local Azurite emulator is not installed or did not start
├── SignInError          no Azure credential worked; names what was tried and how to sign in
├── UnreachableError     a part a run needs (the ledger, a service) could not be reached; says which and the fix
└── UnauthorizedError    a call to the relay without a valid Entra token for it; says why, never quotes the token
"""

from __future__ import annotations


class BackupEventsError(Exception):
    """Base of every error raised on purpose by backup-events."""


class ConfigurationError(BackupEventsError):
    """One or more settings are missing or invalid.

    ``problems`` holds one line per bad setting: its name, what was wrong, and a valid example.
    """

    def __init__(self, problems: list[str]) -> None:
        self.problems = tuple(problems)
        lines = "\n".join(f"  - {p}" for p in problems)
        many = len(problems) != 1
        super().__init__(f"{len(problems)} setting{'s are' if many else ' is'} missing or invalid:\n{lines}")


class CatalogError(BackupEventsError):
    """The catalog data breaks a rule; ``problems`` holds one line per problem, each naming its entry."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("catalog check failed:\n" + "\n".join(f"  - {p}" for p in problems))


class MalformedInputError(BackupEventsError):
    """An input (job JSON, alert, event) is not what it claims to be; ``field`` names the culprit."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        self.field = field
        super().__init__(f"{message} (field: {field})" if field else message)


class SourceError(BackupEventsError):
    """The jobs source failed for one vault; the run skips it and goes on."""


class DeliveryError(BackupEventsError):
    """The mail service did not accept a message; ``retry_after`` is in seconds when it said."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class PublishError(BackupEventsError):
    """The Event Grid topic did not take an event."""


class RunFailedError(BackupEventsError):
    """A run ended with jobs left untold; they will be retried by the next run."""


class IncidentsBusyError(BackupEventsError):
    """An incident kept changing under us (other instances); the job stays unrecorded and the next run retries it."""


class AzuriteUnavailable(BackupEventsError):
    """Azurite is not installed or did not start (demo and tests only); the message says what to do."""


class SignInError(BackupEventsError):
    """No credential of the chain gave a token: the message names what was tried and how to sign in."""


class UnreachableError(BackupEventsError):
    """A part a run needs could not be reached or refused us before any work; the message names it and the fix."""


class UnauthorizedError(BackupEventsError):
    """A call to the relay did not carry a valid Entra token from the action groups' app; nothing of it is used.

    The message is a short reason (missing, expired, wrong audience, …) that never quotes the token or its claims.
    ``retryable`` is True when the token could not be checked at all (the tenant's signing keys were unreachable):
    the caller should answer "retry later", not "unauthorized".
    """

    def __init__(self, reason: str, *, retryable: bool = False) -> None:
        self.retryable = retryable
        super().__init__(reason)
