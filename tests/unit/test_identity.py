"""One item identity: a job, its protected item and its alert name a database the same way (real pairs)."""

from __future__ import annotations

import pytest

from backup_events.domain.identity import database_item, item_key, item_of_alert, item_of_job
from backup_events.domain.model import Workload
from backup_events.wire.alerts import parse_alert
from backup_events.wire.exported import vault_of
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
