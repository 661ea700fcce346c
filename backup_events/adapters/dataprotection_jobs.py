"""``JobSource`` on the Backup vault jobs API (``azure-mgmt-dataprotection``, ``Microsoft.DataProtection``).

Imported lazily (only when the jobs API is the source), so the Azure SDK is imported at module level here.

* One ``DataProtectionMgmtClient`` per subscription, built on first use and cached; the same retry policy, per-call
  retry budget and error wording as the Recovery Services source (``arm_jobs``).
* ``jobs``: ``Jobs_List`` has no ``$filter`` (the REST API and the SDK offer none, unlike Recovery Services), so
  every page is read and the window and statuses the port asks for are applied here, on ``startTime`` and
  ``status``. Items are returned as plain wire dicts (``as_dict()`` keeps the camelCase wire keys and raw values:
  TimeSpan durations in lists, 7-digit fractions, ``Backupvaults`` ids).
* ``job_details``: ``Jobs_Get`` for the id's vault (the list items carry ``extendedInfo: null``).
* ``protected_items``: the vault's backup instances, each with the newest of its recovery points joined as
  ``latestRecoveryPoint`` (a backup instance names none itself): one ``RecoveryPoints_List`` per instance.
* ``policy``: ``BackupPolicies_Get``; vaults: the configured Backup vault ids plus, once per instance, every Backup
  vault of the configured subscriptions (``BackupVaults_GetInSubscription``).
* Every azure-core error becomes a ``SourceError`` naming the vault (or job), the HTTP status and ARM's code.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from azure.core.exceptions import AzureError
from azure.mgmt.dataprotection import DataProtectionMgmtClient

from backup_events.adapters.arm_jobs import ArmJobSource, describe_error
from backup_events.domain import ids
from backup_events.errors import MalformedInputError, SourceError
from backup_events.ports import JobJson
from backup_events.wire.jobs import parse_time

log = logging.getLogger(__name__)

KNOWN_STATUSES = frozenset({"InProgress", "Completed", "Failed", "CompletedWithWarnings", "Cancelled", "Cancelling"})


def parse_backup_vault_id(vault_id: str) -> tuple[str, str, str]:
    """(subscription, resource group, vault name) of a Backup vault id, as the SDK's calls take them."""
    parts = ids.parse_vault_id(vault_id)
    if parts["job_name"] or parts["kind"] != ids.BACKUP_VAULT:
        raise MalformedInputError(f"not a Backup vault id: {vault_id!r}", field="id")
    return parts["subscription_id"], parts["resource_group"], parts["vault_name"]


def parse_backup_vault_job_id(job_id: str) -> tuple[str, str, str, str, str]:
    """(vault id, subscription, resource group, vault name, job name) of a Backup vault job id."""
    parts = ids.parse_vault_id(job_id)
    if not parts["job_name"] or parts["kind"] != ids.BACKUP_VAULT:
        raise MalformedInputError(f"not a Backup vault job id: {job_id!r}", field="id")
    return parts["vault_id"], parts["subscription_id"], parts["resource_group"], parts["vault_name"], parts["job_name"]


def _is_backup_vault_id(value: str) -> bool:
    try:
        parse_backup_vault_id(value)
    except MalformedInputError:
        return False
    return True


def _started(job: Mapping[str, Any]) -> datetime | None:
    try:
        return parse_time((job.get("properties") or {}).get("startTime"), "properties.startTime")
    except MalformedInputError:
        return None


