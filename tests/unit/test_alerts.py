"""Reading built-in Backup alerts (common alert schema): what they say, and rejecting what they don't."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from backup_events.domain.model import Workload
from backup_events.errors import MalformedInputError
from backup_events.wire.alerts import MAX_ALERT_BYTES, parse_alert, read_body
from tests.conftest import load

SQL = "alert-sql-backup-failure.json"
VM = "alert-vm-backup-failure.json"


def test_sql_alert_names_the_database_on_its_vm_not_the_vault() -> None:
    alert = parse_alert(load(SQL))
    assert alert.item_name == "vm-sql-01 / salesdb"
    assert alert.vault_name == "rsv-prod-01"
    assert alert.workload is Workload.SQL
    assert alert.job_name == "88df0be3-7c77-46c9-bfc2-fb92e3b1918a"
    assert alert.is_job_failure and not alert.resolved
    assert alert.code_hints == ("usererrorparentfullbackupmissing",)
    assert alert.short_id == "632063ae-ef07-30d8-3908-fe306941000e"


def test_vm_alert_names_the_vm() -> None:
    alert = parse_alert(load(VM))
    assert (alert.item_name, alert.workload) == ("vm-app-02", Workload.AZURE_VM)


def test_security_alert_is_not_a_job_failure() -> None:
    alert = parse_alert(load("alert-security-soft-delete-disabled.json"))
    assert not alert.is_job_failure
    assert alert.rule == "Soft Delete Disabled"


def test_resolved_alert_is_recognised() -> None:
    assert parse_alert(load("alert-vm-backup-failure-resolved.json")).resolved


def mutated(path: list[str], value: Any, name: str = SQL) -> dict[str, Any]:
    payload = copy.deepcopy(load(name))
    node = payload
    for key in path[:-1]:
        node = node[key]
    if value is KeyError:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return payload


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (mutated(["schemaId"], "Microsoft.Insights/activityLogs"), "schemaId"),
        (mutated(["data"], KeyError), "data"),
        (mutated(["data", "essentials"], "x"), "data.essentials"),
        (mutated(["data", "essentials", "monitoringService"], "Platform"), "data.essentials.monitoringService"),
        (mutated(["data", "essentials", "alertTargetIDs"], []), "data.essentials.alertTargetIDs"),
        (
            mutated(
                ["data", "essentials", "alertTargetIDs"],
                ["/subscriptions/s/resourceGroups/r/providers/Microsoft.Compute/virtualMachines/vm"],
            ),
            "data.essentials.alertTargetIDs",
        ),
        (mutated(["data", "essentials", "alertId"], KeyError), "data.essentials.alertId"),
        (mutated(["data", "essentials", "monitorCondition"], None), "data.essentials.monitorCondition"),
        (mutated(["data", "essentials", "firedDateTime"], "last tuesday"), "data.essentials.firedDateTime"),
        (mutated(["data", "alertContext", "extendedInfo", "jobId"], "../../etc/passwd"), "data.alertContext.extendedInfo.jobId"),
        (mutated(["data", "alertContext", "extendedInfo", "jobId"], KeyError), "data.alertContext.extendedInfo.jobId"),
        (mutated(["data", "essentials", "description"], {"nested": "object"}), "data.essentials.description"),
        (mutated(["data", "essentials", "alertTargetIDs"], "not-a-list"), "data.essentials.alertTargetIDs"),
    ],
)
def test_malformed_alert_names_the_offending_field(payload: dict[str, Any], field: str) -> None:
    with pytest.raises(MalformedInputError) as caught:
        parse_alert(payload)
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"not json", "not JSON"),
        (b"\xff\xfe\x00", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b" " * (MAX_ALERT_BYTES + 1), "at most"),
    ],
)
def test_unreadable_bodies_are_rejected_with_the_reason(body: bytes, says: str) -> None:
    with pytest.raises(MalformedInputError, match=says):
        read_body(body)


def test_a_good_body_reads_back() -> None:
    assert read_body(json.dumps(load(SQL)).encode())["schemaId"] == "azureMonitorCommonAlertSchema"
