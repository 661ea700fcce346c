"""What a failed job's incident says: why its item's last good point is unknown, whom it is routed to, when it
happened, and what a run reports about the jobs it could not read or record."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from backup_events.adapters.memory_store import MemoryIncidentStore
from backup_events.adapters.sample_jobs import SampleJobSource
from backup_events.app import facts
from backup_events.app.poll import poll_jobs, poll_vault
from backup_events.app.record import count
from backup_events.app.services import RunReport
from backup_events.domain.exposure import MISSED_CODE
from backup_events.domain.incidents import Incident, Recorded
from backup_events.domain.operations import OperationKind
from backup_events.errors import SourceError
from backup_events.ports import IncidentStore
from tests.app.conftest import BuildServices, app_services
from tests.app.parts import VAULTS, WORLD, emails_in, failed_vm_job, text_of
from tests.app.test_recovery import protected
from tests.builders import make_incident
from tests.conftest import Clock

WEU = VAULTS["rsv-prod-weu"]
POLICIES = {WEU: WORLD["policies"][next(k for k in WORLD["policies"] if k.casefold() == WEU.casefold())]}
TAGGING: dict[str, Any] = {"route_tag": "backup-alerts-to", "route_tag_domains": ("contoso.com",)}


def window(clock: Clock) -> tuple[datetime, datetime]:
    return clock() - timedelta(hours=24), clock()


def by_item(store: IncidentStore) -> dict[str, Incident]:
    return {i.item: i for i in store.open_incidents(WEU)}


def resource_of(item: str) -> str:
    return str(protected(item, datetime(2026, 11, 1, tzinfo=UTC))["properties"]["sourceResourceId"])


def test_each_email_says_why_its_items_last_good_point_is_unknown(build: BuildServices, clock: Clock, outbox: Path) -> None:
    no_point = protected("vm-new", clock())
    no_point["properties"].pop("lastRecoveryPoint")
    unreadable = protected("vm-odd", clock())
    unreadable["properties"]["lastRecoveryPoint"] = "not a time"
    known = protected("vm-known", clock() - timedelta(hours=30))
    items = {WEU: [unreadable, no_point, known]}
    jobs = [failed_vm_job(n, item, clock() - timedelta(hours=1)) for n, item in enumerate(("vm-new", "vm-gone", "vm-known"))]
    poll_jobs(build(source=SampleJobSource(jobs=jobs, protected_items=items, policies=POLICIES)))
    said = {str(m["Subject"]).split("] ")[1].split(":")[0]: text_of(m) for m in emails_in(outbox)}
    assert "the item has no recovery point yet" in said["vm-new"]
    assert "the item is not among the vault's protected items" in said["vm-gone"]
    assert not any(why in said["vm-known"] for why in ("unknown (", "no recovery point yet", "not among"))


def test_a_failure_when_the_protected_items_cannot_be_read_says_so(build: BuildServices, clock: Clock, outbox: Path) -> None:
    class ItemsDown(SampleJobSource):
        def protected_items(self, vault_id: str) -> list[Mapping[str, Any]]:
            raise SourceError("HTTP 503")

    poll_jobs(build(source=ItemsDown(jobs=[failed_vm_job(1, "vm-1", clock() - timedelta(hours=1))])))
    (message,) = emails_in(outbox)
    assert "the vault's protected items could not be read when the failure was recorded" in text_of(message)


def test_each_tagged_resource_routes_its_own_items_failures_to_every_address_in_its_tag(
    build: BuildServices, store: IncidentStore, clock: Clock
) -> None:
    items = {WEU: [protected(f"vm-{n}", clock() - timedelta(hours=30)) for n in (1, 2)]}
    tags = {
        resource_of("vm-1"): {"backup-alerts-to": "app@contoso.com;dba@contoso.com"},
        resource_of("vm-2"): {"Backup-Alerts-To": "web@contoso.com"},
    }
    jobs = [failed_vm_job(n, f"vm-{n}", clock() - timedelta(hours=1)) for n in (1, 2)]
    poll_vault(build(source=SampleJobSource(jobs=jobs, protected_items=items, tags=tags), **TAGGING), WEU, *window(clock))
    assert {item: i.route_to for item, i in by_item(store).items()} == {
        "vm-1": "app@contoso.com,dba@contoso.com",
        "vm-2": "web@contoso.com",
    }


class CountingTags(SampleJobSource):
    tag_reads = 0

    def resource_tags(self, resource_id: str) -> Mapping[str, str]:
        self.tag_reads += 1
        return super().resource_tags(resource_id)


def test_missed_backups_are_each_counted_routed_by_their_tag_and_looked_up_once(
    build: BuildServices, store: IncidentStore, clock: Clock
) -> None:
    stale = [protected(f"vm-{n}", clock() - timedelta(days=3)) for n in (1, 2)]
    tags = {resource_of(f"vm-{n}"): {"backup-alerts-to": f"team{n}@contoso.com"} for n in (1, 2)}
    source = CountingTags(jobs=[], protected_items={WEU: stale}, policies=POLICIES, tags=tags)
    report = poll_vault(build(source=source, missed_grace=timedelta(hours=6), **TAGGING), WEU, *window(clock))
    assert report.missed == 2
    missed = {item: i.route_to for item, i in by_item(store).items() if i.code == MISSED_CODE}
    assert missed == {"vm-1": "team1@contoso.com", "vm-2": "team2@contoso.com"}
    reads = source.tag_reads
    again = poll_vault(build(source=source, missed_grace=timedelta(hours=6), **TAGGING), WEU, *window(clock))
    assert (again.missed, source.tag_reads) == (0, reads)


def test_a_failed_job_that_names_no_end_opens_its_incident_when_it_started(
    build: BuildServices, store: IncidentStore, clock: Clock
) -> None:
    job = failed_vm_job(1, "vm-1", clock() - timedelta(hours=1))
    job["properties"].pop("endTime")
    poll_vault(build(source=SampleJobSource(jobs=[job])), WEU, *window(clock))
    assert by_item(store)["vm-1"].opened_at == clock() - timedelta(hours=1, minutes=30)


def test_a_failure_with_no_error_and_no_catalog_entry_has_an_empty_title(
    build: BuildServices, store: IncidentStore, clock: Clock
) -> None:
    job = failed_vm_job(1, "vm-1", clock() - timedelta(hours=1))
    job["properties"].pop("errorDetails")
    poll_vault(build(source=SampleJobSource(jobs=[job])), WEU, *window(clock))
    incident = by_item(store)["vm-1"]
    assert (incident.title, facts.loads(incident.facts).job.error) == ("", None)


def test_restore_failures_are_not_counted_when_only_backups_are_told(build: BuildServices, clock: Clock) -> None:
    restore = failed_vm_job(1, "vm-1", clock() - timedelta(hours=1))
    restore["properties"]["operation"] = "Restore"
    source = SampleJobSource(jobs=[restore])
    told = poll_vault(build(source=source, tell_operations=frozenset({OperationKind.BACKUP})), WEU, *window(clock))
    assert (told.jobs_seen, told.failures, told.opened) == (1, 0, 0)


class Unreadable(SampleJobSource):
    """Listings that start with jobs no one can read: one with an id, one without."""

    def jobs(self, vault_id: str, **window: Any) -> Iterable[Mapping[str, Any]]:
        yield {"id": f"{vault_id}/backupJobs/bad-1", "properties": None}
        yield {"properties": {"status": "Failed"}}
        yield from super().jobs(vault_id, **window)


def test_an_unreadable_job_is_a_problem_naming_it_and_the_rest_are_told(build: BuildServices, clock: Clock) -> None:
    report = poll_vault(build(source=Unreadable(jobs=[failed_vm_job(1, "vm-1", clock())])), WEU, *window(clock))
    assert report.problems == [
        f"unreadable job {WEU}/backupJobs/bad-1: not a backup job: no properties object (field: properties)",
        "unreadable job (no id): not a backup job: no id (field: id)",
    ]
    assert (report.jobs_seen, report.opened) == (3, 1)


class DetailsBreak(SampleJobSource):
    def job_details(self, job_id: str) -> Mapping[str, Any]:
        if job_id.endswith("1"):
            raise ValueError("details came back as a list")
        return super().job_details(job_id)


def test_a_job_that_breaks_its_handling_is_a_problem_naming_it_and_the_rest_are_told(build: BuildServices, clock: Clock) -> None:
    jobs = [failed_vm_job(n, f"vm-{n}", clock()) for n in (1, 2)]
    report = poll_vault(build(source=DetailsBreak(jobs=jobs)), WEU, *window(clock))
    assert report.problems == [f"job {jobs[0]['id']}: ValueError: details came back as a list"]
    assert report.opened == 1


class LedgerDown(MemoryIncidentStore):
    def incidents_in(self, vault_id: str, keys: Any) -> dict[str, Incident]:
        raise TimeoutError("table read timed out")


def test_a_ledger_that_fails_mid_run_is_a_problem_naming_the_vault(outbox: Path, clock: Clock) -> None:
    services = app_services(
        LedgerDown(clock=clock), outbox, clock, source=SampleJobSource(jobs=[failed_vm_job(1, "vm-1", clock())])
    )
    report = poll_vault(services, WEU, *window(clock))
    assert report.problems == [f"recording the jobs of vault {WEU} stopped part-way: TimeoutError: table read timed out"]


def test_each_recording_outcome_counts_once_into_the_report(clock: Clock) -> None:
    report = RunReport()
    incident = make_incident(WEU, "vm-1", clock())
    for outcome in (Recorded.DUPLICATE, Recorded.DUPLICATE, Recorded.REPEAT, Recorded.REPEAT, Recorded.OPENED):
        count(report, outcome, incident)
    assert (report.duplicates, report.repeats, report.opened) == (2, 2, 1)
