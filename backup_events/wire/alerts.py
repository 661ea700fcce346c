"""Pure: Azure Monitor's built-in Backup alerts (common alert schema) read into plain values.

The built-in alert names the vault, not the VM, and carries no error-code field: the code hides lower-cased
at the end of ``originAlertId`` and in the ``https://aka.ms/AB-<code>`` link of ``recommendedActions``
(shared reference, alerts-and-event-grid.md §2). ``alertContext.extendedInfo.jobId`` is the job's name, so
the alert and the Timer meet on the same ledger key.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from backup_events.domain.identity import item_of_alert
from backup_events.domain.ids import parse_vault_id
from backup_events.domain.model import BackupJob, JobError, Workload
from backup_events.domain.remediation import Catalog
from backup_events.errors import MalformedInputError
from backup_events.wire.jobs import parse_time

SCHEMA_ID = "azureMonitorCommonAlertSchema"
MONITORING_SERVICE = "Azure Backup"
MAX_ALERT_BYTES = 256 * 1024  # the common alert schema's documented maximum
_AKA_CODE = re.compile(r"aka\.ms/AB-([A-Za-z][A-Za-z0-9]+)", re.IGNORECASE)
_WORKLOADS = {
    "azurevm": Workload.AZURE_VM,
    "vm": Workload.AZURE_VM,
    "iaasvm": Workload.AZURE_VM,
    "azurevmsql": Workload.SQL,
    "sqldatabase": Workload.SQL,
    "azurevmsaphana": Workload.SAP_HANA,
    "saphanadatabase": Workload.SAP_HANA,
    "saphanadbinstance": Workload.SAP_HANA,
    "azurevmsapase": Workload.SAP_ASE,
    "sapasedatabase": Workload.SAP_ASE,
    "azurefileshare": Workload.AZURE_FILES,
    "azurestorage": Workload.AZURE_FILES,
    "afs": Workload.AZURE_FILES,
    "mab": Workload.MARS,
    "filefolder": Workload.MARS,
    "dpm": Workload.DPM,
    "azurebackupserver": Workload.MABS,
}


@dataclass(frozen=True)
class BackupAlert:
    """One built-in Backup alert, as far as backup-events needs it."""

    alert_id: str
    rule: str
    category: str
    condition: str
    severity: str
    vault_id: str
    vault_name: str
    job_name: str | None
    item_name: str
    workload: Workload
    description: str
    recommended_actions: tuple[str, ...]
    code_hints: tuple[str, ...]
    origin_alert_id: str
    fired: str
    protected_item_id: str = ""

    @property
    def short_id(self) -> str:
        """The alert's GUID (last segment of its id)."""
        return self.alert_id.rstrip("/").rsplit("/", 1)[-1]

    @property
    def is_security(self) -> bool:
        """Security alerts (soft delete disabled, backup data deleted, …) can't be turned off in Azure."""
        return self.category.casefold() == "security"

    @property
    def is_job_failure(self) -> bool:
        """A fired alert about a job (Backup Failure, Restore Failure, …) that names the job."""
        return self.category.casefold() == "jobs" and self.job_name is not None

    @property
    def resolved(self) -> bool:
        return self.condition.casefold() == "resolved"


def read_body(body: bytes) -> Mapping[str, Any]:
    """The relay's first check: size and JSON. Raises ``MalformedInputError`` saying which."""
    if len(body) > MAX_ALERT_BYTES:
        raise MalformedInputError(f"body is {len(body)} bytes; a common-schema alert is at most {MAX_ALERT_BYTES}")
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedInputError(f"body is not JSON: {exc}") from None
    if not isinstance(payload, Mapping):
        raise MalformedInputError("body is not a JSON object")
    return payload


def _text(mapping: Mapping[str, Any], key: str, field: str, *, required: bool = True) -> str:
    value = mapping.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise MalformedInputError(f"missing {field}", field=field)
        return ""
    if not isinstance(value, (str, int, float)):
        raise MalformedInputError(f"{field} is not text", field=field)
    return str(value).strip()


def _object(mapping: Mapping[str, Any], key: str, field: str) -> Mapping[str, Any]:
    value = mapping.get(key)
    if not isinstance(value, Mapping):
        raise MalformedInputError(f"missing {field}", field=field)
    return value


