"""A stand-in for Azure Resource Manager's Recovery Services read endpoints, over loopback HTTPS.

Speaks the documented shapes (Microsoft Learn: https://learn.microsoft.com/azure/backup/backup-azure-arm-userestapi-managejobs):

* ``GET /subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.RecoveryServices/vaults/{vault}/backupJobs``
  (``BackupJobs_List``): ``$filter`` parsed strictly, pages of ``page_size`` with an absolute ``nextLink`` to this
  server carrying ``$skiptoken`` (and, like the real one, a stale ``api-version`` the SDK must replace);
  list items lose ``extendedInfo``.
* ``GET …/backupJobs/{jobName}`` (``JobDetails_Get``): the stored job as given.
* ``GET /subscriptions/{sub}/providers/Microsoft.RecoveryServices/vaults``: vault discovery.
* ``GET …/vaults/{vault}/backupProtectedItems`` (paged) and ``GET …/vaults/{vault}/backupPolicies/{name}``: the
  protected items (last recovery point) and their policies (schedule), for exposure and missed backups.

And the Backup vault (``Microsoft.DataProtection``) read endpoints, at the api-version azure-mgmt-dataprotection
2.2.0 sends (``DATAPROTECTION_API_VERSION``):

* ``GET …/providers/Microsoft.DataProtection/backupVaults/{vault}/backupJobs`` (``Jobs_List``, no ``$filter`` in the
  REST API: one given is recorded in :attr:`ArmStandIn.dp_filters_seen` and ignored, as ARM ignores unknown query
  parameters), paged, list items with ``extendedInfo: null`` as the live service sends them;
  ``…/backupJobs/{jobId}`` (``Jobs_Get``) as stored;
* ``…/backupInstances`` (paged), ``…/backupInstances/{name}/recoveryPoints`` (paged; ``$filter`` in the CLI's
  grammar ``startDate eq '<ISO>' and endDate eq '<ISO>'``, parsed strictly), ``…/backupPolicies/{name}``;
* ``GET /subscriptions/{sub}/providers/Microsoft.DataProtection/backupVaults``: discovery.

Checks what ARM checks (bearer token, api-version); paths match case-insensitively. Fault injection per vault:
:meth:`ArmStandIn.throttle` (429 + Retry-After) and :meth:`ArmStandIn.fail`; :attr:`ArmStandIn.vault_requests` counts
requests per vault name (lower-case).
"""

from __future__ import annotations

import copy
import re
import threading
import urllib.parse
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tests.loopback.tls import LoopbackHttpsServer, Request, Response, json_response

JOBS_API_VERSION = "2026-10-01"
"""What azure-mgmt-recoveryservicesbackup 11.2.0 sends."""
VAULTS_API_VERSION = "2026-11-01"
"""What azure-mgmt-recoveryservices 4.3.0 sends for vault listing."""
STALE_NEXTLINK_API_VERSION = "2017-07-01"
"""The real service repeats an old api-version in ``nextLink``; the SDK replaces it with its own."""

_JOB_ID = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)/resourcegroups/(?P<rg>[^/]+)/providers/microsoft\.recoveryservices"
    r"/vaults/(?P<vault>[^/]+)/backupjobs/(?P<job>[^/]+)$",
    re.IGNORECASE,
)
_VAULT_ID = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)/resourcegroups/(?P<rg>[^/]+)/providers/microsoft\.recoveryservices"
    r"/vaults/(?P<vault>[^/]+)$",
    re.IGNORECASE,
)
_JOBS_PATH = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)/resourcegroups/(?P<rg>[^/]+)/providers/microsoft\.recoveryservices"
    r"/vaults/(?P<vault>[^/]+)/backupjobs(?:/(?P<job>[^/]+))?/?$",
    re.IGNORECASE,
)
_ITEMS_PATH = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)/resourcegroups/(?P<rg>[^/]+)/providers/microsoft\.recoveryservices"
    r"/vaults/(?P<vault>[^/]+)/(?:(?P<items>backupprotecteditems)|backuppolicies/(?P<policy>[^/]+))/?$",
    re.IGNORECASE,
)
_TAGS_PATH = re.compile(r"^(?P<resource>/subscriptions/.+)/providers/microsoft\.resources/tags/default/?$", re.IGNORECASE)
_VAULTS_PATH = re.compile(r"^/subscriptions/(?P<sub>[^/]+)/providers/microsoft\.recoveryservices/vaults/?$", re.IGNORECASE)

