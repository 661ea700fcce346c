"""Which vaults a run tells about, and how a run's Services are varied."""

from __future__ import annotations

from datetime import timedelta

from tests.app.conftest import BuildServices
from tests.app.parts import VAULTS
from tests.conftest import Clock

UNLISTED = "/subscriptions/00000000-0000-0000-0000-00000000dead/resourceGroups/rg/providers/Microsoft.RecoveryServices/vaults/x"


def test_without_configured_vaults_or_subscriptions_the_sources_vaults_are_watched_and_no_other(
    build: BuildServices,
) -> None:
    services = build(subscription_ids=(), vault_ids=())
    assert services.watches(VAULTS["rsv-prod-weu"])
    assert not services.watches(UNLISTED)


def test_a_changed_copy_takes_the_new_ports_and_values_and_leaves_the_original(build: BuildServices, clock: Clock) -> None:
    services = build()
    later = Clock(clock() + timedelta(days=1))
    copy = services.changed(clock=later, sender="other@example.com")
    assert (copy.deps.clock, copy.config.sender) == (later, "other@example.com")
    assert (services.deps.clock, services.config.sender) != (later, "other@example.com")