def _optional_object(mapping: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = mapping.get(key)
    return value if isinstance(value, Mapping) else {}


def _workload(context: Mapping[str, Any]) -> Workload:
    for key in ("formattedSourceType", "sourceType"):
        if workload := _WORKLOADS.get(str(context.get(key) or "").casefold()):
            return workload
    return Workload.UNKNOWN


def parse_alert(payload: Mapping[str, Any]) -> BackupAlert:
    """Read a common-schema Azure Backup alert; ``MalformedInputError`` names the first missing field."""
    if payload.get("schemaId") != SCHEMA_ID:
        raise MalformedInputError(
            f"not a common-schema alert (schemaId {payload.get('schemaId')!r}, expected {SCHEMA_ID!r}); "
            "turn on the common alert schema in the action group",
            field="schemaId",
        )
    data = _object(payload, "data", "data")
    essentials = _object(data, "essentials", "data.essentials")
    service = _text(essentials, "monitoringService", "data.essentials.monitoringService")
    if service != MONITORING_SERVICE:
        raise MalformedInputError(
            f"not an Azure Backup alert (monitoringService {service!r})", field="data.essentials.monitoringService"
        )
    context = _optional_object(data, "alertContext")
    extended = _optional_object(context, "extendedInfo")
    targets = essentials.get("alertTargetIDs")
    if not isinstance(targets, list) or not targets or not isinstance(targets[0], str):
        raise MalformedInputError("missing the vault id", field="data.essentials.alertTargetIDs")
    try:
        vault = parse_vault_id(targets[0])
    except MalformedInputError:
        raise MalformedInputError(
            f"alert target {targets[0]!r} is not a Recovery Services vault", field="data.essentials.alertTargetIDs"
        ) from None
    actions = str(extended.get("recommendedActions") or "").strip()
    origin = _text(essentials, "originAlertId", "data.essentials.originAlertId", required=False)
    job_name = str(extended.get("jobId") or "").strip() or None
    if job_name is not None and not re.fullmatch(r"[A-Za-z0-9-]{1,100}", job_name):
        raise MalformedInputError("jobId is not a job name", field="data.alertContext.extendedInfo.jobId")
    if job_name is None and str(context.get("category") or "").casefold() == "jobs":
        raise MalformedInputError("a job alert without its jobId", field="data.alertContext.extendedInfo.jobId")
    workload = _workload(context)
    fired = _text(essentials, "firedDateTime", "data.essentials.firedDateTime", required=False)
    parse_time(fired, "data.essentials.firedDateTime")
    return BackupAlert(
        alert_id=_text(essentials, "alertId", "data.essentials.alertId"),
        rule=_text(essentials, "alertRule", "data.essentials.alertRule", required=False) or "Backup alert",
        category=str(context.get("category") or ("Jobs" if job_name else "Unknown")),
        condition=_text(essentials, "monitorCondition", "data.essentials.monitorCondition"),
        severity=_text(essentials, "severity", "data.essentials.severity", required=False),
        vault_id=vault["vault_id"],
        vault_name=vault["vault_name"],
        job_name=job_name,
        item_name=item_of_alert(context, workload, vault["vault_name"]),
        workload=workload,
        description=_text(essentials, "description", "data.essentials.description", required=False),
        recommended_actions=(actions,) if actions else (),
        code_hints=tuple(_AKA_CODE.findall(actions)),
        origin_alert_id=origin,
        fired=fired,
        protected_item_id=str(context.get("protectedItemId") or "").strip(),
    )


def job_from_alert(alert: BackupAlert, *, code: str | None, note: str) -> BackupJob:
    """A ``BackupJob`` built from the alert alone, for when the jobs API can't be read."""
    vault = parse_vault_id(alert.vault_id)
    return BackupJob(
        job_id=f"{alert.vault_id}/backupJobs/{alert.job_name or alert.short_id}",
        job_name=alert.job_name or alert.short_id,
        vault_id=alert.vault_id,
        vault_name=alert.vault_name,
        subscription_id=vault["subscription_id"],
        resource_group=vault["resource_group"],
        item_name=alert.item_name,
        workload=alert.workload,
        job_type="(from alert)",
        known_job_type=True,
        operation=alert.rule.replace(" Failure", ""),
        status="Failed",
        start=parse_time(alert.fired, "data.essentials.firedDateTime"),
        end=None,
        duration=None,
        errors=(JobError(code=code, number=None, message=alert.description, recommendations=alert.recommended_actions),),
        source="Azure Monitor alert",
        notes=(note,),
    )


def error_code(alert: BackupAlert, catalog: Catalog) -> str | None:
    """The code an alert carries only indirectly: its aka.ms/AB-<code> link, else the tail of ``originAlertId``."""
    hints = [*alert.code_hints, *catalog.codes_in(alert.origin_alert_id)]
    return catalog.canonical_code(hints[0]) if hints else None


def unwrap_event(document: Any) -> Any:
    """The alert inside an Event Grid event, a CloudEvent, or an array of either; other documents as they are."""
    if isinstance(document, list) and document and _is_envelope(document[0]):
        document = document[0]
    return document["data"] if _is_envelope(document) else document


def _is_envelope(document: Any) -> bool:
    return isinstance(document, Mapping) and "data" in document and ("specversion" in document or "eventType" in document)
