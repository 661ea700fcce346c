"""Pure: a ``JobResource`` as the jobs API returns it becomes a ``BackupJob``.

A Backup vault's job (``Microsoft.DataProtection``) is read by ``wire/dataprotection.py``, through the same entry.

The wire differs from the spec in ways that matter here (seen in the live service's recordings, tests/data/recorded/):
durations come as ISO 8601 or as .NET TimeSpans, ids as ``/Subscriptions/`` or ``/subscriptions/``,
and list items lack ``extendedInfo``.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from backup_events.domain.identity import item_of_job
from backup_events.domain.ids import is_backup_vault, parse_crr_job_id, parse_vault_id
from backup_events.domain.model import BackupJob, JobError, Phase, Task, Workload
from backup_events.errors import MalformedInputError

KNOWN_JOB_TYPES = frozenset(
    {
        "AzureIaaSVMJob",
        "AzureIaaSVMJobV2",
        "AzureStorageJob",
        "AzureStorageJobV2",
        "AzureWorkloadJob",
        "AzureWorkloadJobV2",
        "DpmJob",
        "MabJob",
        "VaultJob",
    }
)

# .NET TimeSpan ``[-][d.]hh:mm:ss[.fffffff]``, and Python's timedelta as ``az -o json`` prints it:
# ``0:00:29.718011``, ``1 day, 2:03:04.500000``, ``-1 day, 23:55:39.110958`` (days carry the sign).
_TIMESPAN = re.compile(r"^(?P<sign>-)?(?:(?P<d>\d+)\.)?(?P<h>\d{1,2}):(?P<m>\d{2}):(?P<s>\d{2})(?:\.(?P<f>\d{1,7}))?$")
_PY_TIMEDELTA = re.compile(r"^(?P<d>-?\d+) days?, (?P<h>\d{1,2}):(?P<m>\d{2}):(?P<s>\d{2})(?:\.(?P<f>\d{1,6}))?$")
_ISO_DURATION = re.compile(
    r"^(?P<sign>-)?P(?:(?P<d>\d+(?:\.\d+)?)D)?(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)
_LOOKS_LIKE_CODE = re.compile(r"^[A-Za-z][A-Za-z0-9]+$")
_WORKLOAD_BY_TYPE = {
    "sqldatabase": Workload.SQL,
    "sqldb": Workload.SQL,
    "sqlinstance": Workload.SQL,
    "saphanadatabase": Workload.SAP_HANA,
    "saphanadbinstance": Workload.SAP_HANA,
    "sapasedatabase": Workload.SAP_ASE,
}


def parse_duration(value: Any) -> timedelta | None:
    """Read a .NET TimeSpan (``00:20:23.0896697``, ``1.02:03:04``), Python's timedelta text or ISO 8601.

    Negative durations are real (``-PT4M20.8890416S`` on InProgress jobs) and come back negative.
    """
    if value is None or value == "":
        return None
    if isinstance(value, timedelta):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return timedelta(seconds=value)
    text = str(value).strip()
    if match := _TIMESPAN.match(text):
        fraction = (match["f"] or "0").ljust(7, "0")
        span = timedelta(
            days=int(match["d"] or 0),
            hours=int(match["h"]),
            minutes=int(match["m"]),
            seconds=int(match["s"]),
            microseconds=int(fraction) // 10,
        )
        return -span if match["sign"] else span
    if match := _PY_TIMEDELTA.match(text):
        return timedelta(
            days=int(match["d"]),
            hours=int(match["h"]),
            minutes=int(match["m"]),
            seconds=int(match["s"]),
            microseconds=int((match["f"] or "0").ljust(6, "0")),
        )
    if (match := _ISO_DURATION.match(text)) and text.lstrip("-") not in ("P", "PT"):
        span = timedelta(
            days=float(match["d"] or 0),
            hours=float(match["h"] or 0),
            minutes=float(match["m"] or 0),
            seconds=float(match["s"] or 0),
        )
        return -span if match["sign"] else span
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
    if job_type in ("AzureStorageJob", "AzureStorageJobV2") or management == "azurestorage":
        return Workload.AZURE_FILES
    if job_type in ("AzureWorkloadJob", "AzureWorkloadJobV2") or management == "azureworkload":
        workload_type = str(properties.get("workloadType") or "").casefold()
        return _WORKLOAD_BY_TYPE.get(workload_type, Workload.SQL if "sql" in workload_type else Workload.UNKNOWN)
    if job_type == "MabJob" or management == "mab":
        return Workload.MARS
    if job_type == "DpmJob" or management in ("dpm", "azurebackupserver"):
        return Workload.MABS if management == "azurebackupserver" else Workload.DPM
    if job_type == "VaultJob":
        return Workload.VAULT
    return Workload.UNKNOWN


def errors_of(properties: Mapping[str, Any], notes: list[str] | None = None) -> tuple[JobError, ...]:
    """Every error of the job. ``errorCode`` is an integer on the wire; a string code hides in ``errorTitle``.

    An entry that is not an object is left out, with a note; the job's other errors still count.
    """
    errors = []
    raw_errors = properties.get("errorDetails") or []
    for index, raw in enumerate(raw_errors if isinstance(raw_errors, list) else [raw_errors]):
        if not isinstance(raw, Mapping):
            _note(notes, f"properties.errorDetails[{index}] is not an error object; left out")
            continue
        title = str(raw.get("errorTitle") or "").strip()
        number = raw.get("errorCode")
        code: str | None = title if _LOOKS_LIKE_CODE.match(title) else None
        if isinstance(number, str) and not number.strip().lstrip("-").isdigit():
            code, number = code or (number.strip() if _LOOKS_LIKE_CODE.match(number.strip()) else None), None
        recommendations = tuple(textwrap.dedent(str(r)).strip() for r in _listed(raw.get("recommendations")) if str(r).strip())
        errors.append(
            JobError(
                code=code,
                # 0 is what the service sends when there is no code.
                number=_number(number),
                message=str(raw.get("errorString") or "").strip(),
                recommendations=recommendations,
            )
        )
    return tuple(errors)


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value] if isinstance(value, str) else []


def _number(value: Any) -> int | None:
    if isinstance(value, bool) or value in (None, "", 0, "0"):
        return None
    if isinstance(value, int):
        return value
    text = str(value).strip()
    return int(text) if text.lstrip("-").isdigit() and len(text) <= 20 else None


def _note(notes: list[str] | None, text: str) -> None:
    if notes is not None:
        notes.append(text)


def tasks_of(properties: Mapping[str, Any]) -> tuple[Task, ...]:
    """The job's tasks in order (``Take Snapshot``, ``Transfer data to vault``, ``Transfer data from vault``, …)."""
    extended = properties.get("extendedInfo")
    raw_tasks = (extended.get("tasksList") if isinstance(extended, Mapping) else None) or []
    return tuple(
        Task(name=str(t.get("taskId") or t.get("taskName") or "").strip(), status=str(t.get("status") or "").strip())
        for t in (raw_tasks if isinstance(raw_tasks, list) else [])
        if isinstance(t, Mapping)
    )


