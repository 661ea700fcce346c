"""One ``JobSource`` over both kinds of vault: each call goes to the source of the vault (or job) it names.

Recovery Services vaults (``Microsoft.RecoveryServices/vaults``) and Backup vaults
(``Microsoft.DataProtection/backupVaults``) have different APIs and SDKs; the pipeline sees one source. Routing is by
the id alone (``domain.ids.is_backup_vault``, case-insensitive); tags go through the Recovery Services source, whose
Tags API call is the same for every resource.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from backup_events.domain.ids import is_backup_vault
from backup_events.ports import JobJson, JobSource


class VaultKindJobSource:
    """Implements ``ports.JobSource`` by routing each call to ``recovery_services`` or ``backup_vaults``."""

    def __init__(self, *, recovery_services: JobSource, backup_vaults: JobSource) -> None:
        self._recovery_services = recovery_services
        self._backup_vaults = backup_vaults

    def _of(self, resource_id: str) -> JobSource:
        return self._backup_vaults if is_backup_vault(resource_id) else self._recovery_services

    def vault_ids(self) -> list[str]:
        """The Recovery Services vaults, then the Backup vaults. Raises ``SourceError`` if either discovery fails."""
        return [*self._recovery_services.vault_ids(), *self._backup_vaults.vault_ids()]

    def jobs(
        self, vault_id: str, *, since: datetime, until: datetime, statuses: Sequence[str] | None = None
    ) -> Iterable[JobJson]:
        """The vault's jobs from its own source; without ``statuses``, the ones that source is configured for."""
        chosen = {} if statuses is None else {"statuses": statuses}
        return self._of(vault_id).jobs(vault_id, since=since, until=until, **chosen)

    def job_details(self, job_id: str) -> JobJson:
        return self._of(job_id).job_details(job_id)

    def protected_items(self, vault_id: str) -> list[JobJson]:
        return self._of(vault_id).protected_items(vault_id)

    def resource_tags(self, resource_id: str) -> Mapping[str, str]:
        return self._recovery_services.resource_tags(resource_id)

    def policy(self, vault_id: str, name: str) -> JobJson:
        return self._of(vault_id).policy(vault_id, name)

    def close(self) -> None:
        """Close both sources' clients."""
        for source in (self._recovery_services, self._backup_vaults):
            close = getattr(source, "close", None)
            if callable(close):
                close()
