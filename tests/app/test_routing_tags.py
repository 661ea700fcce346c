"""The routing tag (``BACKUP_ROUTE_TAG``) on a VM names who else hears about it: only whole addresses in the domains
of ``BACKUP_ROUTE_TAG_DOMAINS`` count, and they are added to the vault's on-call unless the mode is ``replace``."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path

from backup_events.adapters.sample_jobs import SampleJobSource
from backup_events.app.poll import poll_jobs
from tests.app.conftest import ON_CALL, BuildServices
from tests.app.parts import VM_RESOURCE, VM_SUBJECT, WORLD, failed_vm_job, sent_to, settings
from tests.conftest import Clock


def tagged_vm(value: str) -> SampleJobSource:
    """The samples, with vm-app-02 tagged ``backup-alerts-to: <value>``."""
    return SampleJobSource(
        WORLD["value"],
        protected_items=WORLD["protectedItems"],
        policies=WORLD["policies"],
        tags={VM_RESOURCE: {"backup-alerts-to": value}},
    )


TAGGING = {"BACKUP_ROUTE_TAG": "backup-alerts-to", "BACKUP_ROUTE_TAG_DOMAINS": "contoso.com"}


def routed(build: BuildServices, value: str, **env: str) -> dict[str, object]:
    config = settings(**{**TAGGING, **env})
    return {
        "source": tagged_vm(value),
        "route_tag": config.route_tag,
        "route_tag_domains": config.route_tag_domains,
        "route_tag_replaces": config.route_tag_mode == "replace",
    }


def test_a_routing_tag_adds_its_addresses_to_the_vaults_on_call(build: BuildServices, outbox: Path) -> None:
    poll_jobs(build(**routed(build, "team@contoso.com; not-an-address")))
    assert sent_to(outbox)[VM_SUBJECT] == f"{ON_CALL}, team@contoso.com"


def test_in_replace_mode_only_the_addresses_in_a_routing_tag_get_the_email(build: BuildServices, outbox: Path) -> None:
    poll_jobs(build(**routed(build, "team@contoso.com; not-an-address", BACKUP_ROUTE_TAG_MODE="replace")))
    assert sent_to(outbox)[VM_SUBJECT] == "team@contoso.com"


def test_a_routing_tag_cannot_send_outside_the_allowed_domains(build: BuildServices, outbox: Path) -> None:
    poll_jobs(build(**routed(build, "attacker@evil.example, x@contoso.com.evil.example", BACKUP_ROUTE_TAG_MODE="replace")))
    assert sent_to(outbox)[VM_SUBJECT] == ON_CALL


def test_a_routing_tag_without_an_address_in_it_routes_by_the_vault(build: BuildServices, outbox: Path) -> None:
    poll_jobs(build(**routed(build, "ask the app owner")))
    assert sent_to(outbox)[VM_SUBJECT] == ON_CALL


class CountedTags(SampleJobSource):
    """The samples with vm-app-02 tagged, counting the Tags API reads per resource."""

    def __init__(self, jobs: list[dict[str, object]]) -> None:
        super().__init__(
            jobs,
            protected_items=WORLD["protectedItems"],
            policies=WORLD["policies"],
            tags={VM_RESOURCE: {"backup-alerts-to": "team@contoso.com"}},
        )
        self.reads: list[str] = []

    def resource_tags(self, resource_id: str) -> Mapping[str, str]:
        self.reads.append(resource_id.casefold())
        return super().resource_tags(resource_id)


def test_a_resources_tags_are_read_once_per_run_however_many_of_its_jobs_failed(
    build: BuildServices, outbox: Path, clock: Clock
) -> None:
    jobs = [failed_vm_job(n, "vm-app-02", clock() - timedelta(hours=n)) for n in (1, 2, 3)]
    source = CountedTags(jobs)
    options = routed(build, "team@contoso.com")
    poll_jobs(build(**{**options, "source": source}))
    assert source.reads == [VM_RESOURCE.casefold()]
    assert sent_to(outbox)[VM_SUBJECT] == f"{ON_CALL}, team@contoso.com"
