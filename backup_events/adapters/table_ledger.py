"""The ledger in Azure Table Storage (``azure-data-tables``): one row per told job.

``create_entity`` is the atomic claim (409 when another instance got there first); ETags make every later
change conditional, so a lost race is seen (412) instead of overwriting someone else's claim.
Keys: ARM ids hold ``/``, which keys may not, so the vault part is hashed into the PartitionKey and the job
part percent-encoded into the RowKey; the readable key is kept as a property.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from azure.data.tables import TableClient

log = logging.getLogger(__name__)

SENDING, SENT = "sending", "sent"
_FORBIDDEN = re.compile(r"[/\\#?%\x00-\x1f\x7f-\x9f]")


def table_keys(key: str) -> tuple[str, str]:
    """PartitionKey and RowKey for a ledger key ``<scope>|<name>``; both free of ``/ \\ # ?``."""
    scope, _, name = key.rpartition("|")
    partition = hashlib.sha256(scope.encode()).hexdigest()[:32] if scope else "unscoped"
    row = _FORBIDDEN.sub(lambda m: f"%{ord(m.group()):02X}", name)
    if len(row.encode()) > 1000:
        row = hashlib.sha256(name.encode()).hexdigest()
    return partition, row


class TableLedger:
    """Implements ``ports.Ledger`` on one table."""

    def __init__(self, table: TableClient, *, clock: Callable[[], datetime], lease: timedelta = timedelta(minutes=15)):
        self._table = table
        self._clock = clock
        self._lease = lease
        self._etags: dict[str, str] = {}
        self._table_ready = False

    def _ensure_table(self) -> None:
        if self._table_ready:
            return
        from azure.core.exceptions import ResourceExistsError  # noqa: PLC0415

        with contextlib.suppress(ResourceExistsError):  # created by infra, or by another instance
            self._table.create_table()
        self._table_ready = True

    def _get(self, key: str) -> Any:
        from azure.core.exceptions import ResourceNotFoundError  # noqa: PLC0415

        self._ensure_table()
        partition, row = table_keys(key)
        try:
            return self._table.get_entity(partition, row)
        except ResourceNotFoundError:
            return None

    def _abandoned(self, entity: Mapping[str, Any]) -> bool:
        claimed_at = entity.get("claimedAt")
        return entity.get("state") == SENDING and isinstance(claimed_at, datetime) and self._clock() - claimed_at > self._lease

    def is_told(self, key: str) -> bool:
        entity = self._get(key)
        return entity is not None and not self._abandoned(entity)

    def claim(self, key: str, *, summary: Mapping[str, str]) -> bool:
        from azure.core import MatchConditions  # noqa: PLC0415
        from azure.core.exceptions import ResourceExistsError, ResourceModifiedError  # noqa: PLC0415
        from azure.data.tables import UpdateMode  # noqa: PLC0415

        self._ensure_table()
        partition, row = table_keys(key)
        entity = {
            "PartitionKey": partition,
            "RowKey": row,
            "ledgerKey": key[:1000],
            "state": SENDING,
            "claimedAt": self._clock(),
            **{k: v[:1000] for k, v in summary.items()},
        }
        try:
            self._etags[key] = self._table.create_entity(entity)["etag"]
            return True
        except ResourceExistsError:
            pass
        existing = self._get(key)
        if existing is None or not self._abandoned(existing):
            return False
        # A claim that outlived its lease belongs to an instance that died mid-send: take it over,
        # but only if nobody else did first (ETag).
        try:
            self._etags[key] = self._table.update_entity(
                entity,
                mode=UpdateMode.REPLACE,
                etag=existing.metadata["etag"],
                match_condition=MatchConditions.IfNotModified,
            )["etag"]
        except ResourceModifiedError:
            return False
        log.warning("Took over an abandoned claim for %s", key)
        return True

    def mark_sent(self, key: str, *, delivery_id: str) -> None:
        from azure.core import MatchConditions  # noqa: PLC0415
        from azure.data.tables import UpdateMode  # noqa: PLC0415

        partition, row = table_keys(key)
        self._table.update_entity(
            {"PartitionKey": partition, "RowKey": row, "state": SENT, "sentAt": self._clock(), "deliveryId": delivery_id},
            mode=UpdateMode.MERGE,
            etag=self._etags.pop(key),
            match_condition=MatchConditions.IfNotModified,
        )

    def release(self, key: str) -> None:
        from azure.core import MatchConditions  # noqa: PLC0415
        from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError  # noqa: PLC0415

        partition, row = table_keys(key)
        try:
            self._table.delete_entity(partition, row, etag=self._etags.pop(key), match_condition=MatchConditions.IfNotModified)
        except (ResourceModifiedError, ResourceNotFoundError):
            log.warning("Claim for %s changed before it could be released; leaving it to its new owner", key)
