"""Pure: Azure Monitor's built-in Backup alerts (common alert schema) read into plain values.

The built-in alert names the vault, not the VM, and carries no error-code field: the code hides lower-cased
at the end of ``originAlertId`` and in the ``https://aka.ms/AB-<code>`` link of ``recommendedActions``
(the common alert schema: https://learn.microsoft.com/azure/azure-monitor/alerts/alerts-common-schema).
``alertContext.extendedInfo.jobId`` is the job's name, so the alert and the Timer meet on the same ledger key.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
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
MAX_DEPTH = 64  # a common-schema alert nests about six deep; anything past this is not an alert
MAX_NUMBER_DIGITS = 100
CONDITIONS = ("Fired", "Resolved")
_GUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_ALERT_ID = re.compile(rf"/subscriptions/{_GUID}/providers/Microsoft\.AlertsManagement/alerts/{_GUID}", re.IGNORECASE)
# Azure's naming rules: a vault is 2-50 letters, digits and hyphens starting with a letter; a resource group is
# 1-90 letters or digits (Unicode ones too), periods, underscores, hyphens and parentheses, not ending in a period.
_VAULT_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]{1,49}")
_GROUP_PUNCTUATION = frozenset("._-()")
_LETTER_OR_DIGIT = frozenset({"Lu", "Ll", "Lt", "Lm", "Lo", "Nd"})  # .NET's Char.IsLetterOrDigit, which Azure applies
_SURROGATE = re.compile(r"[\ud800-\udfff]")  # json.loads pairs good surrogate escapes; what remains is a lone one
_STRUCTURE = re.compile(r'["\\\[\]{}]')  # what the nesting scan needs to see: quotes, backslashes, brackets
_MAX_INT = 10**MAX_NUMBER_DIGITS
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
    """The relay's first check: size, JSON, and JSON's limits. Raises ``MalformedInputError`` saying which.

    The limits (``check_document``) are enforced while parsing: nesting is measured on the text before the parser
    recurses, and a number too long to be an alert's is refused before Python converts it.
    """
    if len(body) > MAX_ALERT_BYTES:
        raise MalformedInputError(f"body is {len(body)} bytes; a common-schema alert is at most {MAX_ALERT_BYTES}")
    try:
        text = body.decode(json.detect_encoding(body))
        _check_nesting(text)
        payload = json.loads(text, parse_constant=_refuse_constant, parse_int=_parse_int, parse_float=_parse_float)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedInputError(f"body is not JSON: {exc}") from None
    except RecursionError:  # not reached after _check_nesting; kept so deep input can never become a 500
        raise MalformedInputError(f"JSON nested deeper than {MAX_DEPTH} levels") from None
    if not isinstance(payload, Mapping):
        raise MalformedInputError("body is not a JSON object")
    check_document(payload)
    return payload


def check_document(document: Any) -> None:
    """JSON's limits on an already parsed document (the Event Grid trigger's data; the relay's body once more).

    Refused: nesting deeper than ``MAX_DEPTH``; integers longer than ``MAX_NUMBER_DIGITS`` digits; NaN and the
    infinities; strings (keys too) holding a lone UTF-16 surrogate, which no UTF-8 writer can encode.
    """
    stack: list[tuple[Any, int]] = [(document, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, str):
            if _SURROGATE.search(node):
                raise MalformedInputError("a lone UTF-16 surrogate in a JSON string")
        elif isinstance(node, bool):
            continue
        elif isinstance(node, int):
            if abs(node) >= _MAX_INT:
                raise MalformedInputError(f"a JSON integer longer than {MAX_NUMBER_DIGITS} digits")
        elif isinstance(node, float):
            if not math.isfinite(node):
                raise MalformedInputError("NaN and Infinity are not JSON numbers")
        elif isinstance(node, (Mapping, list, tuple)):
            if depth > MAX_DEPTH:
                raise MalformedInputError(f"JSON nested deeper than {MAX_DEPTH} levels")
            if isinstance(node, Mapping):
                stack.extend((key, depth) for key in node)
                stack.extend((value, depth + 1) for value in node.values())
            else:
                stack.extend((value, depth + 1) for value in node)


def _check_nesting(text: str) -> None:
    """Refuse JSON text nested deeper than ``MAX_DEPTH``, in one linear pass that skips over strings.

    Until the first syntax error the scan sees the text as the parser does, so the parser never recurses deeper.
    """
    depth = 0
    in_string = False
    escaped = -1  # the position of the character after a backslash inside a string
    for match in _STRUCTURE.finditer(text):
        char, at = match.group(), match.start()
        if in_string:
            if at == escaped:
                continue
            if char == "\\":
                escaped = at + 1
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise MalformedInputError(f"JSON nested deeper than {MAX_DEPTH} levels")
        elif char in "]}":
            depth -= 1


def _refuse_constant(literal: str) -> Any:
    raise MalformedInputError(f"{literal} is not a JSON number")  # literal is one of NaN, Infinity, -Infinity


def _parse_int(literal: str) -> int:
    if len(literal.lstrip("-")) > MAX_NUMBER_DIGITS:
        raise MalformedInputError(f"a JSON integer longer than {MAX_NUMBER_DIGITS} digits")
    return int(literal)


def _parse_float(literal: str) -> float:
    if sum(c.isdigit() for c in literal) > MAX_NUMBER_DIGITS:
        raise MalformedInputError(f"a JSON number longer than {MAX_NUMBER_DIGITS} digits")
    value = float(literal)
    if not math.isfinite(value):
        raise MalformedInputError("a JSON number out of range")
    return value


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
    if value is None:
        raise MalformedInputError(f"missing {field}", field=field)
    if not isinstance(value, Mapping):
        raise MalformedInputError(f"{field} is not an object", field=field)
    return value


def _alert_id(essentials: Mapping[str, Any]) -> str:
    field = "data.essentials.alertId"
    alert_id = _text(essentials, "alertId", field)
    if not _ALERT_ID.fullmatch(alert_id):
        raise MalformedInputError(
            "alertId is not /subscriptions/<guid>/providers/Microsoft.AlertsManagement/alerts/<guid>", field=field
        )
    return alert_id


def _condition(essentials: Mapping[str, Any]) -> str:
    field = "data.essentials.monitorCondition"
    condition = _text(essentials, "monitorCondition", field)
    for known in CONDITIONS:
        if condition.casefold() == known.casefold():
            return known
    raise MalformedInputError("monitorCondition is neither Fired nor Resolved", field=field)


def _vault(targets: Any) -> dict[str, str]:
    field = "data.essentials.alertTargetIDs"
    if not isinstance(targets, list) or not targets or not isinstance(targets[0], str):
        raise MalformedInputError("missing the vault id", field=field)
    try:
        vault = parse_vault_id(targets[0])
    except MalformedInputError:
        raise MalformedInputError(
            f"alert target {targets[0]!r} is not a Recovery Services vault or Backup vault", field=field
        ) from None
    group = vault["resource_group"]
    if not (len(group) <= 90 and not group.endswith(".") and all(_group_character(c) for c in group)):
        raise MalformedInputError("the vault's resource group name breaks Azure's naming rules", field=field)
    if not _VAULT_NAME.fullmatch(vault["vault_name"]):
        raise MalformedInputError("the vault name breaks Azure's naming rules", field=field)
    return vault


def _group_character(char: str) -> bool:
    return char in _GROUP_PUNCTUATION or unicodedata.category(char) in _LETTER_OR_DIGIT


def _optional_object(mapping: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = mapping.get(key)
    return value if isinstance(value, Mapping) else {}


def _workload(context: Mapping[str, Any]) -> Workload:
    for key in ("formattedSourceType", "sourceType"):
        if workload := _WORKLOADS.get(str(context.get(key) or "").casefold()):
            return workload
    return Workload.UNKNOWN


def parse_alert(payload: Mapping[str, Any]) -> BackupAlert:
    """Read a common-schema Azure Backup alert; ``MalformedInputError`` names the first missing field.

    JSON's limits (``check_document``) are checked first, so the Event Grid trigger refuses what the relay refuses.
    """
    check_document(payload)
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
    alert_id = _alert_id(essentials)
    condition = _condition(essentials)
    context = _object(data, "alertContext", "data.alertContext")
    extended = _optional_object(context, "extendedInfo")
    vault = _vault(essentials.get("alertTargetIDs"))
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
        alert_id=alert_id,
        rule=_text(essentials, "alertRule", "data.essentials.alertRule", required=False) or "Backup alert",
        category=str(context.get("category") or ("Jobs" if job_name else "Unknown")),
        condition=condition,
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
