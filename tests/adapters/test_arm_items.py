"""Protected items and policies through the real SDK client against the ARM stand-in."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from backup_events.adapters.arm_jobs import RecoveryServicesJobSource
from backup_events.adapters.sample_jobs import bundled
from backup_events.domain.exposure import backup_interval
from backup_events.errors import SourceError
from backup_events.wire.items import protected_item_of
from tests.loopback.arm import ArmStandIn
from tests.loopback.fixtures import FakeTokenCredential, serving

WORLD = bundled()
PROD = next(v for v in WORLD["protectedItems"] if "rsv-prod-weu" in v)


@pytest.fixture
def arm() -> Iterator[ArmStandIn]:
    yield from serving(ArmStandIn(page_size=4))


@pytest.fixture
def source(arm: ArmStandIn) -> Iterator[RecoveryServicesJobSource]:
    for raw in WORLD["protectedItems"][PROD]:
        arm.add_protected_item(PROD, raw)
    for policy in WORLD["policies"][PROD]:
        arm.add_policy(PROD, policy)
    built = RecoveryServicesJobSource(
        credential=FakeTokenCredential(arm.token),
        vault_ids=[PROD],
        subscription_ids=[],
        arm_endpoint=arm.url,
        credential_scope="https://management.azure.com/.default",
        retry_budget_seconds=5.0,
        connection_verify=arm.ca_path,
        retry_backoff_factor=0.01,
    )
    yield built
    built.close()


def test_every_protected_item_is_read_across_pages_with_its_last_recovery_point(source: RecoveryServicesJobSource) -> None:
    items = [protected_item_of(raw, PROD) for raw in source.protected_items(PROD)]
    assert len(items) == len(WORLD["protectedItems"][PROD]) > 4  # more than one page
    legacy = next(i for i in items if i.item == "vm-legacy-09")
    assert legacy.last_recovery_point is not None and legacy.last_recovery_point.isoformat() == "2026-11-21T16:05:00+00:00"
    assert legacy.policy_name == "DefaultPolicy"


def test_a_policy_is_read_and_its_schedule_understood(source: RecoveryServicesJobSource) -> None:
    from datetime import timedelta

    assert backup_interval(source.policy(PROD, "DefaultPolicy")) == timedelta(days=1)


def test_a_missing_policy_or_a_failing_vault_is_a_source_error(source: RecoveryServicesJobSource, arm: ArmStandIn) -> None:
    with pytest.raises(SourceError, match="NoSuchPolicy"):
        source.policy(PROD, "NoSuchPolicy")
    arm.fail("rsv-prod-weu", times=None, status=500)
    with pytest.raises(SourceError, match="protected items of vault"):
        source.protected_items(PROD)


def test_resource_tags_are_read_through_the_tags_api_and_a_refusal_is_a_source_error(
    source: RecoveryServicesJobSource, arm: ArmStandIn
) -> None:
    subscription = "3b1f9c2e-5a7d-4e21-9c0b-7d2e4f6a8b10"
    vm = f"/subscriptions/{subscription}/resourceGroups/rg-app/providers/Microsoft.Compute/virtualMachines/vm-app-02"
    arm.set_tags(vm, {"backup-alerts-to": "app-team@contoso.com", "env": "prod"})
    assert source.resource_tags(vm) == {"backup-alerts-to": "app-team@contoso.com", "env": "prod"}
    with pytest.raises(SourceError, match="AuthorizationFailed"):
        source.resource_tags(vm.replace("vm-app-02", "vm-secret"))