class BackupVaultJobSource(ArmJobSource[DataProtectionMgmtClient]):
    """Implements ``ports.JobSource`` on ARM's Microsoft.DataProtection jobs, backup instances and policies."""

    VAULT_SHAPE = "/subscriptions/<id>/resourceGroups/<rg>/providers/Microsoft.DataProtection/backupVaults/<name>"
    KNOWN_STATUSES = KNOWN_STATUSES

    @staticmethod
    def is_vault_id(value: str) -> bool:
        return _is_backup_vault_id(value)

    def new_client(self, subscription_id: str) -> DataProtectionMgmtClient:
        return DataProtectionMgmtClient(self._credential, subscription_id, **self._client_kwargs())

    def _discover(self, subscription_id: str) -> list[str]:
        try:
            found = [v.id for v in self._client(subscription_id).backup_vaults.get_in_subscription(**self._deadline()) if v.id]
        except AzureError as exc:
            raise SourceError(
                f"could not list the Backup vaults of subscription {subscription_id}: {describe_error(exc)}"
            ) from exc
        log.info("discovered %d Backup vault(s) in subscription %s", len(found), subscription_id)
        return found

    def jobs(
        self, vault_id: str, *, since: datetime, until: datetime, statuses: Sequence[str] | None = None
    ) -> Iterable[JobJson]:
        """Jobs of one Backup vault started in ``[since, until]`` with one of ``statuses`` (default: the configured ones).

        The list offers no filter: every page is read (one retry budget for all of them) and the window applied here.
        A job whose start cannot be read is kept (the normaliser says what it could not read). Raises ``SourceError``.
        """
        if until < since:
            raise ValueError(f"until ({until}) is before since ({since})")
        try:
            subscription, group, vault = parse_backup_vault_id(vault_id)
        except MalformedInputError as exc:
            raise SourceError(str(exc)) from None
        wanted = {s.casefold() for s in statuses or self._statuses}
        found: dict[str, dict[str, Any]] = {}
        try:
            for job in self._client(subscription).jobs.list(group, vault, **self._deadline()):
                wire = job.as_dict()
                status = str((wire.get("properties") or {}).get("status") or "").casefold()
                started = _started(wire)
                if status in wanted and (started is None or since <= started <= until):
                    found.setdefault(str(wire.get("id") or wire.get("name") or len(found)).lower(), wire)
        except AzureError as exc:
            raise SourceError(f"could not read the jobs of Backup vault {vault_id}: {describe_error(exc)}") from exc
        return list(found.values())

    def job_details(self, job_id: str) -> JobJson:
        """The job with ``extendedInfo`` (``Jobs_Get``), as a wire dict. Raises ``SourceError``."""
        try:
            vault_id, subscription, group, vault, name = parse_backup_vault_job_id(job_id)
        except MalformedInputError as exc:
            raise SourceError(str(exc)) from None
        try:
            job = self._client(subscription).jobs.get(group, vault, name, **self._deadline())
        except AzureError as exc:
            raise SourceError(f"could not read job {name} of Backup vault {vault_id}: {describe_error(exc)}") from exc
        return job.as_dict()

    def protected_items(self, vault_id: str) -> list[JobJson]:
        """The vault's backup instances as wire dicts, each with its newest recovery point as ``latestRecoveryPoint``."""
        try:
            subscription, group, vault = parse_backup_vault_id(vault_id)
        except MalformedInputError as exc:
            raise SourceError(str(exc)) from None
        client = self._client(subscription)
        deadline = self._deadline()
        try:
            instances: list[dict[str, Any]] = [
                instance.as_dict() for instance in client.backup_instances.list(group, vault, **deadline)
            ]
            for instance in instances:
                points = [p.as_dict() for p in client.recovery_points.list(group, vault, str(instance["name"]), **deadline)]
                timed = [(when, p) for p in points if (when := _point_time(p)) is not None]
                instance["latestRecoveryPoint"] = max(timed, key=lambda pair: pair[0])[1] if timed else None
        except AzureError as exc:
            raise SourceError(f"could not read the backup instances of Backup vault {vault_id}: {describe_error(exc)}") from exc
        return list(instances)

    def policy(self, vault_id: str, name: str) -> JobJson:
        """One backup policy of the vault (``BaseBackupPolicyResource``), as a wire dict."""
        try:
            subscription, group, vault = parse_backup_vault_id(vault_id)
        except MalformedInputError as exc:
            raise SourceError(str(exc)) from None
        try:
            return self._client(subscription).backup_policies.get(group, vault, name, **self._deadline()).as_dict()
        except AzureError as exc:
            raise SourceError(f"could not read policy {name} of Backup vault {vault_id}: {describe_error(exc)}") from exc

    def resource_tags(self, resource_id: str) -> Mapping[str, str]:
        """Not read here: the Tags API is the same for every resource, and the Recovery Services source reads it."""
        raise SourceError(f"tags of {resource_id} are read through the Tags API, not the Backup vault source")


def _point_time(point: Mapping[str, Any]) -> datetime | None:
    try:
        return parse_time((point.get("properties") or {}).get("recoveryPointTime"), "properties.recoveryPointTime")
    except MalformedInputError:
        return None


__all__ = ["BackupVaultJobSource", "parse_backup_vault_id", "parse_backup_vault_job_id"]