def failing_phase_of(tasks: tuple[Task, ...]) -> Phase | None:
    """The first failed task, when it is one of the phases the catalog knows."""
    task = failed_task(tasks)
    if task is None:
        return None
    return next((p for p in (Phase.TAKE_SNAPSHOT, Phase.TRANSFER) if task.name.casefold() == p.value.casefold()), None)


def failed_task(tasks: tuple[Task, ...]) -> Task | None:
    """The first task marked Failed, whatever its name."""
    return next((t for t in tasks if t.status.casefold() == "failed"), None)


def unfinished_task(tasks: tuple[Task, ...]) -> Task | None:
    """The first task not done when the job ended (a snapshot still InProgress when a VM job failed)."""
    done = ("completed", "completedwithwarnings", "succeeded", "skipped")
    return next((t for t in tasks if t.name and t.status.casefold() not in done), None)


def normalise_job(job: Mapping[str, Any]) -> BackupJob:
    """Turn one ``JobResource`` (list item or details) into a ``BackupJob``.

    Raises ``MalformedInputError`` naming the field only when the input is not a job at all (no id of a job, no
    status). A field that is there but unreadable (a duration, a time, an error entry) becomes unknown, with a
    note saying which: a job is never dropped for it.
    """
    if not isinstance(job, Mapping):
        raise MalformedInputError("a job must be a JSON object")
    properties = job.get("properties")
    if not isinstance(properties, Mapping):
        raise MalformedInputError("not a backup job: no properties object", field="properties")
    job_id = job.get("id")
    if not isinstance(job_id, str) or not job_id:
        raise MalformedInputError("not a backup job: no id", field="id")
    notes: list[str] = []
    if is_backup_vault(job_id):  # a Backup vault's job: its own flat shape (wire/dataprotection.py)
        from backup_events.wire.dataprotection import normalise_backup_vault_job  # noqa: PLC0415 - it reads times with this module

        return normalise_backup_vault_job(
            job,
            properties,
            start=_lenient(parse_time, properties.get("startTime"), "properties.startTime", notes),
            end=_lenient(parse_time, properties.get("endTime"), "properties.endTime", notes),
            duration=_lenient(lambda v, _: parse_duration(v), properties.get("duration"), "properties.duration", notes),
            notes=notes,
        )
    parts = _job_parts(job_id, properties, notes)
    job_name = str(job.get("name") or parts["job_name"])
    if not job_name or not parts["job_name"]:
        raise MalformedInputError("the id is a vault's, not a backup job's", field="id")
    status = properties.get("status")
    if not isinstance(status, str) or not status:
        raise MalformedInputError("not a backup job: no status", field="properties.status")

    job_type = str(properties.get("jobType") or "")
    known = job_type in KNOWN_JOB_TYPES
    if not known:
        notes.append(f"Unknown job type {job_type or '(missing)'!r}: reported with what could be read.")
    workload = workload_of(properties)
    tasks = tasks_of(properties)
    extended = properties.get("extendedInfo")
    detail = str((extended.get("dynamicErrorMessage") if isinstance(extended, Mapping) else None) or "").strip()
    return BackupJob(
        job_id=job_id,
        job_name=job_name,
        vault_id=parts["vault_id"],
        vault_name=parts["vault_name"],
        subscription_id=parts["subscription_id"],
        resource_group=parts["resource_group"],
        item_name=item_of_job(properties, workload),
        workload=workload,
        job_type=job_type or "(missing)",
        known_job_type=known,
        operation=str(properties.get("operation") or ""),
        status=status,
        start=_lenient(parse_time, properties.get("startTime"), "properties.startTime", notes),
        end=_lenient(parse_time, properties.get("endTime"), "properties.endTime", notes),
        duration=_lenient(lambda v, _: parse_duration(v), properties.get("duration"), "properties.duration", notes),
        errors=errors_of(properties, notes) or ((JobError(code=None, number=None, message=detail),) if detail else ()),
        detail=detail,
        tasks=tasks,
        failing_phase=failing_phase_of(tasks),
        notes=tuple(notes),
    )


