"""Pure: a Backup vault's job (``AzureBackupJobResource``) and backup instance, as Microsoft.DataProtection sends them.

Backup vaults hold Azure Disks, Blobs, Data Lake Storage, PostgreSQL, MySQL and AKS backups. Their jobs are one flat
shape for every workload (shared reference, backup-vaults.md §1), unlike the Recovery Services job types:

* the item is the datasource: ``dataSourceName``, with ``dataSourceSetName`` in front when it tells two apart
  (a PostgreSQL server's databases: ``server / db``); ``dataSourceType`` (an ARM type) names the workload;
* ``operationCategory`` says ``CrossRegionRestore`` where ``operation`` says ``Restore``;
* ``errorDetails[]`` carry a string ``code``, ``message``, ``recommendedAction[]``, ``isRetryable``,
  ``isUserError``, nested ``details[]`` (the same error again, then an ``InternalServerError`` leaf) and
  ``innerError.additionalInfo.DetailedNonLocalisedMessage``: Azure's concrete detail;
* ``extendedInfo.subTasks[]`` (``Trigger Backup``, ``Trigger Restore``) on a single-job GET and Resource Graph rows only;
* ``duration`` is ISO 8601 on a GET and a .NET TimeSpan in lists and Resource Graph rows.

A Resource Graph row (``RecoveryServicesResources``, type lower-cased, ``tenantId``/``resourceGroup`` on top) keeps
the same ``properties`` and reads the same way.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from backup_events.domain.exposure import ProtectedItem
from backup_events.domain.ids import parse_vault_id
from backup_events.domain.model import BackupJob, JobError, Task, Workload
from backup_events.errors import MalformedInputError

JOB_TYPE = "AzureBackupJob"
"""What a Backup vault job is called where a Recovery Services job names its ``jobType`` (the SDK model's name)."""

_WORKLOAD_BY_DATASOURCE = {
    "microsoft.compute/disks": Workload.AZURE_DISK,
    "microsoft.storage/storageaccounts/blobservices": Workload.AZURE_BLOBS,
    "microsoft.storage/storageaccounts/adlsblobservices": Workload.ADLS,
    "microsoft.dbforpostgresql/servers/databases": Workload.POSTGRESQL,
    "microsoft.dbforpostgresql/flexibleservers": Workload.POSTGRESQL_FLEX,
    "microsoft.dbformysql/flexibleservers": Workload.MYSQL_FLEX,
    "microsoft.containerservice/managedclusters": Workload.AKS,
}
_MAX_DEPTH = 8  # nested details[] are two or three deep in every recording; a bound keeps a hostile body cheap


def workload_of_datasource(datasource_type: Any) -> Workload:
    """The workload of a ``dataSourceType`` (``Microsoft.Compute/disks`` → Azure Disk), case-insensitively."""
    return _WORKLOAD_BY_DATASOURCE.get(str(datasource_type or "").strip().casefold(), Workload.UNKNOWN)


def datasource_item(name: Any, set_name: Any) -> str:
    """``set / name`` when the set tells two datasources apart (a server's databases), else the datasource's name."""
    name, set_name = str(name or "").strip(), str(set_name or "").strip()
    if set_name and name and set_name.casefold() != name.casefold():
        return f"{set_name} / {name}"
    return name or set_name or "(unnamed datasource)"


def operation_of(properties: Mapping[str, Any]) -> str:
    """``CrossRegionRestore`` when the category says so (``operation`` says only ``Restore``), else the operation."""
    category = str(properties.get("operationCategory") or "").strip()
    operation = str(properties.get("operation") or "").strip()
    if category.casefold() == "crossregionrestore" or not operation:
        return category
    return operation


def _flag(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _walk(raw: Mapping[str, Any], depth: int = 0) -> Iterator[Mapping[str, Any]]:
    """An error and every error nested in its ``details[]``, depth first."""
    yield raw
    details = raw.get("details")
    if depth < _MAX_DEPTH and isinstance(details, list):
        for nested in details:
            if isinstance(nested, Mapping):
                yield from _walk(nested, depth + 1)


def errors_of(properties: Mapping[str, Any], notes: list[str] | None = None) -> tuple[JobError, ...]:
    """Every distinct error of the job, outermost first: each ``errorDetails`` entry, then what its ``details`` add.

    Nested entries repeat their parent (same code and message) and end in a generic ``InternalServerError``; the
    repeats are dropped, and the generic leaf is kept only when it is all there is.
    """
    raw_errors = properties.get("errorDetails") or []
    found: list[JobError] = []
    for index, raw in enumerate(raw_errors if isinstance(raw_errors, list) else [raw_errors]):
        if not isinstance(raw, Mapping):
            if notes is not None:
                notes.append(f"properties.errorDetails[{index}] is not an error object; left out")
            continue
        for entry in _walk(raw):
            code = str(entry.get("code") or "").strip() or None
            inner = entry.get("innerError")
            inner_code = str((inner.get("code") if isinstance(inner, Mapping) else None) or "").strip() or None
            error = JobError(
                code=code,
                number=None,
                message=" ".join(str(entry.get("message") or "").split()),
                recommendations=tuple(
                    " ".join(str(r).split()) for r in _listed(entry.get("recommendedAction")) if str(r).strip()
                ),
                retryable=_flag(entry.get("isRetryable")),
                user_error=_flag(entry.get("isUserError")),
                inner_code=inner_code,
            )
            if any((e.code or "").casefold() == (code or "").casefold() and e.message == error.message for e in found):
                continue
            found.append(error)
    generic = [e for e in found if (e.code or "").casefold() == "internalservererror"]
    return tuple(e for e in found if e not in generic or len(generic) == len(found))


def detail_of(properties: Mapping[str, Any]) -> str:
    """Azure's concrete detail: the first ``innerError.additionalInfo.DetailedNonLocalisedMessage`` of the errors."""
    raw_errors = properties.get("errorDetails") or []
    for raw in raw_errors if isinstance(raw_errors, list) else []:
        if not isinstance(raw, Mapping):
            continue
        for entry in _walk(raw):
            inner = entry.get("innerError")
            info = inner.get("additionalInfo") if isinstance(inner, Mapping) else None
            text = str((info.get("DetailedNonLocalisedMessage") if isinstance(info, Mapping) else None) or "").strip()
            if text:
                return _without_headers(text)
    return ""


def _without_headers(text: str) -> str:
    """The detail without the HTTP response headers some carry (``x-ms-request-id: …``, 20 lines of ``REDACTED``)."""
    body = text.replace("\r\n", "\n").split("\nHeaders:", 1)[0]
    return "\n".join(line.rstrip() for line in body.splitlines() if line.strip())


def _object(properties: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = properties.get(key)
    return value if isinstance(value, Mapping) else {}


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value] if isinstance(value, str) else []


def tasks_of(properties: Mapping[str, Any]) -> tuple[Task, ...]:
    """``extendedInfo.subTasks`` in order (``Trigger Backup``, ``Trigger Restore``, …); none on a list item."""
    extended = properties.get("extendedInfo")
    raw_tasks = (extended.get("subTasks") if isinstance(extended, Mapping) else None) or []
    return tuple(
        Task(name=str(t.get("taskName") or t.get("taskId") or "").strip(), status=str(t.get("taskStatus") or "").strip())
        for t in (raw_tasks if isinstance(raw_tasks, list) else [])
        if isinstance(t, Mapping)
    )


def normalise_backup_vault_job(
    job: Mapping[str, Any], properties: Mapping[str, Any], *, start: Any, end: Any, duration: Any, notes: list[str]
) -> BackupJob:
    """One Backup vault job (list item, GET or Resource Graph row) as a ``BackupJob``; times already read by the caller."""
    job_id = str(job["id"])
    parts = parse_vault_id(job_id)
    if not parts["job_name"]:
        raise MalformedInputError("the id is a vault's, not a backup job's", field="id")
    status = properties.get("status")
    if not isinstance(status, str) or not status:
        raise MalformedInputError("not a backup job: no status", field="properties.status")
    workload = workload_of_datasource(properties.get("dataSourceType"))
    if workload is Workload.UNKNOWN:
        notes.append(f"Unknown datasource type {properties.get('dataSourceType') or '(missing)'!r}: told as it reads.")
    tasks = tasks_of(properties)
    return BackupJob(
        job_id=job_id,
        job_name=str(job.get("name") or parts["job_name"]),
        vault_id=parts["vault_id"],
        vault_name=parts["vault_name"],
        subscription_id=parts["subscription_id"],
        resource_group=parts["resource_group"],
        item_name=datasource_item(properties.get("dataSourceName"), properties.get("dataSourceSetName")),
        workload=workload,
        job_type=JOB_TYPE,
        known_job_type=True,
        operation=operation_of(properties),
        status=status,
        start=start,
        end=end,
        duration=duration,
        errors=errors_of(properties, notes),
        detail=detail_of(properties),
        tasks=tasks,
        failing_phase=None,
        notes=tuple(notes),
    )


def backup_instance_of(raw: Mapping[str, Any], vault_id: str, *, last_recovery_point: Any) -> ProtectedItem:
    """One ``BackupInstanceResource`` as a protected item: named as its jobs name it, so incidents meet it.

    A backup instance carries no last recovery point; the jobs source joins the newest of its recovery points
    (``latestRecoveryPoint``), read by the caller into ``last_recovery_point``.
    """
    properties = raw.get("properties")
    if not isinstance(properties, Mapping):
        raise MalformedInputError("not a backup instance: no properties object", field="properties")
    source, source_set, policy, status = (
        _object(properties, k) for k in ("dataSourceInfo", "dataSourceSetInfo", "policyInfo", "protectionStatus")
    )
    return ProtectedItem(
        vault_id=vault_id,
        item=datasource_item(source.get("resourceName") or properties.get("friendlyName"), source_set.get("resourceName")),
        workload=workload_of_datasource(source.get("datasourceType")),
        last_recovery_point=last_recovery_point,
        policy_name=str(policy.get("policyId") or "").rstrip("/").rsplit("/", 1)[-1],
        protection_state=str(properties.get("currentProtectionState") or status.get("status") or ""),
        source_resource_id=str(source.get("resourceID") or ""),
        item_id=str(raw.get("id") or ""),
    )
