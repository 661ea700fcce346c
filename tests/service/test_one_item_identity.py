"""The Timer and the alert path open the same incident for a database, with its recovery point and its route.

Built on the real "Backup Failure" alert (SQL in Azure VM). No recording holds that alert's job and protected item,
so both are written here in the live service's shapes (the forms the recorded corpus shows: ``db [host]`` in the
job, friendlyName/serverName/parentName in the item), with a guest host name that differs from the VM's resource
name, as the recorded HANA item does (serverName ``hxehost`` on VM ``akneema-hana-ccy``). Synthetic, and said so.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from backup_events.adapters.sample_jobs import SampleJobSource
from backup_events.app import alert_path, poll
from backup_events.app.services import EventEnvelope
from backup_events.domain.identity import incident_key
from backup_events.errors import SourceError
from tests import recorded
from tests.conftest import Clock
from tests.service.test_poll_jobs import emails_in, services

ALERT = recorded.document(recorded.REAL_ALERT)
CONTEXT = ALERT["data"]["alertContext"]
VAULT_ID = ALERT["data"]["essentials"]["alertTargetIDs"][0]
JOB_NAME = CONTEXT["extendedInfo"]["jobId"]
VM_ID = CONTEXT["linkedResourceId"]
ITEM_ID = CONTEXT["protectedItemId"]
FAILED_AT = datetime(2026, 3, 13, 11, 50, tzinfo=UTC)

JOB = {  # synthetic: the job the alert names, as the jobs API returns workload jobs
    "id": f"{VAULT_ID}/backupJobs/{JOB_NAME}",
    "name": JOB_NAME,
    "type": "Microsoft.RecoveryServices/vaults/backupJobs",
    "properties": {
        "jobType": "AzureWorkloadJob",
        "workloadType": "SQLDataBase",
        "entityFriendlyName": "Clara_migtotest_20260313 [sqlprod02.corp.contoso.com]",
        "backupManagementType": "AzureWorkload",
        "operation": "Backup (Log)",
        "status": "Failed",
        "startTime": "2026-03-13T11:45:02.1234567Z",
        "endTime": FAILED_AT.isoformat(),
        "duration": "PT4M58S",
        "errorDetails": [
            {"errorCode": 0, "errorTitle": "UserErrorParentFullBackupMissing", "errorString": "First full backup is missing."}
        ],
        "extendedInfo": {"tasksList": [], "propertyBag": {}},
    },
}
ITEM = {  # synthetic: its protected item, the guest host name differing from the VM's resource name
    "id": ITEM_ID,
    "name": ITEM_ID.rsplit("/", 1)[-1],
    "properties": {
        "protectedItemType": "AzureVmWorkloadSQLDatabase",
        "backupManagementType": "AzureWorkload",
        "workloadType": "SQLDataBase",
        "friendlyName": "Clara_migtotest_20260313",
        "serverName": "sqlprod02.corp.contoso.com",
        "parentName": "MSSQLSERVER",
        "sourceResourceId": VM_ID,
        "lastRecoveryPoint": "2026-03-12T23:00:00Z",
        "policyName": "HourlyLogBackup",
        "protectionState": "Protected",
    },
}
CANONICAL = "sqlprod02 / Clara_migtotest_20260313"


class AlertVault(SampleJobSource):
    """The alert's vault: its job, its protected item, a routing tag on the VM; the jobs API optionally down."""

    def __init__(self, *, jobs_api_down: bool = False) -> None:
        super().__init__(
            [JOB],
            protected_items={VAULT_ID: [ITEM]},
            policies={VAULT_ID: []},
            tags={VM_ID: {"backup-alerts-to": "dba@contoso.com"}},
        )
        self.jobs_api_down = jobs_api_down

    def job_details(self, job_id: str) -> Mapping[str, Any]:
        if self.jobs_api_down:
            raise SourceError("jobs API: HTTP 503")
        return super().job_details(job_id)


def run(path: str, table: Any, outbox: Path, clock: Clock) -> str:
    source = AlertVault(jobs_api_down=path == "alert, jobs API down")
    svc = services(table, outbox, clock, source=source).changed(
        route_tag="backup-alerts-to",
        route_tag_domains=("contoso.com",),
        vault_ids=(VAULT_ID,),
    )
    if path == "timer":
        poll.poll_jobs(svc)
    else:
        assert alert_path.handle_alert_event(svc, EventEnvelope("e1", "BackupEvents.AzureMonitorAlert.Fired", ALERT)) == "told"
    (message,) = emails_in(outbox)
    return (
        " ".join(str(message["Subject"]).split())
        + " | "
        + str(message["To"])
        + " | "
        + message.get_body(preferencelist=("plain",)).get_content()
    )  # type: ignore[union-attr]


def test_timer_alert_and_alert_without_jobs_api_open_one_incident_with_one_recovery_point_and_route(
    azurite: str, tmp_path: Path, clock: Clock
) -> None:
    from azure.data.tables import TableClient

    clock.now = datetime(2026, 3, 13, 12, 0, tzinfo=UTC)
    told = {}
    for n, path in enumerate(("timer", "alert", "alert, jobs API down")):
        table = TableClient.from_connection_string(azurite, table_name=f"identity{n}{tmp_path.name[-8:].replace('_', '')}")
        told[path] = run(path, table, tmp_path / str(n), clock)
        rows = list(table.query_entities("kind eq 'incident'"))
        incident = [row for row in rows if row["code"] != "BlindSpot"]
        assert [row["ledgerKey"] for row in incident] == [incident_key(VAULT_ID, CANONICAL, "UserErrorParentFullBackupMissing")]
        held = [(row["count"], row["openedEmail"]) for row in rows if row["code"] == "BlindSpot"]
        assert held == ([(1, "none")] if "down" in path else [])  # the jobs API failing once: counted, not yet told
        table.delete_table()
    for path, text in told.items():
        assert text.startswith(
            f"[Backup failed] {CANONICAL}: UserErrorParentFullBackupMissing | oncall@example.com, dba@contoso.com"
        ), path
        assert "Last good  : 2026-03-12 23:00 UTC" in text, path
