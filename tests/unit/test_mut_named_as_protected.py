"""A database job that names no host takes the name of the vault's one protected database of that name; a job that
already names its host, or that is not a database's, keeps its own name."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from backup_events.adapters.sample_jobs import bundled_jobs
from backup_events.app.record import named_as_protected
from backup_events.domain.exposure import ProtectedItem
from backup_events.domain.model import Workload
from backup_events.wire.jobs import normalise_job

VAULT = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.RecoveryServices/vaults/rsv"
JOB = normalise_job(bundled_jobs()[0])


def item(name: str, workload: Workload) -> ProtectedItem:
    return ProtectedItem(VAULT, name, workload, datetime(2026, 11, 25, tzinfo=UTC), "Daily", "Protected")


def test_a_database_job_naming_no_host_takes_its_protected_databases_name() -> None:
    job = replace(JOB, workload=Workload.SQL, item_name="msdb")
    assert named_as_protected(job, {"k": item("sqlvm1 / msdb", Workload.SQL)}).item_name == "sqlvm1 / msdb"


def test_a_database_job_that_names_its_host_keeps_its_name_even_when_an_instance_shares_the_hosts_name() -> None:
    job = replace(JOB, workload=Workload.SQL, item_name="sqlvm1 / sales")
    items = {"k": item("sqlvm2 / sqlvm1 / sales", Workload.SQL)}  # on sqlvm2, a SQL instance named sqlvm1
    assert named_as_protected(job, items).item_name == "sqlvm1 / sales"


def test_a_job_that_is_not_a_databases_keeps_its_name() -> None:
    job = replace(JOB, workload=Workload.AZURE_FILES, item_name="share1")
    items = {"k": item("stacct1 / share1", job.workload)}
    assert named_as_protected(job, items).item_name == "share1"
