"""The routing tag (``BACKUP_ROUTE_TAG``) on a VM names who hears about it; only the addresses in it count."""

from __future__ import annotations

from pathlib import Path

from backup_events.adapters.sample_jobs import SampleJobSource
from backup_events.app.poll import poll_jobs
from tests.app.conftest import ON_CALL, BuildServices
from tests.app.parts import VM_RESOURCE, VM_SUBJECT, WORLD, sent_to, settings


def tagged_vm(value: str) -> SampleJobSource:
    """The samples, with vm-app-02 tagged ``backup-alerts-to: <value>``."""
    return SampleJobSource(
        WORLD["value"],
        protected_items=WORLD["protectedItems"],
        policies=WORLD["policies"],
        tags={VM_RESOURCE: {"backup-alerts-to": value}},
    )


def test_only_the_addresses_in_a_routing_tag_get_the_email(build: BuildServices, outbox: Path) -> None:
    route_tag = settings(BACKUP_ROUTE_TAG="backup-alerts-to").route_tag
    poll_jobs(build(source=tagged_vm("team@contoso.com; not-an-address"), route_tag=route_tag))
    assert sent_to(outbox)[VM_SUBJECT] == "team@contoso.com"


def test_a_routing_tag_without_an_address_in_it_routes_by_the_vault(build: BuildServices, outbox: Path) -> None:
    route_tag = settings(BACKUP_ROUTE_TAG="backup-alerts-to").route_tag
    poll_jobs(build(source=tagged_vm("ask the app owner"), route_tag=route_tag))
    assert sent_to(outbox)[VM_SUBJECT] == ON_CALL
