"""Value types that cross every boundary: frozen, plain, and free of SDK types."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timedelta


class Workload(enum.StrEnum):
    """What was being backed up, in the words on-call staff use."""

    AZURE_VM = "Azure VM"
    AZURE_FILES = "Azure Files"
    SQL = "SQL Server in Azure VM"
    SAP_HANA = "SAP HANA in Azure VM"
    SAP_ASE = "SAP ASE in Azure VM"
    MARS = "MARS agent"
    DPM = "DPM"
    MABS = "MABS"
    VAULT = "Vault"
    # Backup vaults (Microsoft.DataProtection)
    AZURE_DISK = "Azure Disk"
    AZURE_BLOBS = "Azure Blobs"
    ADLS = "Azure Data Lake Storage"
    POSTGRESQL = "Azure Database for PostgreSQL"
    POSTGRESQL_FLEX = "Azure Database for PostgreSQL flexible server"
    MYSQL_FLEX = "Azure Database for MySQL flexible server"
    AKS = "AKS"
    UNKNOWN = "Unknown workload"


class Phase(enum.StrEnum):
    """Where in the job it failed. Take Snapshot is the only phase that touches the VM."""

    TAKE_SNAPSHOT = "Take Snapshot"
    TRANSFER = "Transfer data to vault"
    JOB_START = "Job start"
    NOT_APPLICABLE = "n/a"


class Severity(enum.StrEnum):
    """Whose move it is: the user's, Microsoft's, or nobody's (a retry will likely succeed)."""

    USER = "user"
    SERVICE = "service"
    TRANSIENT = "transient"


@dataclass(frozen=True)
class JobError:
    """One entry of a job's ``errorDetails``: whatever codes Azure gave, its message and its advice."""

    code: str | None
    number: int | None
    message: str
    recommendations: tuple[str, ...] = ()
    retryable: bool | None = None  # Backup vault jobs say so (``isRetryable``); Recovery Services jobs don't
    user_error: bool | None = None  # ``isUserError``
    inner_code: str | None = None  # ``innerError.code`` of a Backup vault job: ``ServerNotReadyForLongTermBackup``, …


@dataclass(frozen=True)
class Task:
    """One entry of ``extendedInfo.tasksList``."""

    name: str
    status: str


@dataclass(frozen=True)
class BackupJob:
    """A backup job as backup-events understands it, whichever source reported it."""

    job_id: str
    job_name: str
    vault_id: str
    vault_name: str
    subscription_id: str
    resource_group: str
    item_name: str
    workload: Workload
    job_type: str
    known_job_type: bool
    operation: str
    status: str
    start: datetime | None
    end: datetime | None
    duration: timedelta | None
    errors: tuple[JobError, ...] = ()
    detail: str = ""  # extendedInfo.dynamicErrorMessage: the concrete file, disk or path Azure's message leaves out
    tasks: tuple[Task, ...] = ()
    failing_phase: Phase | None = None
    source: str = "jobs API"
    notes: tuple[str, ...] = ()

    @property
    def error(self) -> JobError | None:
        """The first (main) error, if any."""
        return self.errors[0] if self.errors else None


LANGUAGES = ("en", "ja")
"""The languages every catalog entry is written in; English is catalog.toml itself, the others catalog.<lang>.toml."""


@dataclass(frozen=True)
class RemediationText:
    """One catalog entry's words in one language: what the reader sees, nothing that matches a job."""

    title: str
    cause: str
    steps: tuple[str, ...]
    notes: tuple[str, ...]
    docs_url: str


@dataclass(frozen=True)
class Remediation:
    """One catalog entry: why a code happens and what to do about it.

    ``title``, ``cause``, ``steps``, ``notes`` and ``docs_url`` are the English; ``text(language)`` gives the
    words in any of ``LANGUAGES`` (the catalog check makes sure every entry has them all).
    """

    key: str
    title: str
    cause: str
    steps: tuple[str, ...]
    docs_url: str
    phase: Phase
    severity: Severity
    codes: tuple[str, ...] = ()
    numbers: tuple[int, ...] = ()
    workloads: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    translations: tuple[tuple[str, RemediationText], ...] = ()  # (language, text) for each language but English

    def text(self, language: str = "en") -> RemediationText:
        """The entry's words in ``language`` ("en", "ja"); ``LookupError`` naming the entry if it has none."""
        if language == "en":
            return RemediationText(self.title, self.cause, self.steps, self.notes, self.docs_url)
        for code, text in self.translations:
            if code == language:
                return text
        raise LookupError(f"catalog entry {self.key} has no {language!r} text")


@dataclass(frozen=True)
class Diagnosis:
    """The catalog's answer for one job: an entry and the rule that found it, or nothing."""

    remediation: Remediation | None
    matched_by: str | None = None  # "code", "number", "message" or None when unmapped
    looked_up: str | None = None  # what was looked up, for "not in the catalog" wording


@dataclass(frozen=True)
class EmailMessage:
    """A rendered email, ready for any mailer. ``key`` is stable per told job (idempotency id)."""

    key: str
    subject: str
    text: str
    html: str
    sender: str
    recipients: tuple[str, ...]
    headers: dict[str, str] = field(default_factory=dict)
