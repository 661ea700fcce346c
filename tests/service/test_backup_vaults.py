"""Backup vaults end to end: the Timer and the alert path over the ARM stand-in (real azure-mgmt-dataprotection
client), the ledger in Azurite, the outbox on disk.

The jobs are recorded bodies of the live service (tests/data/recorded/PROVENANCE.md), moved into the poll's window
with ``at``. No built-in alert raised from a Backup vault is public: the alert here is the synthetic VM alert of
tests/data retargeted at the recorded Backup vault and job (its vault id lower-cased, as alerts send it).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from backup_events.adapters.arm_jobs import RecoveryServicesJobSource
from backup_events.adapters.dataprotection_jobs import BackupVaultJobSource
from backup_events.adapters.vault_kinds import VaultKindJobSource
from backup_events.app import alert_path, poll
from backup_events.app.services import EventEnvelope
from backup_events.wire.exported import resources_in
from tests.conftest import Clock, load
from tests.loopback.arm import ArmStandIn
from tests.loopback.fixtures import FakeTokenCredential, serving
from tests.recorded import at, document, one
from tests.service.test_poll_jobs import emails_in, services

DATA = Path(__file__).parent.parent / "data"
BLOB_RESTORES = "jobs/azcli--test_dataprotection_job_list_and_show--b363efa-i000.json"
DISK_INSTANCE = "items/azcli--test_dataprotection_backup_instance_update_protection--8640f74-i000.json"
RECOVERY_POINTS = DATA / "azcli--test_dataprotection_recovery_point_list--b363efa-i000.json"
DISK_POLICY = DATA / "azcli--test_dataprotection_backup_policy_manual--b363efa-i003.json"
PGFLEX_FAILED = "jobs/azcli--test_dataprotection_backup_and_restore_pgflex--8e1899e-i030.json"


@pytest.fixture
def arm() -> Iterator[ArmStandIn]:
    yield from serving(ArmStandIn())


@pytest.fixture
def source(arm: ArmStandIn) -> Iterator[VaultKindJobSource]:
    options: dict[str, Any] = {
        "credential": FakeTokenCredential(arm.token),
        "arm_endpoint": arm.url,
        "connection_verify": arm.ca_path,
        "retry_backoff_factor": 0,
        "retry_budget_seconds": 5,
    }
    recovery = RecoveryServicesJobSource(**options)
    backup = BackupVaultJobSource(subscription_ids=["00000000-0000-0000-0000-000000000000"], **options)
    both = VaultKindJobSource(recovery_services=recovery, backup_vaults=backup)
    yield both
    both.close()


def recorded_failures_in_window(arm: ArmStandIn, clock: Clock) -> list[dict[str, Any]]:
    """The recorded list's jobs moved into the last hours, and the flexible-server backup failure (a GET body)."""
    jobs = [dict(j) for j in resources_in(document(BLOB_RESTORES))]
    moved = [at(job, clock.now - timedelta(hours=3, minutes=index)) for index, job in enumerate(jobs)]
    moved.append(at(one(PGFLEX_FAILED), clock.now - timedelta(hours=2)))
    for job in moved:
        arm.add_backup_vault_job(job)
    return [j for j in moved if j["properties"]["status"] == "Failed"]


def text_of(message: Any) -> str:
    return str(message.get_body(preferencelist=("plain",)).get_content())


def test_the_timer_tells_each_failed_backup_vault_job_once(
    arm: ArmStandIn, source: VaultKindJobSource, table: Any, tmp_path: Path, clock: Clock
) -> None:
    failed = recorded_failures_in_window(arm, clock)
    svc = services(table, tmp_path, clock, source=source)
    first = poll.poll_jobs(svc)
    assert (first.vaults, first.failures, first.emails_sent, first.problems) == (2, 14, 14, [])
    subjects = sorted(m["Subject"] for m in emails_in(tmp_path))
    assert subjects.count("[Restore failed] clitestsavltdonotdelete: UserErrorStorageAccountContainerNotFound") == 11
    assert "[Restore failed] clitestsavltdonotdelete: UserErrorStorageAccountContainerIsBeingDeleted" in subjects
    assert "[Backup failed] clitest-pgflex-server-2: PostgreSQLFlexServerError" in subjects
    pgflex = next(m for m in emails_in(tmp_path) if "pgflex" in m["Subject"])
    assert "Trigger Backup (from the job's tasks)" in text_of(pgflex)  # read back in full: list items carry no tasks
    assert "Azure Database for PostgreSQL flexible server" in text_of(pgflex)
    assert len(failed) == 14

    clock.advance(minutes=15)
    second = poll.poll_jobs(svc)
    assert (second.emails_sent, second.duplicates) == (0, 14)


def test_an_alert_from_a_backup_vault_is_told_from_the_job_read_back(
    arm: ArmStandIn, source: VaultKindJobSource, table: Any, tmp_path: Path, clock: Clock
) -> None:
    job = at(one(PGFLEX_FAILED), clock.now - timedelta(hours=2))
    arm.add_backup_vault_job(job)
    alert = copy.deepcopy(load("alert-vm-backup-failure.json"))
    alert["data"]["essentials"]["alertTargetIDs"] = [job["id"].rsplit("/backupJobs/", 1)[0].lower()]
    alert["data"]["alertContext"]["extendedInfo"]["jobId"] = job["name"]
    svc = services(table, tmp_path, clock, source=source)
    event = EventEnvelope(id="evt-bv", type="BackupEvents.AzureMonitorAlert.Fired", data=alert)
    assert alert_path.handle_alert_event(svc, event) == "told"
    (message,) = emails_in(tmp_path)
    assert message["Subject"] == "[Backup failed] clitest-pgflex-server-2: PostgreSQLFlexServerError"
    assert "Source: jobs API" in text_of(message)
    assert poll.poll_jobs(svc).emails_sent == 0  # the Timer finds it told already


def test_a_backup_instance_behind_its_policy_is_told_as_a_missed_backup(
    arm: ArmStandIn, source: VaultKindJobSource, table: Any, tmp_path: Path, clock: Clock
) -> None:
    # The recorded disk instance, its recorded recovery points (newest 2025-11-03) and the recorded disk policy (every
    # 6 hours), filed under the instance's policy name: a year behind its schedule at the test clock (2026-11-25).
    instance = one(DISK_INSTANCE)
    vault = instance["id"].split("/backupInstances/")[0]
    policy = {**json.loads(DISK_POLICY.read_text(encoding="utf-8")), "name": "diskpolicy"}
    arm.add_backup_vault(vault)
    arm.add_backup_instance(vault, instance, json.loads(RECOVERY_POINTS.read_text(encoding="utf-8"))["value"])
    arm.add_backup_vault_policy(vault, policy)
    report = poll.poll_jobs(services(table, tmp_path, clock, source=source, missed_grace=timedelta(hours=6)))
    assert (report.missed, report.problems) == (1, [])
    (message,) = emails_in(tmp_path)
    assert "clitest-disk-persistent-bi-donotdelete" in message["Subject"]
    assert "2025-11-03 12:02 UTC" in text_of(message)
