"""Values tests build by hand."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from backup_events.domain.identity import incident_key
from backup_events.domain.incidents import Incident


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
