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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from backup_events.domain.incidents import (
    SENDING,
    SENT,
    Incident,
    Policy,
    Recorded,
    closed,
    item_key,
    recovered_by,
    released,
    reopened,
    repeated,
    sent,
)
from backup_events.domain.incidents import claimed as claimed_email

if TYPE_CHECKING:
    from azure.data.tables import TableClient

log = logging.getLogger(__name__)

_FORBIDDEN = re.compile(r"[/\\#?%\x00-\x1f\x7f-\x9f]")


def table_keys(key: str) -> tuple[str, str]:
    """PartitionKey and RowKey for a ledger key ``<scope>|<name>``; both free of ``/ \\ # ?``."""
    scope, _, name = key.rpartition("|")
    partition = hashlib.sha256(scope.encode()).hexdigest()[:32] if scope else "unscoped"
    row = _FORBIDDEN.sub(lambda m: f"%{ord(m.group()):02X}", name)
    if len(row.encode()) > 1000:
        row = hashlib.sha256(name.encode()).hexdigest()
    return partition, row


def vault_partition(vault_id: str) -> str:
    """The PartitionKey of everything recorded for one vault (the scope half of ``table_keys``)."""
    return table_keys(f"{vault_id.rstrip('/').casefold()}|")[0]


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


# --- incidents -------------------------------------------------------------------------------------------

_INCIDENT_FIELDS = {
    "vault_id": "vaultId",
    "vault_name": "vaultName",
    "item": "item",
    "workload": "workload",
    "code": "code",
    "title": "title",
    "docs_url": "docsUrl",
    "opened_at": "openedAt",
    "last_seen": "lastSeen",
    "count": "count",
    "state": "state",
    "opened_email": "openedEmail",
    "reminders_sent": "remindersSent",
    "reminder_state": "reminderState",
    "recovery_email": "recoveryEmail",
    "claimed_at": "claimedAt",
    "emailed_at": "emailedAt",
    "closed_at": "closedAt",
    "last_job": "lastJob",
    "operation": "operation",
    "route_to": "routeTo",
    "mail": "mail",
}
_EMAIL_COLUMNS = ("openedEmail", "reminderState", "recoveryEmail", "remindersSent", "claimedAt", "emailedAt")
_BATCH = 100  # operations in one entity-group transaction, at most
_MAX_TEXT = 30_000  # a string property holds 64 KiB (32K UTF-16 characters)


def incident_entity(incident: Incident) -> dict[str, Any]:
    """The incident as a table row; kind and itemKey make the queries cheap."""
    partition, row = table_keys(incident.key)
    entity: dict[str, Any] = {"PartitionKey": partition, "RowKey": row, "kind": "incident", "ledgerKey": incident.key}
    for attribute, column in _INCIDENT_FIELDS.items():
        value = getattr(incident, attribute)
        if value is not None:
            entity[column] = value[:_MAX_TEXT] if isinstance(value, str) else value
    entity["itemKey"] = item_key(incident.vault_id, incident.item)
    return entity


def incident_of(entity: Any) -> Incident:
    """A table row back as an incident, with its ETag."""
    values = {attribute: entity.get(column) for attribute, column in _INCIDENT_FIELDS.items()}
    values = {k: v for k, v in values.items() if v is not None}
    return Incident(key=entity["ledgerKey"], etag=entity.metadata["etag"], **values)


def _email_patch(incident: Incident) -> dict[str, Any]:
    """Only the email-state columns of an incident (None clears a column), for MERGE updates."""
    entity = incident_entity(replace(incident, mail=b""))
    patch = {k: entity.get(k) for k in _EMAIL_COLUMNS}
    return {"PartitionKey": entity["PartitionKey"], "RowKey": entity["RowKey"], **patch}


class IncidentsBusyError(RuntimeError):
    """An incident kept changing under us; the job stays unrecorded and the next run retries it."""


