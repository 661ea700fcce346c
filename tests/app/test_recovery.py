"""Recovery in a poll: a good backup of the same kind, or a newer recovery point, closes an item's open incident, at
the moment it proves the item protected again."""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from backup_events.adapters.memory_store import MemoryIncidentStore
from backup_events.adapters.sample_jobs import SampleJobSource
from backup_events.app.poll import poll_jobs, poll_vault
from backup_events.app.recover import open_by_item
from backup_events.domain.incidents import Incident
from backup_events.ports import IncidentStore
from tests.app.conftest import BuildServices, app_services
from tests.app.parts import VAULTS, WORLD, failed_vm_job
from tests.app.test_blind_spots import BROKEN, VaultForbidden
from tests.conftest import Clock

WEU = VAULTS["rsv-prod-weu"]
VM_ITEM = next(
    raw for items in WORLD["protectedItems"].values() for raw in items if raw["properties"]["friendlyName"] == "vm-app-02"
)


class UnreadableFirst(SampleJobSource):
    """Each listing starts with a job that cannot be read (no properties object)."""

    def jobs(self, vault_id: str, **window: Any) -> Iterable[Mapping[str, Any]]:
        yield {"id": f"{vault_id}/backupJobs/7e570000-0000-4000-8000-000000000099", "properties": None}
        yield from super().jobs(vault_id, **window)


def full_backup(job: dict[str, Any]) -> dict[str, Any]:
    job["properties"]["operation"] = "Backup (Full)"
    return job


def protected(item: str, last_point: datetime) -> dict[str, Any]:
    raw: dict[str, Any] = copy.deepcopy(VM_ITEM)
    raw["id"] = raw["id"].replace("vm-app-02", item)
    raw["name"] = raw["name"].replace("vm-app-02", item)
    raw["properties"].update(
        friendlyName=item,
        sourceResourceId=raw["properties"]["sourceResourceId"].replace("vm-app-02", item),
        lastRecoveryPoint=last_point.isoformat(),
    )
    return raw


def window(clock: Clock) -> tuple[datetime, datetime]:
    return clock() - timedelta(hours=24), clock()


def opened(store: IncidentStore, vault: str = WEU) -> dict[str, str]:
    """Item -> key of the vault's open incidents."""
    return {i.item: i.key for i in store.open_incidents(vault)}


def test_a_good_backup_of_the_same_kind_closes_the_incident_when_it_ended_past_an_unreadable_job(
    build: BuildServices, store: IncidentStore, clock: Clock
) -> None:
    failed = full_backup(failed_vm_job(1, "vm-1", clock() - timedelta(hours=3)))
    poll_vault(build(source=SampleJobSource(jobs=[failed])), WEU, *window(clock))
    (key,) = opened(store).values()
    good = full_backup(failed_vm_job(3, "vm-1", clock() - timedelta(hours=1), status="Completed"))
    report = poll_vault(build(source=UnreadableFirst(jobs=[good])), WEU, *window(clock))
    incident = store.incident(key)
    assert incident is not None
    assert (report.recovered, incident.state, incident.closed_at) == (1, "closed", clock() - timedelta(hours=1))


def test_a_good_job_that_names_no_end_closes_the_incident_at_its_start(
    build: BuildServices, store: IncidentStore, clock: Clock
) -> None:
    poll_vault(build(source=SampleJobSource(jobs=[failed_vm_job(1, "vm-1", clock() - timedelta(hours=3))])), WEU, *window(clock))
    (key,) = opened(store).values()
    good = failed_vm_job(3, "vm-1", clock() - timedelta(hours=1), status="Completed")
    good["properties"].pop("endTime")
    poll_vault(build(source=SampleJobSource(jobs=[good])), WEU, *window(clock))
    incident = store.incident(key)
    assert incident is not None and incident.closed_at == clock() - timedelta(hours=1, minutes=30)


def test_newer_recovery_points_close_each_items_incident_at_its_point(
    build: BuildServices, store: IncidentStore, clock: Clock
) -> None:
    failures = [failed_vm_job(n, f"vm-{n}", clock() - timedelta(hours=5)) for n in (1, 2, 3)]
    poll_vault(build(source=SampleJobSource(jobs=failures)), WEU, *window(clock))
    keys = opened(store)
    points = {"vm-1": clock() - timedelta(hours=2), "vm-2": clock() - timedelta(hours=1)}
    items = [protected(item, at) for item, at in points.items()] + [protected("vm-3", clock() - timedelta(hours=9))]
    source = SampleJobSource(jobs=[], protected_items={WEU: items})
    report = poll_vault(build(source=source, missed_grace=timedelta(hours=6)), WEU, *window(clock))
    closed = {item: store.incident(key) for item, key in keys.items()}
    assert report.recovered == 2
    assert {item: (i.state, i.closed_at) for item, i in closed.items() if i is not None} == {
        "vm-1": ("closed", points["vm-1"]),
        "vm-2": ("closed", points["vm-2"]),
        "vm-3": ("open", None),
    }


class ListedBackwards(MemoryIncidentStore):
    """The in-memory store listing a vault's open incidents the other way round (the port promises no order)."""

    def open_incidents(self, vault_id: str) -> list[Incident]:
        return super().open_incidents(vault_id)[::-1]


@pytest.mark.parametrize("listing", ["as stored", "backwards"])
def test_a_vaults_blind_spot_is_kept_apart_from_its_items_incidents_and_ends_when_the_vault_is_read(
    listing: str, outbox: Path, clock: Clock
) -> None:
    store = MemoryIncidentStore(clock=clock) if listing == "as stored" else ListedBackwards(clock=clock)
    build = functools.partial(app_services, store, outbox, clock)
    source = VaultForbidden()
    source.healed = True
    poll_jobs(build(source=source))  # the vault's failures open its items' incidents
    items = opened(store)
    source.healed = False
    for _ in range(4):
        clock.advance(minutes=15)
        poll_jobs(build(source=source))
    spots: list[Incident] = []
    by_item = open_by_item(build(source=source), BROKEN, blind=spots)
    assert sorted(i.key for incidents in by_item.values() for i in incidents) == sorted(items.values())
    (spot,) = spots
    assert spot.is_open and spot.key not in items.values()
    source.healed = True
    clock.advance(minutes=15)
    poll_jobs(build(source=source))
    ended = store.incident(spot.key)
    assert ended is not None and (ended.state, ended.closed_at) == ("closed", clock())
