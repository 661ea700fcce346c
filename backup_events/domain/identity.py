"""Pure: one name for each protected item, whichever source names it.

A job, its protected item and its alert name a database three ways (tests/data/recorded/):
- the job's ``entityFriendlyName``: ``SYSTEMDB [hxehost]``, ``MSSQLSERVER/msDB [sqlserver-0.contoso.com]``,
  ``ab4;asetestdb1 [ase-ccy-vm5]`` (SAP ASE: SID;database);
- the protected item: ``friendlyName`` (the database), ``serverName`` (the host), ``parentName`` (the SQL
  instance, the HANA or ASE SID), and its ARM name ``SQLDataBase;mssqlserver;salesdb``;
- the alert: ``linkedResourceName`` (the VM) and ``protectedItemId`` (the protected item's ARM id).

All three become ``host / db``, with a SQL named instance (``host / INSTANCE / db``) or an ASE SID
(``host / SID / db``) kept, because those tell two databases of one host apart and both the job and the
protected item carry them. The default SQL instance ``MSSQLSERVER`` is dropped (the live service leaves it out
of job names: ``navigate-testdb2 [iaassqlext-win]``). A HANA job names no SID, so HANA items are ``host / db``.
The host is its first DNS label. Items of other workloads (VMs, shares, servers) keep their friendly name.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

from backup_events.domain.model import BackupJob, Diagnosis, Workload

DATABASES = frozenset({Workload.SQL, Workload.SAP_HANA, Workload.SAP_ASE})
_DEFAULT_SQL_INSTANCE = "mssqlserver"
# ``[qualifier/ or qualifier;]db [host]``: the qualifier is a SQL instance or an ASE SID.
_JOB_DATABASE = re.compile(r"^(?:(?P<qualifier>[^/;\[]+)[/;])?(?P<db>[^\[]+?)\s*\[(?P<host>[^\]]+)\]$")


def _host(name: str) -> str:
    return name.strip().split(".", 1)[0]


def database_item(workload: Workload, host: str, database: str, qualifier: str = "") -> str:
    """The canonical name of a database item: ``host / db``, with a named SQL instance or an ASE SID kept."""
    qualifier = qualifier.strip()
    keep = (workload is Workload.SQL and qualifier.casefold() != _DEFAULT_SQL_INSTANCE) or workload is Workload.SAP_ASE
    parts = [_host(host), qualifier if keep and qualifier else "", database.strip()]
    return " / ".join(p for p in parts if p)


def item_of_job(properties: Mapping[str, Any], workload: Workload) -> str:
    """The item a job is about: the VM, share or server by its name, a database canonically."""
    bag = (properties.get("extendedInfo") or {}).get("propertyBag") or {}
    name = str(properties.get("entityFriendlyName") or bag.get("VM Name") or bag.get("File Share Name") or "").strip()
    if workload in DATABASES and (match := _JOB_DATABASE.match(name)):
        return database_item(workload, match["host"], match["db"], match["qualifier"] or "")
    if not name:
        name = str(properties.get("mabServerName") or properties.get("dpmServerName") or "").strip()
    return name or "(unnamed item)"


def item_of_protected_item(properties: Mapping[str, Any], arm_name: str, workload: Workload) -> str:
    """The item a ``ProtectedItemResource`` is: the same name its jobs give it."""
    friendly = str(properties.get("friendlyName") or arm_name.rsplit(";", 1)[-1]).strip()
    server = str(properties.get("serverName") or "").strip()
    if workload in DATABASES and server:
        return database_item(workload, server, friendly, str(properties.get("parentName") or ""))
    return friendly


def item_of_alert(context: Mapping[str, Any], workload: Workload, vault_name: str) -> str:
    """The item an alert is about, from the alert alone (the VM for its host, the protected item id's last part).

    ``resolve_alert_item`` does better when the vault's protected items are at hand.
    """
    protected = str(context.get("protectedItemId") or context.get("sourceId") or "")
    tail = protected.rstrip("/").rsplit("/", 1)[-1]
    host = str(context.get("linkedResourceName") or "").strip()
    parts = tail.split(";")
    if workload in DATABASES and len(parts) >= 2:
        qualifier = parts[-2] if len(parts) >= 3 else ""
        return database_item(workload, host, parts[-1], qualifier) if host else parts[-1]
    if host:
        return host
    return parts[-1] or vault_name


def headline_code(job: BackupJob, diagnosis: Diagnosis) -> str:
    """The code on-call staff will search for: Azure's string code, else the catalog's, else the number."""
    error = job.error
    if error and error.code:
        return error.code
    if diagnosis.remediation and diagnosis.remediation.codes:
        return diagnosis.remediation.codes[0]
    if error and error.number is not None:
        return str(error.number)
    if diagnosis.remediation:
        return diagnosis.remediation.key
    return "no error code"


def item_key(vault_id: str, item: str) -> str:
    """The protected item's identity across jobs and alerts: the vault and the item's display name, case-folded."""
    return hashlib.sha256(f"{vault_id.rstrip('/').casefold()}|{item.casefold()}".encode()).hexdigest()[:32]


def incident_key(vault_id: str, item: str, code: str, *, job: str = "") -> str:
    """One incident per vault, item and error code; a one-off (a restore) is its own incident, per ``job``."""
    once = f"|job:{job.casefold()}" if job else ""
    digest = hashlib.sha256(f"{item_key(vault_id, item)}|{code.casefold()}{once}".encode()).hexdigest()[:40]
    return f"{vault_id.rstrip('/').casefold()}|inc-{digest}"


def alert_key(vault_id: str, alert_id: str) -> str:
    """The key a vault alert (not about a job) is recorded under, in its vault's partition: each alert once."""
    return f"{vault_id.rstrip('/').casefold()}|alert-{hashlib.sha256(alert_id.casefold().encode()).hexdigest()[:32]}"
