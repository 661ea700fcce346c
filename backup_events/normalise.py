"""Pure: a ``JobResource`` as the jobs API returns it becomes a ``BackupJob``.

The wire differs from the spec in ways that matter here (see shared reference, backup-jobs-api.md §8):
durations come as ISO 8601 or as .NET TimeSpans, ids as ``/Subscriptions/`` or ``/subscriptions/``,
and list items lack ``extendedInfo``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from backup_events.errors import MalformedInputError
from backup_events.model import BackupJob, JobError, Phase, Task, Workload

KNOWN_JOB_TYPES = frozenset(
    {
        "AzureIaaSVMJob",
        "AzureIaaSVMJobV2",
        "AzureStorageJob",
        "AzureWorkloadJob",
        "DpmJob",
        "MabJob",
        "VaultJob",
    }
)

_JOB_ID = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)/resourcegroups/(?P<rg>[^/]+)"
    r"/providers/microsoft\.recoveryservices/vaults/(?P<vault>[^/]+)"
    r"(?:/backupjobs/(?P<job>[^/]+))?/?$",
    re.IGNORECASE,
)
_TIMESPAN = re.compile(r"^(?:(?P<d>\d+)\.)?(?P<h>\d{1,2}):(?P<m>\d{2}):(?P<s>\d{2})(?:\.(?P<f>\d{1,7}))?$")
_ISO_DURATION = re.compile(
    r"^P(?:(?P<d>\d+(?:\.\d+)?)D)?(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)
_LOOKS_LIKE_CODE = re.compile(r"^[A-Za-z][A-Za-z0-9]+$")
_SQL_ITEM = re.compile(r"^(?P<instance>[^/\[]+)/(?P<db>[^\[]+?)\s*\[(?P<host>[^\]]+)\]$")

_WORKLOAD_BY_TYPE = {
    "sqldatabase": Workload.SQL,
    "sqldb": Workload.SQL,
    "sqlinstance": Workload.SQL,
    "saphanadatabase": Workload.SAP_HANA,
    "saphanadbinstance": Workload.SAP_HANA,
    "sapasedatabase": Workload.SAP_ASE,
}


def parse_vault_id(resource_id: str) -> dict[str, str]:
    """Split a vault or job ARM id into subscription, resource group, vault and job name.

    Matching is case-insensitive because both ``/Subscriptions/`` and ``/subscriptions/`` occur.
    """
    match = _JOB_ID.match(resource_id.strip())
    if not match:
        raise MalformedInputError(f"not a Recovery Services vault or backup job id: {resource_id!r}", field="id")
    vault_id = resource_id.strip()[: match.end("vault")]
    return {
        "subscription_id": match["sub"],
        "resource_group": match["rg"],
        "vault_name": match["vault"],
        "vault_id": vault_id,
        "job_name": match["job"] or "",
    }


def same_resource(a: str, b: str) -> bool:
    """ARM ids are case-insensitive; compare them so."""
    return a.rstrip("/").casefold() == b.rstrip("/").casefold()


def parse_duration(value: Any) -> timedelta | None:
    """Read a .NET TimeSpan (``00:20:23.0896697``, ``1.02:03:04``) or an ISO 8601 duration."""
    if value is None or value == "":
        return None
    if isinstance(value, timedelta):
        return value
    if isinstance(value, (int, float)):
        return timedelta(seconds=value)
    text = str(value).strip()
    if match := _TIMESPAN.match(text):
        fraction = (match["f"] or "0").ljust(7, "0")
        return timedelta(
            days=int(match["d"] or 0),
            hours=int(match["h"]),
            minutes=int(match["m"]),
            seconds=int(match["s"]),
            microseconds=int(fraction) // 10,
        )
    if (match := _ISO_DURATION.match(text)) and text not in ("P", "PT"):
        return timedelta(
            days=float(match["d"] or 0),
            hours=float(match["h"] or 0),
            minutes=float(match["m"] or 0),
            seconds=float(match["s"] or 0),
        )
    raise MalformedInputError(f"unreadable duration {text!r}", field="properties.duration")


def parse_time(value: Any, field: str) -> datetime | None:
    """Read an ISO 8601 timestamp (7 fractional digits allowed) as an aware UTC datetime."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    text = str(value).strip()
    # Python 3.11 reads at most 6 fractional digits; the service sends 7.
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise MalformedInputError(f"unreadable time {value!r}", field=field) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def workload_of(properties: Mapping[str, Any]) -> Workload:
    """Name the workload from the job type, its workload type and management type."""
    job_type = str(properties.get("jobType") or "")
    management = str(properties.get("backupManagementType") or "").casefold()
    if job_type in ("AzureIaaSVMJob", "AzureIaaSVMJobV2") or management == "azureiaasvm":
        return Workload.AZURE_VM
    if job_type == "AzureStorageJob" or management == "azurestorage":
        return Workload.AZURE_FILES
    if job_type == "AzureWorkloadJob" or management == "azureworkload":
        workload_type = str(properties.get("workloadType") or "").casefold()
        return _WORKLOAD_BY_TYPE.get(workload_type, Workload.SQL if "sql" in workload_type else Workload.UNKNOWN)
    if job_type == "MabJob" or management == "mab":
        return Workload.MARS
    if job_type == "DpmJob" or management in ("dpm", "azurebackupserver"):
        return Workload.MABS if management == "azurebackupserver" else Workload.DPM
    if job_type == "VaultJob":
        return Workload.VAULT
    return Workload.UNKNOWN


