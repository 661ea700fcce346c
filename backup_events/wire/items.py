"""Pure: a ``ProtectedItemResource`` as the Recovery Services API (or ``az backup item list``) returns it, read;
a Backup vault's backup instance through ``wire/dataprotection.py``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from backup_events.domain.exposure import ProtectedItem
from backup_events.domain.identity import item_of_protected_item
from backup_events.domain.ids import is_backup_vault
from backup_events.wire.dataprotection import backup_instance_of
from backup_events.wire.jobs import parse_time, workload_of


def protected_item_of(raw: Mapping[str, Any], vault_id: str) -> ProtectedItem:
    """One ``ProtectedItemResource`` (wire JSON), or a Backup vault's ``BackupInstanceResource``, as a value."""
    if is_backup_vault(vault_id):
        latest = raw.get("latestRecoveryPoint")
        point = (latest.get("properties") or {}) if isinstance(latest, Mapping) else {}
        when = parse_time(point.get("recoveryPointTime"), "latestRecoveryPoint.properties.recoveryPointTime")
        return backup_instance_of(raw, vault_id, last_recovery_point=when)
    properties = raw.get("properties") or {}
    item_type = str(properties.get("protectedItemType") or "")
    job_like = {
        "jobType": {"AzureFileShareProtectedItem": "AzureStorageJob", "MabFileFolderProtectedItem": "MabJob"}.get(item_type, ""),
        "backupManagementType": properties.get("backupManagementType"),
        "workloadType": properties.get("workloadType"),
    }
    workload = workload_of(job_like)
    return ProtectedItem(
        vault_id=vault_id,
        item=item_of_protected_item(properties, str(raw.get("name") or ""), workload),
        workload=workload,
        last_recovery_point=parse_time(properties.get("lastRecoveryPoint"), "properties.lastRecoveryPoint"),
        policy_name=str(properties.get("policyName") or str(properties.get("policyId") or "").rsplit("/", 1)[-1]),
        protection_state=str(properties.get("protectionState") or ""),
        source_resource_id=str(properties.get("sourceResourceId") or ""),
        item_id=str(raw.get("id") or ""),
    )
