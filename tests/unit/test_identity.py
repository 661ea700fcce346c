"""One item identity: a job, its protected item and its alert name a database the same way (real pairs)."""

from __future__ import annotations

from typing import Any

import pytest

from backup_events.domain.identity import (
    database_item,
    incident_key,
    item_key,
    item_of_alert,
    item_of_job,
    item_of_protected_item,
)
from backup_events.domain.ids import same_resource, vault_of
from backup_events.domain.model import Workload
from backup_events.wire.alerts import parse_alert
from backup_events.wire.items import protected_item_of
from backup_events.wire.jobs import normalise_job
from tests import recorded

# (job, protected item) recorded in the same cassette: they must meet on one item key.
REAL_PAIRS = [
    (recorded.HANA_RESTORE_FAILED, recorded.HANA_ITEM, "hxehost / SYSTEMDB"),  # SYSTEMDB [hxehost] / systemdb on hxehost
    (recorded.SQL_RESTORE_AS_FILES_FAILED, recorded.SQL_RESTORE_AS_FILES_ITEM, "iaassqlext-win / navigate-testdb2"),
    (recorded.SQL_BACKUP_COMPLETED, recorded.SQL_ITEM_OF_BACKUP, "sarathvm / msdb"),
    (
        "jobs/azcli--test_backup_wl_hana_protection--f32ce38-i110.json",
        "items/azcli--test_backup_wl_hana_protection--f32ce38-i137.json",
        "HANADemoIDC3 / H22",
    ),
    (
        "jobs/azcli--test_backup_wl_sql_crr--35422a1-i047.json",
        "items/azcli--test_backup_wl_sql_crr--35422a1-i002.json",
        "sql-clitest-vm / msdb",
    ),
    (
        "jobs/azcli--test_afs_backup_restore--6f656e1-i074.json",
        "items/azcli--test_afs_backup_restore--6f656e1-i044.json",
        "clitest-item000008",
    ),
]


@pytest.mark.parametrize(("job_file", "item_file", "name"), REAL_PAIRS)
def test_a_recorded_job_and_its_protected_item_meet_on_one_item(job_file: str, item_file: str, name: str) -> None:
    job = normalise_job(recorded.one(job_file))
    raw = recorded.one(item_file)
    item = protected_item_of(raw, vault_of(raw["id"]) or "")
    assert job.item_name == name
    assert item_key(job.vault_id, job.item_name) == item_key(item.vault_id, item.item)


@pytest.mark.parametrize(
    ("entity", "workload", "name"),
    [
        ("SYSTEMDB [hxehost]", Workload.SAP_HANA, "hxehost / SYSTEMDB"),
        ("H22/H22 [HANADemoIDC3]", Workload.SAP_HANA, "HANADemoIDC3 / H22"),  # a HANA job names no SID we can match
        ("navigate-testdb2 [iaassqlext-win]", Workload.SQL, "iaassqlext-win / navigate-testdb2"),
        ("MSSQLSERVER/msDB [sqlserver-0.contoso.com]", Workload.SQL, "sqlserver-0 / msDB"),  # the spec's sample
        ("SQL2019/sales [vm-sql-01.contoso.com]", Workload.SQL, "vm-sql-01 / SQL2019 / sales"),  # a named instance is kept
        ("ab4;asetestdb1 [ase-ccy-vm5]", Workload.SAP_ASE, "ase-ccy-vm5 / ab4 / asetestdb1"),  # an ASE SID is kept
        ("msdb", Workload.SQL, "msdb"),  # no host: resolved against the vault's protected items (service)
        ("clitest-vm000003", Workload.AZURE_VM, "clitest-vm000003"),
    ],
)
def test_job_names_of_every_recorded_form_become_canonical(entity: str, workload: Workload, name: str) -> None:
    assert item_of_job({"entityFriendlyName": entity}, workload) == name


def test_protected_item_keeps_a_named_instance_and_an_ase_sid_like_the_job() -> None:
    assert database_item(Workload.SQL, "vm-sql-01.contoso.com", "sales", "SQL2019") == "vm-sql-01 / SQL2019 / sales"
    assert database_item(Workload.SQL, "sarathvm", "msdb", "MSSQLSERVER") == "sarathvm / msdb"
    assert database_item(Workload.SAP_ASE, "ase-ccy-vm5", "asetestdb1", "ab4") == "ase-ccy-vm5 / ab4 / asetestdb1"
    assert database_item(Workload.SAP_HANA, "hxehost", "systemdb", "HXE") == "hxehost / systemdb"


def test_the_real_alert_names_the_database_on_its_vm_not_the_vault() -> None:
    alert = parse_alert(recorded.document(recorded.REAL_ALERT))
    assert alert.item_name == "vm-sql-prod-02 / Clara_migtotest_20260313"
    assert alert.protected_item_id.endswith("/protectedItems/SQLDataBase;MSSQLSERVER;Clara_migtotest_20260313")
    ase = {"linkedResourceName": "ase-ccy-vm5", "protectedItemId": ".../protectedItems/SAPAseDatabase;ab4;asetestdb1"}
    assert item_of_alert(ase, Workload.SAP_ASE, "vault") == "ase-ccy-vm5 / ab4 / asetestdb1"


