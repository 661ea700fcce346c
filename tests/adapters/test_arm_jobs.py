"""RecoveryServicesJobSource against the loopback ARM stand-in, through the real azure-mgmt SDK clients."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.recoveryservicesbackup import RecoveryServicesBackupClient

from backup_events.adapters.arm_jobs import RecoveryServicesJobSource, filter_time, job_filter
from backup_events.errors import SourceError
from tests.loopback.arm import ArmStandIn
from tests.loopback.fixtures import FakeTokenCredential, serving

SUB = "00000000-0000-0000-0000-000000000000"
OTHER_SUB = "11111111-1111-1111-1111-111111111111"
SINCE = datetime(2026, 11, 20, 13, 5, 9, tzinfo=UTC)
UNTIL = datetime(2026, 11, 21, 0, 30, 0, tzinfo=UTC)


def vault_id(name: str, *, sub: str = SUB, rg: str = "rg-backup") -> str:
    return f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.RecoveryServices/vaults/{name}"


def make_job(
    vault: str,
    index: int,
    *,
    status: str = "Failed",
    start: datetime = SINCE + timedelta(hours=1),
    sub: str = SUB,
) -> dict[str, Any]:
    """An IaaS VM job as the service sends it: /Subscriptions/ id, TimeSpan duration, int actionsInfo, 7 digits."""
    name = f"{index:08d}-0d5c-4f5e-9a6b-1c2d3e4f5a6b"
    return {
        "id": f"/Subscriptions/{sub}/resourceGroups/rg-backup/providers/Microsoft.RecoveryServices/vaults/{vault}"
        f"/backupJobs/{name}",
        "name": name,
        "type": "Microsoft.RecoveryServices/vaults/backupJobs",
        "properties": {
            "jobType": "AzureIaaSVMJob",
            "duration": "04:20:31.5321007",
            "actionsInfo": [1],
            "virtualMachineVersion": "Compute",
            "errorDetails": [
                {
                    "errorCode": 999001,
                    "errorString": "VM Agent unable to communicate with Azure Backup",
                    "errorTitle": "UserErrorGuestAgentStatusUnavailable",
                    "recommendations": ["Ensure that the VM agent is running and reachable."],
                }
            ],
            "entityFriendlyName": f"vm-app-{index:02d}",
            "backupManagementType": "AzureIaasVM",
            "operation": "Backup",
            "status": status,
            "startTime": f"{start:%Y-%m-%dT%H:%M:%S}.1234567Z",
            "endTime": f"{start + timedelta(hours=4):%Y-%m-%dT%H:%M:%S}.6555574Z",
            "activityId": "9c0e6a52-3b1f-4c2d-8e7a-5f4b3c2d1e0f",
            "extendedInfo": {
                "tasksList": [
                    {"taskId": "Take Snapshot", "duration": "04:20:31", "status": "Failed"},
                    {"taskId": "Transfer data to vault", "duration": "00:00:00", "status": "NotStarted"},
                ],
                "propertyBag": {"VM Name": f"vm-app-{index:02d}"},
                "dynamicErrorMessage": None,
            },
        },
    }


SourceFactory = Callable[..., RecoveryServicesJobSource]


@pytest.fixture
def arm() -> Iterator[ArmStandIn]:
    """A running ARM stand-in (page size 2)."""
    yield from serving(ArmStandIn())


@pytest.fixture
def arm_credential(arm: ArmStandIn) -> FakeTokenCredential:
    """A credential whose token the stand-in accepts."""
    return FakeTokenCredential(arm.token)


@pytest.fixture
def make_source(arm: ArmStandIn) -> Iterator[SourceFactory]:
    """Builds sources against the stand-in (fast backoff) and closes them after the test."""
    built: list[RecoveryServicesJobSource] = []

    def build(
        credential: FakeTokenCredential,
        *,
        vaults: list[str] | None = None,
        subscriptions: list[str] | None = None,
        budget: float = 5.0,
        max_retries: int = 3,
        statuses: tuple[str, ...] = ("Failed",),
    ) -> RecoveryServicesJobSource:
        source = RecoveryServicesJobSource(
            credential=credential,
            vault_ids=vaults or [],
            subscription_ids=subscriptions or [],
            arm_endpoint=arm.url,
            credential_scope="https://management.azure.com/.default",
            statuses=statuses,
            retry_budget_seconds=budget,
            connection_verify=arm.ca_path,
            max_retries=max_retries,
            retry_backoff_factor=0.01,
        )
        built.append(source)
        return source

    yield build
    for source in built:
        source.close()


def list_requests(arm: ArmStandIn, vault: str) -> list[Any]:
    return [r for r in arm.requests if r.path.lower().endswith(f"/vaults/{vault}/backupjobs")]


def test_paging_across_three_pages_returns_every_job_once(
    arm: ArmStandIn,
    arm_credential: FakeTokenCredential,
    make_source: SourceFactory,
) -> None:
    for index in range(5):
        arm.add_job(make_job("rsv-prod", index, start=SINCE + timedelta(minutes=10 * index)))
    source = make_source(arm_credential, vaults=[vault_id("rsv-prod")])

    jobs = list(source.jobs(vault_id("rsv-prod"), since=SINCE, until=UNTIL))

    assert sorted(j["name"] for j in jobs) == sorted(make_job("rsv-prod", i)["name"] for i in range(5))
    requests = list_requests(arm, "rsv-prod")
    assert len(requests) == 3
    assert [r.param("$skiptoken", case_insensitive=True) is not None for r in requests] == [False, True, True]
    assert {r.param("api-version") for r in requests} == {"2026-10-01"}
    assert set(arm_credential.scopes) == {("https://management.azure.com/.default",)}


def test_filter_is_sent_in_the_documented_format_and_the_window_excludes_jobs_outside_it(
    arm: ArmStandIn,
    arm_credential: FakeTokenCredential,
    make_source: SourceFactory,
) -> None:
    arm.add_job(make_job("rsv-prod", 1, start=SINCE - timedelta(minutes=1)))  # before the window
    arm.add_job(make_job("rsv-prod", 2, start=SINCE + timedelta(hours=2)))  # inside
    arm.add_job(make_job("rsv-prod", 3, start=UNTIL + timedelta(minutes=1)))  # after
    arm.add_job(make_job("rsv-prod", 4, status="Completed", start=SINCE + timedelta(hours=3)))  # not failed
    source = make_source(arm_credential, vaults=[vault_id("rsv-prod")])

    jobs = list(source.jobs(vault_id("rsv-prod"), since=SINCE, until=UNTIL))

    assert [j["name"] for j in jobs] == [make_job("rsv-prod", 2)["name"]]
    assert arm.filters_seen == [
        "status eq 'Failed' and startTime eq '2026-11-20 01:05:09 PM' and endTime eq '2026-11-21 12:30:00 AM'"
    ]


def test_each_configured_status_is_read_with_its_own_list_call(
    arm: ArmStandIn,
    arm_credential: FakeTokenCredential,
    make_source: SourceFactory,
) -> None:
    arm.add_job(make_job("rsv-prod", 1, status="Failed"))
    arm.add_job(make_job("rsv-prod", 2, status="CompletedWithWarnings"))
    arm.add_job(make_job("rsv-prod", 3, status="Completed"))
    source = make_source(arm_credential, vaults=[vault_id("rsv-prod")], statuses=("Failed", "CompletedWithWarnings"))

    jobs = list(source.jobs(vault_id("rsv-prod"), since=SINCE, until=UNTIL))

    assert sorted(j["properties"]["status"] for j in jobs) == ["CompletedWithWarnings", "Failed"]
    assert [f.split(" and ")[0] for f in arm.filters_seen] == ["status eq 'Failed'", "status eq 'CompletedWithWarnings'"]


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (datetime(2026, 11, 20, 0, 0, 0, tzinfo=UTC), "2026-11-20 12:00:00 AM"),
        (datetime(2026, 11, 20, 11, 59, 59, tzinfo=UTC), "2026-11-20 11:59:59 AM"),
        (datetime(2026, 11, 20, 12, 0, 0, tzinfo=UTC), "2026-11-20 12:00:00 PM"),
        (datetime(2026, 11, 20, 23, 1, 2, tzinfo=UTC), "2026-11-20 11:01:02 PM"),
        (datetime(2026, 11, 20, 14, 0, 0, tzinfo=timezone(timedelta(hours=2))), "2026-11-20 12:00:00 PM"),
    ],
)
def test_filter_times_are_utc_on_a_12_hour_clock_with_am_pm(moment: datetime, expected: str) -> None:
    assert filter_time(moment) == expected


def test_filter_window_widens_to_whole_seconds() -> None:
    since = datetime(2026, 11, 20, 13, 0, 0, 900_000, tzinfo=UTC)
    until = datetime(2026, 11, 20, 14, 0, 0, 100_000, tzinfo=UTC)
    assert job_filter("Failed", since, until) == (
        "status eq 'Failed' and startTime eq '2026-11-20 01:00:00 PM' and endTime eq '2026-11-20 02:00:01 PM'"
    )


def test_list_items_lack_extended_info_and_details_return_the_tasks_list_with_wire_quirks_intact(
    arm: ArmStandIn,
    arm_credential: FakeTokenCredential,
    make_source: SourceFactory,
) -> None:
    stored = make_job("rsv-prod", 7)
    arm.add_job(stored)
    source = make_source(arm_credential, vaults=[vault_id("rsv-prod")])

    [listed] = source.jobs(vault_id("rsv-prod"), since=SINCE, until=UNTIL)
    details = source.job_details(listed["id"])

    assert "extendedInfo" not in listed["properties"]
    assert details == stored  # the wire JSON, untouched: camelCase keys, TimeSpan, [1], /Subscriptions/, 7 digits
    assert details["properties"]["extendedInfo"]["tasksList"][0] == {
        "taskId": "Take Snapshot",
        "duration": "04:20:31",
        "status": "Failed",
    }
    assert listed["properties"]["duration"] == "04:20:31.5321007"
    assert listed["properties"]["actionsInfo"] == [1]
    assert listed["id"].startswith("/Subscriptions/")


def test_a_wrong_token_gives_a_source_error_naming_the_vault(
    arm: ArmStandIn,
    make_source: SourceFactory,
) -> None:
    arm.add_job(make_job("rsv-prod", 1))
    source = make_source(FakeTokenCredential("not-the-token"), vaults=[vault_id("rsv-prod")])

    with pytest.raises(SourceError) as caught:
        source.jobs(vault_id("rsv-prod"), since=SINCE, until=UNTIL)

    text = str(caught.value)
    assert vault_id("rsv-prod") in text
    assert "401" in text and "AuthenticationFailed" in text
    assert "not-the-token" not in text
    assert arm.vault_requests["rsv-prod"] == 1  # 401 is not retried


def test_a_vault_throttled_twice_recovers_within_the_budget(
    arm: ArmStandIn,
    arm_credential: FakeTokenCredential,
    make_source: SourceFactory,
) -> None:
    arm.add_job(make_job("rsv-prod", 1))
    arm.throttle("rsv-prod", 2, retry_after=0)
    source = make_source(arm_credential, vaults=[vault_id("rsv-prod")], budget=5.0)

    jobs = list(source.jobs(vault_id("rsv-prod"), since=SINCE, until=UNTIL))

    assert [j["name"] for j in jobs] == [make_job("rsv-prod", 1)["name"]]
    assert arm.vault_requests["rsv-prod"] == 3


def test_a_retry_after_within_the_budget_is_waited_out(
    arm: ArmStandIn,
    arm_credential: FakeTokenCredential,
    make_source: SourceFactory,
) -> None:
    arm.add_job(make_job("rsv-prod", 1))
    arm.throttle("rsv-prod", 1, retry_after=1)
    source = make_source(arm_credential, vaults=[vault_id("rsv-prod")], budget=3.0)

    started = time.monotonic()
    jobs = list(source.jobs(vault_id("rsv-prod"), since=SINCE, until=UNTIL))

    assert len(jobs) == 1
    assert time.monotonic() - started >= 0.9
    assert arm.vault_requests["rsv-prod"] == 2


def test_a_retry_after_longer_than_the_budget_gives_up_at_once(
    arm: ArmStandIn,
    arm_credential: FakeTokenCredential,
    make_source: SourceFactory,
) -> None:
    arm.add_job(make_job("rsv-prod", 1))
    arm.throttle("rsv-prod", 5, retry_after=30)
    source = make_source(arm_credential, vaults=[vault_id("rsv-prod")], budget=5.0)

    started = time.monotonic()
    with pytest.raises(SourceError) as caught:
        source.jobs(vault_id("rsv-prod"), since=SINCE, until=UNTIL)
    elapsed = time.monotonic() - started

    assert elapsed < 2.0
    assert arm.vault_requests["rsv-prod"] == 1
    text = str(caught.value)
    assert vault_id("rsv-prod") in text and "429" in text and "TooManyRequests" in text and "30" in text


def test_a_vault_always_failing_500_gives_a_source_error_and_the_other_vault_still_works(
    arm: ArmStandIn,
    arm_credential: FakeTokenCredential,
    make_source: SourceFactory,
) -> None:
    arm.add_job(make_job("rsv-broken", 1))
    arm.add_job(make_job("rsv-prod", 2))
    arm.fail("rsv-broken")
    source = make_source(arm_credential, vaults=[vault_id("rsv-broken"), vault_id("rsv-prod")], max_retries=2)

    with pytest.raises(SourceError) as caught:
        source.jobs(vault_id("rsv-broken"), since=SINCE, until=UNTIL)
    healthy = list(source.jobs(vault_id("rsv-prod"), since=SINCE, until=UNTIL))

    assert vault_id("rsv-broken") in str(caught.value)
    assert "500" in str(caught.value) and "InternalServerError" in str(caught.value)
    assert arm.vault_requests["rsv-broken"] == 3  # the first try and max_retries=2 retries
    assert [j["name"] for j in healthy] == [make_job("rsv-prod", 2)["name"]]


def test_capital_s_subscriptions_ids_and_lower_case_providers_are_accepted(
    arm: ArmStandIn,
    arm_credential: FakeTokenCredential,
    make_source: SourceFactory,
) -> None:
    arm.add_job(make_job("rsv-prod", 3))
    odd_vault_id = f"/Subscriptions/{SUB}/resourcegroups/RG-BACKUP/providers/microsoft.recoveryservices/vaults/rsv-prod"
    source = make_source(arm_credential, vaults=[odd_vault_id])

    [listed] = source.jobs(odd_vault_id, since=SINCE, until=UNTIL)
    details = source.job_details(listed["id"].replace("/providers/Microsoft.", "/providers/microsoft."))

    assert listed["id"].startswith("/Subscriptions/")
    assert details["name"] == listed["name"]
    assert source.vault_ids() == [odd_vault_id]


def test_an_unknown_job_gives_a_source_error_naming_the_job_and_the_status(
    arm: ArmStandIn,
    arm_credential: FakeTokenCredential,
    make_source: SourceFactory,
) -> None:
    arm.add_vault(vault_id("rsv-prod"))
    source = make_source(arm_credential)
    missing = f"{vault_id('rsv-prod')}/backupJobs/ffffffff-0000-0000-0000-000000000000"

    with pytest.raises(SourceError) as caught:
        source.job_details(missing)

    assert "ffffffff-0000-0000-0000-000000000000" in str(caught.value) and "404" in str(caught.value)


def test_discovery_lists_the_vaults_of_each_subscription_once(
    arm: ArmStandIn,
    arm_credential: FakeTokenCredential,
    make_source: SourceFactory,
) -> None:
    for name in ("rsv-a", "rsv-b", "rsv-c"):  # three vaults: two pages with the stand-in's page size of 2
        arm.add_vault(vault_id(name))
    arm.add_vault(vault_id("rsv-elsewhere", sub=OTHER_SUB))
    explicit = vault_id("RSV-A")  # also discovered, in another casing: kept once, as configured
    source = make_source(arm_credential, vaults=[explicit], subscriptions=[SUB])

    first = source.vault_ids()
    second = source.vault_ids()

    assert first == [explicit, vault_id("rsv-b"), vault_id("rsv-c")]
    assert second == first
    discovery = [r for r in arm.requests if r.path.lower().endswith("/providers/microsoft.recoveryservices/vaults")]
    assert len(discovery) == 2  # two pages, one discovery
    assert {r.param("api-version") for r in discovery} == {"2026-11-01"}


def test_the_stand_in_rejects_a_24_hour_filter_like_the_documented_grammar_requires(
    arm: ArmStandIn,
    arm_credential: FakeTokenCredential,
) -> None:
    arm.add_vault(vault_id("rsv-prod"))
    bad = "status eq 'Failed' and startTime eq '2026-11-20 13:05:09' and endTime eq '2026-11-21 00:30:00'"

    with (
        RecoveryServicesBackupClient(
            arm_credential, SUB, base_url=arm.url, connection_verify=arm.ca_path, retry_total=0
        ) as client,
        pytest.raises(HttpResponseError) as caught,
    ):
        list(client.backup_jobs.list("rsv-prod", "rg-backup", filter=bad))

    assert caught.value.status_code == 400
    assert caught.value.error is not None and caught.value.error.code == "BadRequest"
    assert "startTime" in str(caught.value.error.message)