class TableIncidents(TableLedger):
    """Implements ``ports.IncidentStore`` (and ``ports.Ledger``) on the same table.

    A job's row and its incident's row share the vault's partition, so recording a failure is one entity-group
    transaction: the job row is created (409 if the job was recorded before) and the incident created or updated
    under its ETag (409/412 if another instance got there first: read again and retry). Counts stay exact with any
    number of instances, and a crash can't count a job without its incident or the other way round.
    """

    def __init__(self, table: TableClient, *, clock: Callable[[], datetime], policy: Policy) -> None:
        super().__init__(table, clock=clock, lease=policy.lease)
        self._policy = policy

    def incident_of_job(self, job_key: str) -> str | None:
        entity = self._get(job_key)
        return str(entity["incident"]) if entity is not None and entity.get("incident") else None

    def incident(self, key: str) -> Incident | None:
        entity = self._get(key)
        return incident_of(entity) if entity is not None else None

    def record_failure(self, job_key: str, incident: Incident) -> Recorded:
        from azure.core import MatchConditions  # noqa: PLC0415
        from azure.data.tables import TableTransactionError, UpdateMode  # noqa: PLC0415

        self._ensure_table()
        job_row_entity = self._job_row(job_key, incident.key)
        for attempt in range(10):
            # First try: assume a new incident (one transaction, no read); after a conflict, read and update.
            existing = self.incident(incident.key) if attempt else None
            operation: tuple[Any, ...]
            if existing is None:
                outcome, operation = Recorded.OPENED, ("create", incident_entity(incident))
            else:
                updated = (
                    repeated(existing, incident.last_seen, incident.last_job)
                    if existing.is_open
                    else reopened(existing, incident)
                )
                outcome = Recorded.REPEAT if existing.is_open else Recorded.OPENED
                options = {"mode": UpdateMode.REPLACE, "etag": existing.etag, "match_condition": MatchConditions.IfNotModified}
                operation = ("update", incident_entity(updated), options)
            try:
                self._table.submit_transaction([("create", job_row_entity), operation])
                return outcome
            except TableTransactionError as exc:
                if exc.index == 0 and exc.status_code == 409:
                    return Recorded.DUPLICATE
                if exc.status_code not in (409, 412):
                    raise
        raise IncidentsBusyError(f"incident {incident.key} kept changing; job {job_key} left for the next run")

    def _job_row(self, job_key: str, incident_key: str) -> dict[str, Any]:
        partition, row = table_keys(job_key)
        if partition != table_keys(incident_key)[0]:
            raise ValueError("a job and its incident must share the vault's partition")
        return {
            "PartitionKey": partition,
            "RowKey": row,
            "kind": "job",
            "ledgerKey": job_key[:1000],
            "state": "recorded",
            "claimedAt": self._clock(),
            "incident": incident_key[:1000],
        }

    def record_failures(self, pairs: Sequence[tuple[str, Incident]]) -> list[Recorded]:
        """``record_failure`` for many jobs of one vault: their rows and their incidents' in transactions of 100.

        The vault's incidents are read once; jobs of one incident count into it together. A transaction that
        is refused (another instance recorded one of its jobs, or changed one of its incidents) is redone job by
        job with ``record_failure``, which settles each exactly.
        """
        from azure.core import MatchConditions  # noqa: PLC0415
        from azure.data.tables import UpdateMode  # noqa: PLC0415

        if not pairs:
            return []
        self._ensure_table()
        partition = table_keys(pairs[0][1].key)[0]
        groups: dict[str, list[int]] = {}
        for index, (_, incident) in enumerate(pairs):
            groups.setdefault(incident.key, []).append(index)
        rows = self._table.query_entities(
            "PartitionKey eq @p and kind eq 'incident'",
            parameters={"p": partition},
            select=["ledgerKey", "state", "count", "lastSeen"],
        )
        known = {str(row["ledgerKey"]): row for row in rows}
        results = [Recorded.REPEAT] * len(pairs)
        operations: list[tuple[Any, ...]] = []
        members: list[int] = []

        def flush() -> None:
            if operations and self._transact(operations) is None:
                for index in members:
                    results[index] = self.record_failure(*pairs[index])
            operations.clear()
            members.clear()

        for key, indexes in groups.items():
            if len(indexes) >= _BATCH:
                for index in indexes:
                    results[index] = self.record_failure(*pairs[index])
                continue
            seen = max(pairs[i][1].last_seen for i in indexes)
            last_job = pairs[indexes[-1]][1].last_job
            row = known.get(key)
            if row is None or row.get("state") != "open":
                merged = replace(pairs[indexes[0]][1], count=len(indexes), last_seen=seen, last_job=last_job)
                if row is None:
                    incident_op: tuple[Any, ...] = ("create", incident_entity(merged))
                else:  # a closed incident failing again starts over in its row
                    options = {
                        "mode": UpdateMode.REPLACE,
                        "etag": row.metadata["etag"],
                        "match_condition": MatchConditions.IfNotModified,
                    }
                    incident_op = ("update", incident_entity(merged), options)
                results[indexes[0]] = Recorded.OPENED
            else:
                patch = {
                    "PartitionKey": partition,
                    "RowKey": table_keys(key)[1],
                    "count": int(row["count"]) + len(indexes),
                    "lastSeen": max(row["lastSeen"], seen),
                    "lastJob": last_job,
                }
                options = {
                    "mode": UpdateMode.MERGE,
                    "etag": row.metadata["etag"],
                    "match_condition": MatchConditions.IfNotModified,
                }
                incident_op = ("update", patch, options)
            group = [incident_op] + [("create", self._job_row(pairs[i][0], key)) for i in indexes]
            if len(operations) + len(group) > _BATCH:
                flush()
            operations.extend(group)
            members.extend(indexes)
        flush()
        return results

    def open_items(self, vault_id: str) -> set[str]:
        partition = vault_partition(vault_id)
        self._ensure_table()
        rows = self._table.query_entities(
            "PartitionKey eq @p and kind eq 'incident' and state eq 'open'", parameters={"p": partition}, select=["itemKey"]
        )
        return {row["itemKey"] for row in rows}

    def record_success(self, vault_id: str, item: str, *, at: datetime, operation: str | None = None) -> list[Incident]:
        from azure.core import MatchConditions  # noqa: PLC0415
        from azure.core.exceptions import ResourceModifiedError  # noqa: PLC0415
        from azure.data.tables import UpdateMode  # noqa: PLC0415

        partition = vault_partition(vault_id)
        rows = self._table.query_entities(
            "PartitionKey eq @p and kind eq 'incident' and state eq 'open' and itemKey eq @i",
            parameters={"p": partition, "i": item_key(vault_id, item)},
        )
        closed_now = []
        for row in rows:
            incident = incident_of(row)
            if at < incident.opened_at or not recovered_by(incident, operation):
                continue  # a success older than the failure, or of another kind of backup, proves nothing
            done = closed(incident, at, self._policy)
            try:
                self._table.update_entity(
                    incident_entity(done),
                    mode=UpdateMode.REPLACE,
                    etag=incident.etag,
                    match_condition=MatchConditions.IfNotModified,
                )
            except ResourceModifiedError:
                continue  # changed under us (another instance closed it, or counted a failure): next run looks again
            closed_now.append(done)
        return closed_now

    def incidents_owing_email(self) -> list[Incident]:
        """Incidents that may owe an email now; the service decides exactly (``incidents.emails_due``).

        Filtered by the service, not here: an open incident is read only once its next reminder could be due,
        so a run's cost does not grow with every incident that is open and quiet.
        """
        self._ensure_table()
        now = self._clock()
        # The SDK substitutes @parameters in words split on spaces: keep a space around every parenthesis.
        clauses = ["openedEmail ne 'sent'", "recoveryEmail eq 'pending'", "recoveryEmail eq 'sending'"]
        parameters: dict[str, Any] = {}
        hours = self._policy.reminder_hours
        for k, due_after in enumerate(hours):
            gap = due_after - (hours[k - 1] if k else 0)
            parameters[f"opened{k}"] = now - timedelta(hours=due_after)
            parameters[f"emailed{k}"] = now - timedelta(hours=gap)
            clauses.append(
                f"( state eq 'open' and remindersSent eq {k} and openedAt le @opened{k} and emailedAt le @emailed{k} )"
            )
        query = "kind eq 'incident' and ( " + " or ".join(clauses) + " )"
        return [incident_of(row) for row in self._table.query_entities(query, parameters=parameters)]

    def recorded_jobs(self, vault_id: str) -> set[str]:
        """Keys of the vault's jobs recorded before: one query instead of one look-up per job."""
        self._ensure_table()
        partition = vault_partition(vault_id)
        rows = self._table.query_entities(
            "PartitionKey eq @p and kind eq 'job'", parameters={"p": partition}, select=["ledgerKey"]
        )
        return {str(row["ledgerKey"]) for row in rows}

    def claim_email(self, incident: Incident, kind: str) -> Incident | None:
        from azure.core import MatchConditions  # noqa: PLC0415
        from azure.core.exceptions import ResourceModifiedError  # noqa: PLC0415
        from azure.data.tables import UpdateMode  # noqa: PLC0415

        claimed = claimed_email(incident, kind, self._clock())
        try:
            etag = self._table.update_entity(
                _email_patch(claimed), mode=UpdateMode.MERGE, etag=incident.etag, match_condition=MatchConditions.IfNotModified
            )["etag"]
        except ResourceModifiedError:
            return None
        return replace(claimed, etag=str(etag))

    def claim_emails(self, wanted: Sequence[tuple[Incident, str]]) -> list[Incident | None]:
        """``claim_email`` for many: one entity-group transaction per partition and 100 claims.

        A transaction is all or nothing, so when one claim in it loses a race the chunk is claimed one by one,
        which tells exactly who lost.
        """
        now = self._clock()
        claims = [claimed_email(incident, kind, now) for incident, kind in wanted]
        operations = [self._conditional_merge(claim, incident.etag) for claim, (incident, _) in zip(claims, wanted, strict=True)]
        results: list[Incident | None] = list(claims)
        for chunk in self._chunks(claims):
            done = self._transact([operations[i] for i in chunk])
            etags: list[str | None] = list(done) if done is not None else [None] * len(chunk)
            for i, etag in zip(chunk, etags, strict=True):
                results[i] = replace(claims[i], etag=etag) if etag else self.claim_email(*wanted[i])
        return results

    def settle_emails(self, outcomes: Sequence[tuple[Incident, str, bool]]) -> None:
        """Settle claimed incidents, each sent or owed again, batched like ``claim_emails``."""
        settled = [sent(claimed, kind) if ok else released(claimed, kind) for claimed, kind, ok in outcomes]
        operations = [self._conditional_merge(s, claimed.etag) for s, (claimed, _, _) in zip(settled, outcomes, strict=True)]
        for chunk in self._chunks(settled):
            if self._transact([operations[i] for i in chunk]) is None:
                for i in chunk:
                    self._settle(outcomes[i][0], settled[i])

    @staticmethod
    def _conditional_merge(incident: Incident, etag: str) -> tuple[Any, ...]:
        from azure.core import MatchConditions  # noqa: PLC0415
        from azure.data.tables import UpdateMode  # noqa: PLC0415

        options = {"mode": UpdateMode.MERGE, "etag": etag, "match_condition": MatchConditions.IfNotModified}
        return ("update", _email_patch(incident), options)

    @staticmethod
    def _chunks(incidents: Sequence[Incident]) -> list[list[int]]:
        """Indexes grouped by partition, at most 100 a group (a transaction's limit); one incident once a group."""
        groups: dict[str, list[list[int]]] = {}
        for index, incident in enumerate(incidents):
            chunks = groups.setdefault(table_keys(incident.key)[0], [[]])
            if len(chunks[-1]) == _BATCH or any(incidents[i].key == incident.key for i in chunks[-1]):
                chunks.append([])
            chunks[-1].append(index)
        return [chunk for chunks in groups.values() for chunk in chunks]

    def _transact(self, operations: list[tuple[Any, ...]]) -> list[str] | None:
        """Run one transaction; the new ETags, or None when any operation in it was refused."""
        from azure.data.tables import TableTransactionError  # noqa: PLC0415

        try:
            replies = self._table.submit_transaction(operations)
        except TableTransactionError:
            return None
        return [str(reply["etag"]) for reply in replies]

    def _settle(self, claimed: Incident, settled: Incident) -> None:
        """Write back a claimed incident; if a failure was counted meanwhile, merge our change into the new row."""
        from azure.core import MatchConditions  # noqa: PLC0415
        from azure.core.exceptions import ResourceModifiedError  # noqa: PLC0415
        from azure.data.tables import UpdateMode  # noqa: PLC0415

        patch = _email_patch(settled)
        try:
            self._table.update_entity(
                patch, mode=UpdateMode.MERGE, etag=claimed.etag, match_condition=MatchConditions.IfNotModified
            )
        except ResourceModifiedError:
            # A failure was counted while we sent (count, lastSeen changed): the email columns are still ours.
            self._table.update_entity(patch, mode=UpdateMode.MERGE)

    def expire(self, before: datetime, *, limit: int) -> int:
        """Delete closed incidents and job rows older than ``before``; at most ``limit`` rows per call."""
        self._ensure_table()
        rows = self._table.query_entities(
            "( kind eq 'incident' and state eq 'closed' and closedAt lt @t ) or ( kind eq 'job' and claimedAt lt @t )",
            parameters={"t": before},
            select=["PartitionKey", "RowKey"],
        )
        deleted = 0
        for row in rows:
            if deleted >= limit:
                break
            self._table.delete_entity(row["PartitionKey"], row["RowKey"])
            deleted += 1
        return deleted