@pytest.mark.parametrize(
    ("properties", "workload", "item"),
    [
        ({"extendedInfo": {"propertyBag": {"VM Name": "vm-from-bag"}}}, Workload.AZURE_VM, "vm-from-bag"),
        ({"extendedInfo": {"propertyBag": {"File Share Name": "share-1"}}}, Workload.AZURE_FILES, "share-1"),
        ({"dpmServerName": "dpm-01"}, Workload.DPM, "dpm-01"),
        ({"mabServerName": "mabs-01", "dpmServerName": "dpm-01"}, Workload.DPM, "mabs-01"),
        ({}, Workload.AZURE_VM, "(unnamed item)"),
        ({"entityFriendlyName": "salesdb [sql-01.contoso.com.internal]"}, Workload.SQL, "sql-01 / salesdb"),
    ],
    ids=["VM from the property bag", "share from the property bag", "DPM server", "MABS server first", "no name", "host"],
)
def test_a_job_names_its_item_from_whichever_field_carries_it(properties: dict[str, Any], workload: Workload, item: str) -> None:
    assert item_of_job(properties, workload) == item


@pytest.mark.parametrize(
    ("properties", "arm_name", "workload", "item"),
    [
        ({}, "VM;iaasvmcontainerv2;rg-app;vm-app-02", Workload.AZURE_VM, "vm-app-02"),
        ({"friendlyName": "salesdb"}, "SQLDataBase;mssqlserver;salesdb", Workload.SQL, "salesdb"),
        ({"friendlyName": "salesdb", "serverName": "sql-01.contoso.com"}, "x", Workload.SQL, "sql-01 / salesdb"),
        ({"friendlyName": "db1", "serverName": "ase-vm", "parentName": "AB4"}, "x", Workload.SAP_ASE, "ase-vm / AB4 / db1"),
        ({"friendlyName": "vm-app-02", "serverName": "vm-app-02"}, "x", Workload.AZURE_VM, "vm-app-02"),
    ],
    ids=["VM from its ARM name", "database without a server", "database", "ASE SID kept", "VM with a server name"],
)
def test_a_protected_item_is_named_as_its_jobs_name_it(
    properties: dict[str, Any], arm_name: str, workload: Workload, item: str
) -> None:
    assert item_of_protected_item(properties, arm_name, workload) == item


@pytest.mark.parametrize(
    ("context", "workload", "item"),
    [
        (
            {"sourceId": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm-9/"},
            Workload.AZURE_VM,
            "vm-9",
        ),
        (
            {"protectedItemId": "/x/protectedItems/SAPAseDatabase;ab4;db1", "linkedResourceName": "ase-vm"},
            Workload.SAP_ASE,
            "ase-vm / ab4 / db1",
        ),
        (
            {"protectedItemId": "/x/protectedItems/SQLDataBase;salesdb", "linkedResourceName": "sql-01"},
            Workload.SQL,
            "sql-01 / salesdb",
        ),
        ({"protectedItemId": "/x/protectedItems/SQLDataBase;mssqlserver;salesdb"}, Workload.SQL, "salesdb"),
        ({}, Workload.AZURE_VM, "rsv-1"),
    ],
    ids=["VM from its source id", "ASE SID", "database of two parts", "database without a host", "nothing: the vault"],
)
def test_an_alert_names_its_item_from_the_alert_alone(context: dict[str, Any], workload: Workload, item: str) -> None:
    assert item_of_alert(context, workload, "rsv-1") == item


def test_a_database_name_keeps_no_qualifier_unless_given_one() -> None:
    assert database_item(Workload.SAP_ASE, "ase-vm", "db1") == "ase-vm / db1"


VAULT_ID = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.RecoveryServices/vaults/v1"
STORED_VAULT = VAULT_ID.casefold()


def test_keys_are_stable_across_releases_so_stored_incidents_are_found_again() -> None:
    assert item_key(VAULT_ID, "vm-1") == "8c245aaf8db825d82ff2ccfea98ec444"
    assert incident_key(VAULT_ID, "vm-1", "Code") == f"{STORED_VAULT}|inc-6698640cb7880f66633c9a1d4d6932e6dd45584a"
    assert incident_key(VAULT_ID, "vm-1", "Code", job="J1") == f"{STORED_VAULT}|inc-4c96aa8f12d1bb7aa1259cc4b596c378150cb772"


def test_keys_ignore_the_case_and_a_trailing_slash_of_the_vault_id() -> None:
    assert item_key(VAULT_ID.upper() + "/", "VM-1") == item_key(VAULT_ID, "vm-1")
    assert incident_key(VAULT_ID.upper() + "/", "VM-1", "CODE") == incident_key(VAULT_ID, "vm-1", "Code")
    assert same_resource(VAULT_ID + "/", VAULT_ID.upper()) and same_resource(VAULT_ID, VAULT_ID.upper() + "/")
