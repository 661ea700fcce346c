"""Values tests build by hand."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from backup_events.domain.identity import incident_key
from backup_events.domain.incidents import Incident

WATCHED_SUBSCRIPTIONS = (
    "3b1f9c2e-5a7d-4e21-9c0b-7d2e4f6a8b10",  # the sample world's two subscriptions
    "8e4d2a17-0c9b-4f3e-a1d6-2b5c7e9f0a34",
    "00000000-0000-0000-0000-000000000000",  # the alerts' in tests/data
)
"""The alert path tells only alerts about watched vaults (``BACKUP_SUBSCRIPTION_IDS`` in Azure)."""


def make_incident(vault_id: str, item: str, at: datetime, *, code: str = "Code", **changes: object) -> Incident:
    """An open incident of ``item`` in the vault, first and last seen ``at``; ``changes`` override any field."""
    base = Incident(
        key=incident_key(vault_id, item, code),
        vault_id=vault_id,
        vault_name=vault_id.rstrip("/").rsplit("/", 1)[-1],
        item=item,
        workload="Azure VM",
        code=code,
        title="t",
        docs_url="https://learn.microsoft.com/x",
        opened_at=at,
        last_seen=at,
        last_job="j",
    )
    return replace(base, **changes)  # type: ignore[arg-type]
