"""Whether a job gets an email, and why not (the reason ``explain`` and the log show)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from backup_events.adapters.sample_jobs import bundled_jobs
from backup_events.domain.decide import Decision, decide, ledger_key_of
from backup_events.domain.operations import OperationKind
from backup_events.wire.jobs import normalise_job

JOB = normalise_job(bundled_jobs()[0])  # a failed backup of vm-app-02


def test_a_failed_backup_is_told_under_its_failure_label() -> None:
    assert decide(JOB) == Decision(True, "Backup failed")


def test_a_failed_operation_left_to_the_built_in_alerts_is_not_told_and_says_which_setting() -> None:
    restore = replace(JOB, operation="Restore")
    assert decide(restore, frozenset({OperationKind.BACKUP})) == Decision(
        False, "restore failures are not told here (BACKUP_TELL_OPERATIONS)"
    )


@pytest.mark.parametrize("status", ["Cancelled", "cancelled"])
def test_a_cancelled_job_is_not_a_failure(status: str) -> None:
    assert decide(replace(JOB, status=status)) == Decision(
        False, "the job was cancelled (by a person or a newer job), which is not a failure"
    )


def test_a_job_that_did_not_fail_is_not_told_and_says_its_status() -> None:
    assert decide(replace(JOB, status="CompletedWithWarnings")) == Decision(
        False, "the job's status is CompletedWithWarnings, not Failed"
    )


def test_the_ledger_key_is_the_same_whatever_the_case_or_a_trailing_slash_of_the_vault_id() -> None:
    assert ledger_key_of("/Subscriptions/S/Vaults/V/", "Job-1") == ledger_key_of("/subscriptions/s/vaults/v", "job-1")
    assert ledger_key_of("/subscriptions/s/vaults/v/", "job-1") == "/subscriptions/s/vaults/v|job-1"