DATAPROTECTION_API_VERSION = "2026-06-01"
"""What azure-mgmt-dataprotection 2.2.0 sends."""
_DP = (
    r"^/subscriptions/(?P<sub>[^/]+)/resourcegroups/(?P<rg>[^/]+)"
    r"/providers/microsoft\.dataprotection/backupvaults/(?P<vault>[^/]+)"
)
_DP_VAULT_ID = re.compile(_DP + r"/?$", re.IGNORECASE)
_DP_JOB_ID = re.compile(_DP + r"/backupjobs/(?P<job>[^/]+)/?$", re.IGNORECASE)
_DP_PATH = re.compile(
    _DP + r"/(?:backupjobs(?:/(?P<job>[^/]+))?|(?P<instances>backupinstances)(?:/(?P<instance>[^/]+)/recoverypoints)?"
    r"|backuppolicies/(?P<policy>[^/]+))/?$",
    re.IGNORECASE,
)
_DP_VAULTS_PATH = re.compile(r"^/subscriptions/(?P<sub>[^/]+)/providers/microsoft\.dataprotection/backupvaults/?$", re.IGNORECASE)
_RP_FILTER = re.compile(r"^startDate eq '(?P<start>[^']+)' and endDate eq '(?P<end>[^']+)'$")

FILTER_FIELDS = ("status", "backupManagementType", "operation", "jobId", "startTime", "endTime")
STATUS_VALUES = ("Invalid", "InProgress", "Completed", "Failed", "CompletedWithWarnings", "Cancelled", "Cancelling")
MANAGEMENT_TYPES = (
    "Invalid",
    "AzureIaasVM",
    "MAB",
    "DPM",
    "AzureBackupServer",
    "AzureSql",
    "AzureStorage",
    "AzureWorkload",
    "DefaultBackup",
)
OPERATIONS = (
    "Invalid",
    "Register",
    "UnRegister",
    "ConfigureBackup",
    "Backup",
    "Restore",
    "DisableBackup",
    "DeleteBackupData",
    "CrossRegionRestore",
    "Undelete",
    "UpdateCustomerManagedKey",
)
_CLAUSE = re.compile(r"(?P<field>[A-Za-z]+) eq '(?P<value>[^']*)'")
# 'yyyy-MM-dd hh:mm:ss tt': 12-hour clock 01-12. Microsoft's own spec example writes midnight as "00:00:00 AM",
# so 00 is accepted with AM only (unconfirmed whether the service accepts it; the SDK never needs it).
_FILTER_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) (AM|PM)$")


class FilterError(ValueError):
    """A malformed ``$filter``; the message names the problem."""


def parse_filter_date(text: str, field: str) -> datetime:
    match = _FILTER_DATE.match(text)
    if not match:
        raise FilterError(f"{field} '{text}' is not in the format 'yyyy-MM-dd hh:mm:ss tt' (e.g. 2026-11-20 01:05:00 PM)")
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    meridiem = match.group(7)
    if hour > 12 or (hour == 0 and meridiem == "PM"):
        raise FilterError(f"{field} '{text}' has hour {hour:02d} {meridiem}: hours are 12-hour (01-12) with AM/PM")
    hour24 = hour % 12 + (12 if meridiem == "PM" else 0)
    try:
        return datetime(year, month, day, hour24, minute, second, tzinfo=UTC)
    except ValueError as exc:
        raise FilterError(f"{field} '{text}' is not a valid date: {exc}") from None


