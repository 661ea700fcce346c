"""Pure: Azure Resource Manager ids of vaults and jobs, parsed once.

Two kinds of vault hold backups: Recovery Services vaults (``Microsoft.RecoveryServices/vaults``) and Backup vaults
(``Microsoft.DataProtection/backupVaults``: disks, blobs, ADLS, PostgreSQL, MySQL, AKS). Ids come as
``/Subscriptions/`` or ``/subscriptions/`` and with any provider casing (``backupVaults``, ``Backupvaults``,
``BackupVaults`` all occur): compare them case-insensitively.
"""

from __future__ import annotations

import re

from backup_events.errors import MalformedInputError

# Cross-region restore jobs live in the secondary region, outside any vault's path; the vault is in their property bag.
_CRR_JOB_ID = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)/providers/microsoft\.recoveryservices/locations/(?P<location>[^/]+)/backupjobs/(?P<job>[^/]+)/?$",
    re.IGNORECASE,
)
RECOVERY_SERVICES = "Microsoft.RecoveryServices/vaults"
BACKUP_VAULT = "Microsoft.DataProtection/backupVaults"
_VAULT_TYPE = r"(?P<type>microsoft\.recoveryservices/vaults|microsoft\.dataprotection/backupvaults)"
_JOB_ID = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)/resourcegroups/(?P<rg>[^/]+)"
    rf"/providers/{_VAULT_TYPE}/(?P<vault>[^/]+)"
    r"(?:/backupjobs/(?P<job>[^/]+))?/?$",
    re.IGNORECASE,
)


_VAULT_PREFIX = re.compile(rf"^/subscriptions/[^/]+/resourcegroups/[^/]+/providers/{_VAULT_TYPE}/[^/]+", re.IGNORECASE)


def vault_of(resource_id: str) -> str | None:
    """The vault id at the start of any resource id below a vault (a protected item's, a backup instance's, …)."""
    match = _VAULT_PREFIX.match(resource_id.strip())
    return match.group(0) if match else None


def is_backup_vault(resource_id: str) -> bool:
    """Is this id a Backup vault's (``Microsoft.DataProtection/backupVaults``) or below one, in any casing?"""
    match = _VAULT_PREFIX.match(resource_id.strip())
    return match is not None and match["type"].casefold() == BACKUP_VAULT.casefold()


def parse_vault_id(resource_id: str) -> dict[str, str]:
    """Split a vault or job ARM id (either kind of vault) into subscription, resource group, vault and job name.

    ``kind`` is ``RECOVERY_SERVICES`` or ``BACKUP_VAULT``. Matching is case-insensitive because
    ``/Subscriptions/``, ``/subscriptions/``, ``backupVaults`` and ``Backupvaults`` all occur.
    """
    match = _JOB_ID.match(resource_id.strip())
    if not match:
        raise MalformedInputError(f"not a Recovery Services vault, Backup vault or backup job id: {resource_id!r}", field="id")
    vault_id = resource_id.strip()[: match.end("vault")]
    return {
        "subscription_id": match["sub"],
        "resource_group": match["rg"],
        "vault_name": match["vault"],
        "vault_id": vault_id,
        "job_name": match["job"] or "",
        "kind": BACKUP_VAULT if match["type"].casefold() == BACKUP_VAULT.casefold() else RECOVERY_SERVICES,
    }


def same_resource(a: str, b: str) -> bool:
    """ARM ids are case-insensitive; compare them so."""
    return a.rstrip("/").casefold() == b.rstrip("/").casefold()


def parse_crr_job_id(resource_id: str) -> dict[str, str] | None:
    """Subscription, region and job name of a cross-region restore job's id; None for any other id."""
    match = _CRR_JOB_ID.match(resource_id.strip())
    return {"subscription_id": match["sub"], "location": match["location"], "job_name": match["job"]} if match else None


def watched(vault_id: str, vault_ids: tuple[str, ...], subscription_ids: tuple[str, ...]) -> bool:
    """Is this vault one we watch: named in ``vault_ids``, or in one of ``subscription_ids``?"""
    try:
        subscription = parse_vault_id(vault_id)["subscription_id"]
    except MalformedInputError:
        return False
    return any(same_resource(vault_id, v) for v in vault_ids) or subscription.casefold() in {
        s.casefold() for s in subscription_ids
    }
