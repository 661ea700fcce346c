"""BackupVaultJobSource against the loopback ARM stand-in, through the real azure-mgmt-dataprotection client.

Every job, backup instance, recovery point and policy served is a recorded body of the live service
(tests/data/recorded/PROVENANCE.md); tests that need a time window name the recorded jobs' own dates.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from backup_events.adapters.arm_jobs import RecoveryServicesJobSource
from backup_events.adapters.dataprotection_jobs import BackupVaultJobSource
from backup_events.adapters.vault_kinds import VaultKindJobSource
from backup_events.domain.exposure import backup_interval
from backup_events.errors import ConfigurationError, SourceError
from backup_events.wire.exported import resources_in
from backup_events.wire.items import protected_item_of
from backup_events.wire.jobs import normalise_job
from tests.loopback.arm import ArmStandIn
from tests.loopback.fixtures import FakeTokenCredential, serving
from tests.recorded import document, one

DATA = Path(__file__).parent.parent / "data"
SUB = "00000000-0000-0000-0000-000000000000"
VAULT = (
    f"/subscriptions/{SUB}/resourceGroups/clitest-dpp-rg/providers/Microsoft.DataProtection/backupVaults"
    "/clitest-bkp-vault-persistent-bi-donotdelete"
)
BLOB_RESTORES = "jobs/azcli--test_dataprotection_job_list_and_show--b363efa-i000.json"  # 98 jobs, 13 Failed
PGFLEX_FAILED = "jobs/azcli--test_dataprotection_backup_and_restore_pgflex--8e1899e-i030.json"
DISK_INSTANCE = "items/azcli--test_dataprotection_backup_instance_update_protection--8640f74-i000.json"
RECOVERY_POINTS = DATA / "azcli--test_dataprotection_recovery_point_list--b363efa-i000.json"
DISK_POLICY = DATA / "azcli--test_dataprotection_backup_policy_manual--b363efa-i003.json"
# The recorded list's jobs started between 2025-10-29 and 2025-11-04.
SINCE = datetime(2025, 10, 1, tzinfo=UTC)
UNTIL = datetime(2025, 11, 30, tzinfo=UTC)

Factory = Callable[..., BackupVaultJobSource]


@pytest.fixture
def arm() -> Iterator[ArmStandIn]:
    yield from serving(ArmStandIn())


@pytest.fixture
def make_source(arm: ArmStandIn) -> Iterator[Factory]:
    built: list[BackupVaultJobSource] = []

    def make(**options: Any) -> BackupVaultJobSource:
        defaults: dict[str, Any] = {
            "credential": FakeTokenCredential(arm.token),
            "vault_ids": [VAULT],
            "arm_endpoint": arm.url,
            "connection_verify": arm.ca_path,
            "retry_backoff_factor": 0,
            "retry_budget_seconds": 5,
        }
        source = BackupVaultJobSource(**{**defaults, **options})
        built.append(source)
        return source

    yield make
    for source in built:
        source.close()


def recorded_list(arm: ArmStandIn) -> list[dict[str, Any]]:
    jobs = [dict(j) for j in resources_in(document(BLOB_RESTORES))]
    for job in jobs:
        arm.add_backup_vault_job(job)
    return jobs


def test_the_failed_jobs_of_the_window_are_read_across_every_page_without_a_filter(arm: ArmStandIn, make_source: Factory) -> None:
    recorded = recorded_list(arm)
    jobs = list(make_source().jobs(VAULT, since=SINCE, until=UNTIL))
    failed = {j["name"] for j in recorded if j["properties"]["status"] == "Failed"}
    assert {j["name"] for j in jobs} == failed and len(failed) == 13
    assert arm.dp_filters_seen == []  # Jobs_List takes no $filter: the window is applied on our side
    assert arm.vault_requests["clitest-bkp-vault-persistent-bi-donotdelete"] == 49  # 98 jobs, pages of 2
    assert all(normalise_job(j).error for j in jobs)


def test_the_window_and_statuses_are_honoured(arm: ArmStandIn, make_source: Factory) -> None:
    recorded = recorded_list(arm)
    source = make_source()
    assert list(source.jobs(VAULT, since=UNTIL, until=UNTIL + timedelta(days=1))) == []
    completed = list(source.jobs(VAULT, since=SINCE, until=UNTIL, statuses=("Completed",)))
    assert len(completed) == sum(1 for j in recorded if j["properties"]["status"] == "Completed")


def test_a_failed_job_is_read_back_in_full_with_its_sub_tasks(arm: ArmStandIn, make_source: Factory) -> None:
    recorded = one(PGFLEX_FAILED)
    arm.add_backup_vault_job(recorded)
    vault = recorded["id"].split("/backupJobs/")[0]
    details = make_source(vault_ids=[vault]).job_details(recorded["id"].replace("backupVaults", "Backupvaults"))
    assert details["properties"]["extendedInfo"]["subTasks"][0]["taskStatus"] == "Failed"
    assert details["properties"]["duration"] == "PT1M34.3675268S"  # the raw wire value, not the SDK's timedelta
    assert normalise_job(details).detail.startswith("Service request failed.")


def test_backup_instances_come_with_their_newest_recovery_point(arm: ArmStandIn, make_source: Factory) -> None:
    instance = one(DISK_INSTANCE)
    points = json.loads(RECOVERY_POINTS.read_text(encoding="utf-8"))["value"]
    arm.add_backup_vault(VAULT)
    arm.add_backup_instance(VAULT, instance, points)
    (raw,) = make_source().protected_items(VAULT)
    item = protected_item_of(raw, VAULT)
    assert item.item == "clitest-disk-persistent-bi-donotdelete"
    assert item.last_recovery_point == datetime(2025, 11, 3, 12, 2, 57, 857941, tzinfo=UTC)
    assert item.policy_name == "diskpolicy"


def test_a_backup_vault_policy_is_read_and_its_schedule_understood(arm: ArmStandIn, make_source: Factory) -> None:
    policy = json.loads(DISK_POLICY.read_text(encoding="utf-8"))
    arm.add_backup_vault(VAULT)
    arm.add_backup_vault_policy(VAULT, policy)
    assert backup_interval(make_source().policy(VAULT, policy["name"])) == timedelta(hours=6)


def test_backup_vaults_of_a_subscription_are_discovered(arm: ArmStandIn, make_source: Factory) -> None:
    arm.add_backup_vault(VAULT)
    assert make_source(vault_ids=[], subscription_ids=[SUB]).vault_ids() == [VAULT]


def test_an_unreadable_vault_is_a_source_error_naming_it(arm: ArmStandIn, make_source: Factory) -> None:
    arm.add_backup_vault(VAULT)
    arm.fail("clitest-bkp-vault-persistent-bi-donotdelete", status=500)
    with pytest.raises(SourceError, match="clitest-bkp-vault-persistent-bi-donotdelete.*HTTP 500"):
        list(make_source(max_retries=0).jobs(VAULT, since=SINCE, until=UNTIL))


def test_a_wrong_token_is_a_source_error(arm: ArmStandIn, make_source: Factory) -> None:
    arm.add_backup_vault(VAULT)
    with pytest.raises(SourceError, match="HTTP 401 AuthenticationFailed"):
        list(make_source(credential=FakeTokenCredential("stolen")).jobs(VAULT, since=SINCE, until=UNTIL))


def test_a_recovery_services_vault_id_is_refused_by_the_backup_vault_source() -> None:
    wrong = VAULT.replace("Microsoft.DataProtection/backupVaults", "Microsoft.RecoveryServices/vaults")
    with pytest.raises(ConfigurationError, match="Microsoft.DataProtection/backupVaults"):
        BackupVaultJobSource(credential=FakeTokenCredential("t"), vault_ids=[wrong])


def test_one_source_routes_each_vault_to_its_own_api(arm: ArmStandIn, make_source: Factory) -> None:
    recorded_list(arm)
    recovery_vault = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.RecoveryServices/vaults/rsv-prod"
    arm.add_vault(recovery_vault)
    recovery = RecoveryServicesJobSource(
        credential=FakeTokenCredential(arm.token),
        vault_ids=[recovery_vault],
        arm_endpoint=arm.url,
        connection_verify=arm.ca_path,
        retry_budget_seconds=5,
    )
    with recovery:
        both = VaultKindJobSource(recovery_services=recovery, backup_vaults=make_source())
        assert both.vault_ids() == [recovery_vault, VAULT]
        assert len(list(both.jobs(VAULT.replace("backupVaults", "BackupVaults"), since=SINCE, until=UNTIL))) == 13
        assert list(both.jobs(recovery_vault, since=SINCE, until=UNTIL)) == []


def test_a_throttled_vault_is_retried_within_the_budget(arm: ArmStandIn, make_source: Factory) -> None:
    recorded_list(arm)
    arm.throttle("clitest-bkp-vault-persistent-bi-donotdelete", times=2, retry_after=0)
    assert len(list(make_source().jobs(VAULT, since=SINCE, until=UNTIL))) == 13


def test_a_retry_after_past_the_budget_gives_up_at_once_with_the_429(arm: ArmStandIn, make_source: Factory) -> None:
    recorded_list(arm)
    arm.throttle("clitest-bkp-vault-persistent-bi-donotdelete", times=5, retry_after=30)
    with pytest.raises(SourceError, match="HTTP 429"):
        list(make_source(retry_budget_seconds=1).jobs(VAULT, since=SINCE, until=UNTIL))
