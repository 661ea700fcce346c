"""What a poll records for each failed job: the incident's fields, a restore as a closed one-off, and the run's counts."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

from backup_events.adapters.sample_jobs import SampleJobSource
from backup_events.app.poll import on_timer
from backup_events.domain.identity import incident_key
from tests.app.conftest import BuildServices
from tests.app.parts import VAULTS, VM_CODE, WORLD, failed_vm_job
from tests.conftest import Clock

VAULT = VAULTS["rsv-prod-weu"]


def test_a_failed_backup_opens_an_incident_carrying_the_catalog_entry_and_the_job(
    build: BuildServices, store: Any, clock: Clock
) -> None:
    job = failed_vm_job(1, "vm-a", clock() - timedelta(hours=1))
    report = on_timer(build(source=SampleJobSource(jobs=[job])), past_due=False)
    assert (report.jobs_seen, report.failures, report.opened) == (1, 1, 1)
    incident = store.incident(incident_key(VAULT, "vm-a", VM_CODE))
    entry = build().deps.catalog.by_code[VM_CODE.casefold()]
    assert (incident.title, incident.docs_url, incident.workload) == (entry.title, entry.docs_url, "Azure VM")
    assert (incident.state, incident.closed_at, incident.last_job, incident.last_seen) == (
        "open",
        None,
        job["name"],
        clock() - timedelta(hours=1),
    )


def test_an_error_the_catalog_does_not_know_is_titled_by_azures_message_cut_to_300_characters(
    build: BuildServices, store: Any, clock: Clock
) -> None:
    job = failed_vm_job(1, "vm-a", clock() - timedelta(hours=1))
    (error,) = job["properties"]["errorDetails"]
    error.update(errorCode="NoSuchCodeAnywhere", errorTitle="", errorString="x" * 400)
    on_timer(build(source=SampleJobSource(jobs=[job])), past_due=False)
    incident = store.incident(incident_key(VAULT, "vm-a", "NoSuchCodeAnywhere"))
    assert (incident.title, incident.docs_url) == ("x" * 300, "")


def test_a_failed_restore_is_a_closed_one_off_incident_of_its_own_job(build: BuildServices, store: Any, clock: Clock) -> None:
    ended = clock() - timedelta(hours=1)
    jobs = [failed_vm_job(n, "vm-a", ended) for n in (1, 2)]
    for job in jobs:
        job["properties"]["operation"] = "Restore"
    report = on_timer(build(source=SampleJobSource(jobs=jobs)), past_due=False)
    assert (report.failures, report.opened) == (2, 2)
    for job in jobs:
        incident = store.incident(incident_key(VAULT, "vm-a", VM_CODE, job=job["name"]))
        assert (incident.state, incident.closed_at, incident.last_job, incident.operation) == (
            "closed",
            ended,
            job["name"],
            "Restore",
        )


def test_a_job_seen_again_by_the_next_poll_is_a_duplicate_not_a_repeat(build: BuildServices, clock: Clock) -> None:
    source = SampleJobSource(jobs=[failed_vm_job(1, "vm-a", clock() - timedelta(hours=1))])
    on_timer(build(source=source), past_due=False)
    again = on_timer(build(source=source), past_due=False)
    assert (again.jobs_seen, again.failures, again.duplicates, again.repeats, again.opened) == (1, 1, 1, 0, 0)


SQL_JOB = next(j for j in WORLD["value"] if j["properties"]["entityFriendlyName"].startswith("MSSQLSERVER/salesdb"))
SQL_VAULT = VAULTS["rsv-data-jpe"]


def _sql_job_named(name: str, *, status: str = "Failed") -> dict[str, Any]:
    job = copy.deepcopy(SQL_JOB)
    job["properties"].update(entityFriendlyName=name, status=status)
    return job


def _items_told(build: BuildServices, store: Any, job: dict[str, Any], items: dict[str, Any]) -> list[str]:
    on_timer(build(source=SampleJobSource(jobs=[job], protected_items=items)), past_due=False)
    return [i.item for i in store.open_incidents(SQL_VAULT)]


def test_a_database_job_that_names_no_host_takes_the_name_of_the_vaults_one_database_of_that_name(
    build: BuildServices, store: Any
) -> None:
    assert _items_told(build, store, _sql_job_named("SalesDB"), WORLD["protectedItems"]) == ["vm-sql-01 / salesdb"]


def test_a_database_job_that_names_no_host_keeps_its_name_when_two_hosts_have_that_database(
    build: BuildServices, store: Any
) -> None:
    items = copy.deepcopy(WORLD["protectedItems"])
    (vault,) = [v for v in items if v.casefold() == SQL_VAULT.casefold()]
    twin = copy.deepcopy(next(i for i in items[vault] if i["properties"].get("friendlyName") == "salesdb"))
    twin["name"] = "SQLDataBase;mssqlserver;salesdb2"
    twin["id"] = twin["id"].replace("salesdb", "salesdb2")
    twin["properties"]["serverName"] = "vm-sql-02.contoso.com"
    items[vault].append(twin)
    assert _items_told(build, store, _sql_job_named("salesdb"), items) == ["salesdb"]


def test_only_databases_of_the_jobs_workload_lend_their_name(build: BuildServices, store: Any) -> None:
    job = _sql_job_named("salesdb")
    job["properties"].update(backupManagementType="AzureWorkload", workloadType="SAPHanaDatabase")
    assert _items_told(build, store, job, WORLD["protectedItems"]) == ["salesdb"]