def vault_of_job(job: Mapping[str, Any]) -> str | None:
    """The vault id a job belongs to (a cross-region restore job's from its property bag); None if not a job's id."""
    properties = job.get("properties")
    try:
        return _job_parts(str(job.get("id") or ""), properties if isinstance(properties, Mapping) else {}, [])["vault_id"]
    except MalformedInputError:
        return None


def _job_parts(job_id: str, properties: Mapping[str, Any], notes: list[str]) -> dict[str, str]:
    """The vault and job of a job id; for a cross-region restore job, the vault its property bag names."""
    crr = parse_crr_job_id(job_id)
    if crr is None:
        return parse_vault_id(job_id)
    extended = properties.get("extendedInfo")
    bag = (extended.get("propertyBag") if isinstance(extended, Mapping) else None) or {}
    # The id's subscription is the vault's (cross-region jobs are listed per subscription); the bag repeats it.
    subscription = crr["subscription_id"]
    group = str(bag.get("Resource Group Name of the vault") or "")
    vault = str(bag.get("Vault name") or "")
    if not group or not vault:
        group, vault = "unknown", f"cross-region-{crr['location']}"
        notes.append(f"Cross-region restore job in {crr['location']}: its vault is not named in the job.")
    vault_id = f"/subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.RecoveryServices/vaults/{vault}"
    return {**parse_vault_id(vault_id), "job_name": crr["job_name"]}


_T = TypeVar("_T")


def _lenient(read: Callable[[Any, str], _T | None], value: Any, field: str, notes: list[str]) -> _T | None:
    """``read(value)``, or None with a note when the field is unreadable."""
    try:
        return read(value, field)
    except MalformedInputError:
        notes.append(f"{field} {str(value)[:80]!r} could not be read; shown as unknown.")
        return None