def item_name_of(properties: Mapping[str, Any], workload: Workload) -> str:
    """The thing that failed (VM, database, share, server), never the vault.

    SQL and HANA items read ``MSSQLSERVER/salesdb [vm-sql-01.contoso.com]``; on-call staff know them as
    ``vm-sql-01 / salesdb``.
    """
    bag = (properties.get("extendedInfo") or {}).get("propertyBag") or {}
    name = str(properties.get("entityFriendlyName") or bag.get("VM Name") or bag.get("File Share Name") or "")
    if workload in (Workload.SQL, Workload.SAP_HANA, Workload.SAP_ASE) and (match := _SQL_ITEM.match(name)):
        host = match["host"].split(".")[0]
        return f"{host} / {match['db'].strip()}"
    if not name:
        server = properties.get("mabServerName") or properties.get("dpmServerName")
        name = str(server or "")
    return name or "(unnamed item)"


def errors_of(properties: Mapping[str, Any]) -> tuple[JobError, ...]:
    """Every error of the job. ``errorCode`` is an integer on the wire; a string code hides in ``errorTitle``."""
    errors = []
    for index, raw in enumerate(properties.get("errorDetails") or []):
        if not isinstance(raw, Mapping):
            raise MalformedInputError("error entry is not an object", field=f"properties.errorDetails[{index}]")
        title = str(raw.get("errorTitle") or "").strip()
        number = raw.get("errorCode")
        code: str | None = title if _LOOKS_LIKE_CODE.match(title) else None
        if isinstance(number, str) and not number.lstrip("-").isdigit():
            code, number = code or number, None
        recommendations = tuple(str(r) for r in raw.get("recommendations") or [] if str(r).strip())
        message = str(raw.get("errorString") or (properties.get("extendedInfo") or {}).get("dynamicErrorMessage") or "")
        errors.append(
            JobError(
                code=code,
                # 0 is what the service sends when there is no code.
                number=int(number) if number not in (None, "", 0, "0") else None,
                message=message.strip(),
                recommendations=recommendations,
            )
        )
    if not errors and (dynamic := (properties.get("extendedInfo") or {}).get("dynamicErrorMessage")):
        errors.append(JobError(code=None, number=None, message=str(dynamic).strip()))
    return tuple(errors)


def tasks_of(properties: Mapping[str, Any]) -> tuple[Task, ...]:
    """The job's tasks in order (``Take Snapshot``, ``Transfer data to vault``)."""
    raw_tasks = (properties.get("extendedInfo") or {}).get("tasksList") or []
    return tuple(
        Task(name=str(t.get("taskId") or t.get("taskName") or ""), status=str(t.get("status") or ""))
        for t in raw_tasks
        if isinstance(t, Mapping)
    )


def failing_phase_of(tasks: tuple[Task, ...]) -> Phase | None:
    """The first failed task, when it is one of the phases we know."""
    for task in tasks:
        if task.status.casefold() == "failed":
            for phase in (Phase.TAKE_SNAPSHOT, Phase.TRANSFER):
                if task.name.casefold() == phase.value.casefold():
                    return phase
            return None
    return None


def normalise_job(job: Mapping[str, Any]) -> BackupJob:
    """Turn one ``JobResource`` (list item or details) into a ``BackupJob``.

    Raises ``MalformedInputError`` naming the field when the input is not a job.
    """
    if not isinstance(job, Mapping):
        raise MalformedInputError("a job must be a JSON object")
    properties = job.get("properties")
    if not isinstance(properties, Mapping):
        raise MalformedInputError("not a backup job: no properties object", field="properties")
    job_id = job.get("id")
    if not isinstance(job_id, str) or not job_id:
        raise MalformedInputError("not a backup job: no id", field="id")
    parts = parse_vault_id(job_id)
    job_name = str(job.get("name") or parts["job_name"])
    if not job_name or not parts["job_name"]:
        raise MalformedInputError("the id is a vault's, not a backup job's", field="id")
    status = properties.get("status")
    if not isinstance(status, str) or not status:
        raise MalformedInputError("not a backup job: no status", field="properties.status")

    job_type = str(properties.get("jobType") or "")
    known = job_type in KNOWN_JOB_TYPES
    workload = workload_of(properties)
    tasks = tasks_of(properties)
    notes = () if known else (f"Unknown job type {job_type or '(missing)'!r}: reported with what could be read.",)
    return BackupJob(
        job_id=job_id,
        job_name=job_name,
        vault_id=parts["vault_id"],
        vault_name=parts["vault_name"],
        subscription_id=parts["subscription_id"],
        resource_group=parts["resource_group"],
        item_name=item_name_of(properties, workload),
        workload=workload,
        job_type=job_type or "(missing)",
        known_job_type=known,
        operation=str(properties.get("operation") or ""),
        status=status,
        start=parse_time(properties.get("startTime"), "properties.startTime"),
        end=parse_time(properties.get("endTime"), "properties.endTime"),
        duration=parse_duration(properties.get("duration")),
        errors=errors_of(properties),
        tasks=tasks,
        failing_phase=failing_phase_of(tasks),
        notes=notes,
    )