def parse_filter(text: str) -> dict[str, str]:
    """``<field> eq '<value>'`` clauses joined by `` and ``; anything else is an error."""
    if not text:
        raise FilterError("$filter is empty")
    clauses: dict[str, str] = {}
    position = 0
    while True:
        match = _CLAUSE.match(text, position)
        if not match:
            raise FilterError(f"expected <field> eq '<value>' at offset {position}: {text[position : position + 40]!r}")
        field, value = match.group("field"), match.group("value")
        if field not in FILTER_FIELDS:
            raise FilterError(f"unknown filter field '{field}'; supported: {', '.join(FILTER_FIELDS)}")
        if field in clauses:
            raise FilterError(f"filter field '{field}' given twice")
        clauses[field] = value
        position = match.end()
        if position == len(text):
            break
        if not text.startswith(" and ", position):
            raise FilterError(f"expected ' and ' at offset {position}: {text[position : position + 40]!r}")
        position += len(" and ")
    for field, allowed in (("status", STATUS_VALUES), ("backupManagementType", MANAGEMENT_TYPES), ("operation", OPERATIONS)):
        if field in clauses and clauses[field] not in allowed:
            raise FilterError(f"{field} '{clauses[field]}' is not one of {', '.join(allowed)}")
    return clauses


def _job_start(job: dict[str, Any]) -> datetime | None:
    raw = job.get("properties", {}).get("startTime")
    if not isinstance(raw, str):
        return None
    match = re.match(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})?$", raw)
    if not match:
        return None
    fraction = (match.group(2) or "0")[:6].ljust(6, "0")
    zone = match.group(3) or "Z"
    parsed = datetime.fromisoformat(f"{match.group(1)}.{fraction}{'+00:00' if zone == 'Z' else zone}")
    return parsed.astimezone(UTC)


