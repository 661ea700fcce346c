"""Pure: whether a job deserves an email, and the key that makes it told once.

Status policy (README, "What gets an email"):
- ``Failed``: told once per job, for the operations the operator chose (``BACKUP_TELL_OPERATIONS``, default all).
- ``Cancelled``: not told. Jobs are cancelled by a person, or by Azure when a newer job supersedes them;
  the built-in alerts don't report them either. A cancelled job that hides a real problem shows up as the
  next job's failure, which is told.
- ``CompletedWithWarnings``, ``Completed``, ``InProgress`` and the rest: not told.
"""

from __future__ import annotations

from dataclasses import dataclass

from backup_events.domain.model import BackupJob
from backup_events.domain.operations import OperationKind, failed_label, kind_of


@dataclass(frozen=True)
class Decision:
    """Tell or not, and why (one line for the log and for ``explain``)."""

    tell: bool
    reason: str


def decide(job: BackupJob, operations: frozenset[OperationKind] = frozenset(OperationKind)) -> Decision:
    """Should this job get an email? ``operations``: the kinds of operation whose failures are told."""
    status = job.status.casefold()
    if status == "failed":
        kind = kind_of(job.operation)
        if kind not in operations:
            return Decision(False, f"{kind.value} failures are not told here (BACKUP_TELL_OPERATIONS)")
        return Decision(True, failed_label(job.operation))
    if status == "cancelled":
        return Decision(False, "the job was cancelled (by a person or a newer job), which is not a failure")
    return Decision(False, f"the job's status is {job.status}, not Failed")


def ledger_key(job: BackupJob) -> str:
    """One key per job, the same whichever trigger saw it: the vault id and the job name, case-folded."""
    return ledger_key_of(job.vault_id, job.job_name)


def ledger_key_of(vault_id: str, job_name: str) -> str:
    """The ledger key from its parts, for callers that know the job only by vault and name (alerts)."""
    return f"{vault_id.rstrip('/').casefold()}|{job_name.casefold()}"