def _iso(text: str) -> datetime | None:
    """An ISO 8601 UTC time with up to 7 fractional digits, as the service writes them."""
    try:
        return datetime.fromisoformat(re.sub(r"(\.\d{6})\d+", r"\1", text).replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None


def arm_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return json_response(status, {"error": {"code": code, "message": message}}, headers)


@dataclass
class _Fault:
    remaining: int | None  # None = forever
    status: int
    retry_after: float | None = None
    code: str = "InternalServerError"
    message: str = "Injected failure: the server had an error."


class ArmStandIn(LoopbackHttpsServer):
    """Recovery Services read endpoints of ARM. Thread-safe; configure before or during a test."""

    def __init__(
        self,
        *,
        token: str = "arm-test-token",
        page_size: int = 2,
        jobs_api_version: str = JOBS_API_VERSION,
        vaults_api_version: str = VAULTS_API_VERSION,
    ) -> None:
        super().__init__()
        self.token = token
        self.page_size = page_size
        self.jobs_api_version = jobs_api_version
        self.vaults_api_version = vaults_api_version
        self.vault_requests: Counter[str] = Counter()
        self.filters_seen: list[str] = []
        self._state = threading.Lock()
        # vault key (sub, rg, vault) lower-case -> jobs in insertion order
        self._jobs: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
        # subscription lower-case -> vault key -> vault JSON
        self._vaults: dict[str, dict[tuple[str, str, str], dict[str, Any]]] = {}
        self._faults: dict[str, list[_Fault]] = {}
        self._items: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
        self._policies: dict[tuple[str, str, str, str], dict[str, Any]] = {}
        self._tags: dict[str, dict[str, str]] = {}
        self.dataprotection_api_version = DATAPROTECTION_API_VERSION
        self.dp_filters_seen: list[str] = []
        self._dp_vaults: dict[str, dict[tuple[str, str, str], dict[str, Any]]] = {}
        self._dp_jobs: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
        self._dp_instances: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
        self._dp_points: dict[tuple[str, str, str, str], list[dict[str, Any]]] = {}
        self._dp_policies: dict[tuple[str, str, str, str], dict[str, Any]] = {}

    # ---- store -------------------------------------------------------------------------------------------------

    def add_vault(self, vault_id: str, *, location: str = "westeurope") -> dict[str, Any]:
        match = _VAULT_ID.match(vault_id)
        if not match:
            raise ValueError(f"not a Recovery Services vault id: {vault_id}")
        key = (match["sub"].lower(), match["rg"].lower(), match["vault"].lower())
        vault = {
            "id": vault_id,
            "name": match["vault"],
            "type": "Microsoft.RecoveryServices/vaults",
            "location": location,
        }
        with self._state:
            self._vaults.setdefault(key[0], {})[key] = vault
            self._jobs.setdefault(key, [])
        return vault

    def add_job(self, job_json: dict[str, Any]) -> None:
        """Store a job exactly as given; its vault comes from its ``id`` (either id casing)."""
        match = _JOB_ID.match(str(job_json.get("id", "")))
        if not match:
            raise ValueError(f"not a backup job id: {job_json.get('id')!r}")
        key = (match["sub"].lower(), match["rg"].lower(), match["vault"].lower())
        with self._state:
            self._jobs.setdefault(key, []).append(copy.deepcopy(job_json))
        vault_id = re.split("/backupjobs/", job_json["id"], flags=re.IGNORECASE)[0]
        with self._state:
            known = key in self._vaults.get(key[0], {})
        if not known:
            self.add_vault(vault_id)

    def add_protected_item(self, vault_id: str, item_json: dict[str, Any]) -> None:
        """Store a ``ProtectedItemResource`` of the vault, as the list returns it."""
        match = _VAULT_ID.match(vault_id)
        if not match:
            raise ValueError(f"not a Recovery Services vault id: {vault_id}")
        with self._state:
            self._items.setdefault((match["sub"].lower(), match["rg"].lower(), match["vault"].lower()), []).append(
                copy.deepcopy(item_json)
            )

    def add_policy(self, vault_id: str, policy_json: dict[str, Any]) -> None:
        """Store a ``ProtectionPolicyResource`` under its ``name``."""
        match = _VAULT_ID.match(vault_id)
        if not match:
            raise ValueError(f"not a Recovery Services vault id: {vault_id}")
        key = (match["sub"].lower(), match["rg"].lower(), match["vault"].lower(), str(policy_json["name"]).lower())
        with self._state:
            self._policies[key] = copy.deepcopy(policy_json)

    def set_tags(self, resource_id: str, tags: dict[str, str]) -> None:
        """Tags of any resource, served by the Tags API at its scope."""
        with self._state:
            self._tags[resource_id.rstrip("/").lower()] = dict(tags)

    # ---- Backup vaults (Microsoft.DataProtection) -----------------------------------------------------------------

    def _dp_key(self, vault_id: str) -> tuple[str, str, str]:
        match = _DP_VAULT_ID.match(vault_id)
        if not match:
            raise ValueError(f"not a Backup vault id: {vault_id}")
        return match["sub"].lower(), match["rg"].lower(), match["vault"].lower()

    def add_backup_vault(self, vault_id: str, *, location: str = "westeurope") -> dict[str, Any]:
        key = self._dp_key(vault_id)
        vault = {"id": vault_id, "name": vault_id.rstrip("/").rsplit("/", 1)[-1], "type": "Microsoft.DataProtection/backupVaults"}
        with self._state:
            self._dp_vaults.setdefault(key[0], {})[key] = {**vault, "location": location, "properties": {}}
            self._dp_jobs.setdefault(key, [])
        return vault

    def add_backup_vault_job(self, job_json: dict[str, Any]) -> None:
        """Store a Backup vault job exactly as given (a GET body); its vault comes from its ``id``, in any casing."""
        match = _DP_JOB_ID.match(str(job_json.get("id", "")))
        if not match:
            raise ValueError(f"not a Backup vault job id: {job_json.get('id')!r}")
        key = (match["sub"].lower(), match["rg"].lower(), match["vault"].lower())
        with self._state:
            known = key in self._dp_vaults.get(key[0], {})
        if not known:
            self.add_backup_vault(re.split("/backupjobs/", job_json["id"], flags=re.IGNORECASE)[0])
        with self._state:
            self._dp_jobs[key].append(copy.deepcopy(job_json))

    def add_backup_instance(
        self, vault_id: str, instance_json: dict[str, Any], recovery_points: list[dict[str, Any]] = ()
    ) -> None:  # type: ignore[assignment]
        """Store a ``BackupInstanceResource`` and its recovery points."""
        key = self._dp_key(vault_id)
        with self._state:
            self._dp_instances.setdefault(key, []).append(copy.deepcopy(instance_json))
            self._dp_points[(*key, str(instance_json["name"]).lower())] = copy.deepcopy(list(recovery_points))

    def add_backup_vault_policy(self, vault_id: str, policy_json: dict[str, Any]) -> None:
        key = self._dp_key(vault_id)
        with self._state:
            self._dp_policies[(*key, str(policy_json["name"]).lower())] = copy.deepcopy(policy_json)

    def _dataprotection(self, request: Request, match: re.Match[str] | None, vaults: re.Match[str] | None) -> Response:
        if request.method != "GET":
            return arm_error(405, "MethodNotAllowed", f"{request.method} is not supported on {request.path}")
        auth = self._check_auth(request)
        if auth is not None:
            return auth
        version = request.param("api-version")
        if version != self.dataprotection_api_version:
            return arm_error(
                400,
                "InvalidApiVersionParameter",
                f"The api-version '{version}' is invalid. The supported versions are '{self.dataprotection_api_version}'.",
            )
        if vaults is not None:
            with self._state:
                found = [copy.deepcopy(v) for v in self._dp_vaults.get(vaults["sub"].lower(), {}).values()]
            return self._page(request, found, {})
        assert match is not None
        key = (match["sub"].lower(), match["rg"].lower(), match["vault"].lower())
        with self._state:
            self.vault_requests[key[2]] += 1
        fault = self._take_fault(key[2])
        if fault is not None:
            headers = {"Retry-After": str(int(fault.retry_after or 0))} if fault.status == 429 else None
            return arm_error(
                fault.status, "TooManyRequests" if fault.status == 429 else "InternalServerError", "Injected.", headers
            )
        with self._state:
            if key not in self._dp_vaults.get(key[0], {}):
                return arm_error(
                    404,
                    "ResourceNotFound",
                    f"The Resource 'Microsoft.DataProtection/backupVaults/{match['vault']}' was not found.",
                )
            jobs = [copy.deepcopy(j) for j in self._dp_jobs.get(key, [])]
            instances = [copy.deepcopy(i) for i in self._dp_instances.get(key, [])]
            points = copy.deepcopy(self._dp_points.get((*key, (match["instance"] or "").lower())))
            policy = copy.deepcopy(self._dp_policies.get((*key, (match["policy"] or "").lower())))
        if match["policy"]:
            return json_response(200, policy) if policy else arm_error(404, "UserErrorPolicyNotFound", "Policy not found.")
        if match["instance"]:
            return self._recovery_points(request, points)
        if match["instances"]:
            return self._page(request, instances, {})
        if match["job"]:
            job = next((j for j in jobs if str(j.get("name", "")).lower() == match["job"].lower()), None)
            return json_response(200, job) if job else arm_error(404, "ResourceNotFound", f"Job {match['job']} not found.")
        if (given := request.param("$filter")) is not None:
            with self._state:
                self.dp_filters_seen.append(given)
        for job in jobs:  # the live service sends list items with extendedInfo null
            if isinstance(job.get("properties"), dict):
                job["properties"]["extendedInfo"] = None
        return self._page(request, jobs, {})

    def _recovery_points(self, request: Request, points: list[dict[str, Any]] | None) -> Response:
        if points is None:
            return arm_error(404, "ResourceNotFound", "The backup instance was not found.")
        given = request.param("$filter")
        if given:
            match = _RP_FILTER.match(given)
            if not match:
                return arm_error(
                    400, "BadRequest", f"Invalid $filter: expected startDate eq '<ISO>' and endDate eq '<ISO>', got {given!r}"
                )
            start, end = _iso(match["start"]), _iso(match["end"])
            if start is None or end is None:
                return arm_error(400, "BadRequest", f"Invalid $filter: {given!r} has a date that is not ISO 8601")
            points = [p for p in points if (when := _iso(p["properties"]["recoveryPointTime"])) and start <= when <= end]
        return self._page(request, points, {"$filter": given} if given else {})

    # ---- fault injection ---------------------------------------------------------------------------------------

    def throttle(self, vault_name: str, times: int, retry_after: float = 0) -> None:
        """The next ``times`` requests for this vault answer 429 with ``Retry-After: retry_after``."""
        with self._state:
            self._faults.setdefault(vault_name.lower(), []).append(_Fault(times, 429, retry_after))

    def fail(self, vault_name: str, times: int | None = None, status: int = 500) -> None:
        """The next ``times`` requests (None: all) for this vault answer ``status`` with an ARM error body."""
        with self._state:
            self._faults.setdefault(vault_name.lower(), []).append(_Fault(times, status))

    def deny(self, vault_name: str, principal: str = "00000000-0000-0000-0000-000000000000") -> None:
        """Every request for this vault answers 403 ``AuthorizationFailed``, as ARM does without a role on it."""
        message = (
            f"The client '{principal}' with object id '{principal}' does not have authorization to perform action "
            f"'Microsoft.RecoveryServices/vaults/backupJobs/read' over scope '.../vaults/{vault_name}' or the scope is "
            "invalid. If access was recently granted, please refresh your credentials."
        )
        with self._state:
            self._faults.setdefault(vault_name.lower(), []).append(_Fault(None, 403, code="AuthorizationFailed", message=message))

    def _take_fault(self, vault: str) -> _Fault | None:
        with self._state:
            faults = self._faults.get(vault, [])
            while faults:
                fault = faults[0]
                if fault.remaining is None:
                    return fault
                if fault.remaining > 0:
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        faults.pop(0)
                    return fault
                faults.pop(0)
            return None

    # ---- routes ------------------------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        path = request.path
        dp_match, dp_vaults = _DP_PATH.match(path), _DP_VAULTS_PATH.match(path)
        if dp_match or dp_vaults:
            return self._dataprotection(request, dp_match, dp_vaults)
        jobs_match = _JOBS_PATH.match(path)
        vaults_match = _VAULTS_PATH.match(path)
        items_match = _ITEMS_PATH.match(path)
        if items_match and request.method == "GET" and self._check_auth(request) is None:
            return self._items_or_policy(request, items_match)
        tags_match = _TAGS_PATH.match(path)
        if tags_match and request.method == "GET":
            return self._tags_at(request, tags_match["resource"])
        if jobs_match:
            vault = jobs_match["vault"].lower()
            with self._state:
                self.vault_requests[vault] += 1
        if request.method != "GET":
            return arm_error(405, "MethodNotAllowed", f"{request.method} is not supported on {path}")
        auth = self._check_auth(request)
        if auth is not None:
            return auth
        if jobs_match:
            expected_version = self.jobs_api_version
        elif vaults_match:
            expected_version = self.vaults_api_version
        else:
            return arm_error(404, "InvalidResourceType", f"The resource type could not be found: {path}")
        version = request.param("api-version")
        if version != expected_version:
            return arm_error(
                400,
                "InvalidApiVersionParameter",
                f"The api-version '{version}' is invalid. The supported versions are '{expected_version}'.",
            )
        if vaults_match:
            return self._list_vaults(request, vaults_match["sub"].lower())
        assert jobs_match is not None
        key = (jobs_match["sub"].lower(), jobs_match["rg"].lower(), jobs_match["vault"].lower())
        fault = self._take_fault(key[2])
        if fault is not None:
            if fault.status == 429:
                retry_after = fault.retry_after or 0
                shown = str(int(retry_after)) if float(retry_after).is_integer() else str(retry_after)
                return arm_error(
                    429,
                    "TooManyRequests",
                    "The request is being throttled as the limit has been reached for operation type - Read.",
                    {"Retry-After": shown, "x-ms-ratelimit-remaining-subscription-reads": "0"},
                )
            return arm_error(fault.status, fault.code, fault.message)
        with self._state:
            known = key in self._jobs
            jobs = [copy.deepcopy(j) for j in self._jobs.get(key, [])]
        if not known:
            return arm_error(
                404,
                "ResourceNotFound",
                f"The Resource 'Microsoft.RecoveryServices/vaults/{jobs_match['vault']}' under resource group "
                f"'{jobs_match['rg']}' was not found.",
            )
        if jobs_match["job"]:
            for job in jobs:
                if str(job.get("name", "")).lower() == jobs_match["job"].lower():
                    return json_response(200, job)
            return arm_error(404, "ResourceNotFound", f"The job '{jobs_match['job']}' was not found in the vault.")
        return self._list_jobs(request, jobs)

    def _check_auth(self, request: Request) -> Response | None:
        header = request.headers.get("Authorization")
        if not header or not header.startswith("Bearer "):
            return arm_error(401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.")
        if header[len("Bearer ") :] != self.token:
            return arm_error(401, "AuthenticationFailed", "Authentication failed. The access token is invalid or has expired.")
        return None

    def _page(self, request: Request, items: list[dict[str, Any]], extra_query: dict[str, str]) -> Response:
        token = request.param("$skiptoken", case_insensitive=True)
        offset = 0
        if token is not None:
            match = re.fullmatch(r"<ContinuationToken>offset=(\d+)</ContinuationToken>", token)
            if not match:
                return arm_error(400, "BadRequest", f"Invalid $skiptoken: {token!r}")
            offset = int(match.group(1))
        page = items[offset : offset + self.page_size]
        body: dict[str, Any] = {"value": page}
        if offset + self.page_size < len(items):
            query = {"api-version": STALE_NEXTLINK_API_VERSION, **extra_query}
            query["$skiptoken"] = f"<ContinuationToken>offset={offset + self.page_size}</ContinuationToken>"
            body["nextLink"] = f"{self.url}{urllib.parse.quote(request.path)}?{urllib.parse.urlencode(query)}"
        return json_response(200, body)

    def _tags_at(self, request: Request, resource: str) -> Response:
        auth = self._check_auth(request)
        if auth is not None:
            return auth
        if request.param("api-version") != "2021-04-01":
            return arm_error(400, "InvalidApiVersionParameter", f"The api-version '{request.param('api-version')}' is invalid.")
        with self._state:
            tags = self._tags.get(resource.rstrip("/").lower())
        if tags is None:
            return arm_error(403, "AuthorizationFailed", f"The client does not have authorization to read tags at {resource}.")
        body = {"id": f"{resource}/providers/Microsoft.Resources/tags/default", "name": "default", "properties": {"tags": tags}}
        return json_response(200, body)

    def _items_or_policy(self, request: Request, match: re.Match[str]) -> Response:
        if request.param("api-version") != self.jobs_api_version:
            return arm_error(400, "InvalidApiVersionParameter", f"The api-version '{request.param('api-version')}' is invalid.")
        key = (match["sub"].lower(), match["rg"].lower(), match["vault"].lower())
        fault = self._take_fault(key[2])
        if fault is not None:
            return arm_error(fault.status, fault.code, fault.message)
        with self._state:
            if match["items"]:
                items = [copy.deepcopy(i) for i in self._items.get(key, [])]
            else:
                policy = copy.deepcopy(self._policies.get((*key, match["policy"].lower())))
        if match["items"]:
            return self._page(request, items, {})
        if policy is None:
            return arm_error(404, "BMSUserErrorPolicyNotExist", f"Policy {match['policy']} does not exist.")
        return json_response(200, policy)

    def _list_vaults(self, request: Request, subscription: str) -> Response:
        with self._state:
            vaults = [copy.deepcopy(v) for v in self._vaults.get(subscription, {}).values()]
        return self._page(request, vaults, {})

    def _list_jobs(self, request: Request, jobs: list[dict[str, Any]]) -> Response:
        raw_filter = request.param("$filter")
        extra: dict[str, str] = {}
        if raw_filter is not None:
            with self._state:
                self.filters_seen.append(raw_filter)
            try:
                clauses = parse_filter(raw_filter)
                start = parse_filter_date(clauses["startTime"], "startTime") if "startTime" in clauses else None
                end = parse_filter_date(clauses["endTime"], "endTime") if "endTime" in clauses else None
            except FilterError as exc:
                return arm_error(400, "BadRequest", f"Invalid $filter: {exc}")
            if start is not None and end is not None and end < start:
                return arm_error(400, "BadRequest", "Invalid $filter: endTime is earlier than startTime")
            jobs = [j for j in jobs if self._matches(j, clauses, start, end)]
            extra["$filter"] = raw_filter
        for job in jobs:  # list items carry no extendedInfo (spec ListJobs examples)
            job.get("properties", {}).pop("extendedInfo", None)
        return self._page(request, jobs, extra)

    @staticmethod
    def _matches(job: dict[str, Any], clauses: dict[str, str], start: datetime | None, end: datetime | None) -> bool:
        props = job.get("properties", {})
        for field in ("status", "backupManagementType", "operation"):
            if field in clauses and props.get(field) != clauses[field]:
                return False
        if "jobId" in clauses and str(job.get("name", "")).lower() != clauses["jobId"].lower():
            return False
        if start is not None or end is not None:
            began = _job_start(job)
            if began is None:
                return False
            if start is not None and began < start:
                return False
            if end is not None and began > end:
                return False
        return True
