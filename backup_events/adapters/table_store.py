"""Incidents and their jobs in Azure Table Storage (``azure-data-tables``): it maps and queries, never decides.

Since the daily summary, a third kind of row sits in each vault's partition: ``kind`` run, one per vault and poll
(``claimedAt`` the run's time, its window and counts), keyed by the minute of the day so a vault holds at most a day
of them; the incident and job rows are as they always were.

Rows (unchanged since the first release, so no migration): per vault one partition (the vault id hashed: ARM ids
hold ``/``, which keys may not) with a row per incident (``kind`` incident, the incident's fields, ``itemKey``) and a
row per recorded job (``kind`` job, the incident it counted into). A ``Change`` and its job rows share the vault's
partition, so each lands in one entity-group transaction: ``create`` is the atomic claim of a job (409 when recorded
before), and every incident write is conditional on the ETag of the state this store handed out (409/412 when
another instance changed it first). Changes are packed into transactions of 100 operations; a refused transaction is
redone change by change, which tells exactly which one lost.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Callable, Collection, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from backup_events.domain.identity import item_key
from backup_events.domain.incidents import Change, Incident, Outcome, OwingQuery, with_email_state
from backup_events.domain.watch import VaultRun

if TYPE_CHECKING:
    from azure.data.tables import TableClient

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
    "digest": "digestKey",
    "facts": "facts",
    "mail": "mail",
}
_EMAIL_COLUMNS = ("openedEmail", "reminderState", "recoveryEmail", "remindersSent", "claimedAt", "emailedAt", "digestKey")
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
    """A table row back as an incident."""
    values = {attribute: entity.get(column) for attribute, column in _INCIDENT_FIELDS.items()}
    return Incident(key=entity["ledgerKey"], **{k: v for k, v in values.items() if v is not None})


def _email_patch(incident: Incident) -> dict[str, Any]:
    """Only the email-state columns of an incident (None clears a column), for MERGE updates."""
    entity = incident_entity(incident)
    return {"PartitionKey": entity["PartitionKey"], "RowKey": entity["RowKey"], **{k: entity.get(k) for k in _EMAIL_COLUMNS}}


class TableIncidentStore:
    """Implements ``ports.IncidentStore`` on one table."""

    def __init__(self, table: TableClient, *, clock: Callable[[], datetime]) -> None:
        self._table = table
        self._clock = clock
        self._table_ready = False
        self._lock = threading.Lock()
        self._known: dict[str, tuple[str, Incident]] = {}  # key → (ETag, the state handed out or written with it)

    # --- reads ---------------------------------------------------------------------------------------------

    def _ensure_table(self) -> None:
        if self._table_ready:
            return
        from azure.core.exceptions import HttpResponseError, ResourceExistsError  # noqa: PLC0415

        try:
            self._table.create_table()
        except ResourceExistsError:
            pass  # created by infra, or by another instance
        except HttpResponseError as exc:
            if exc.status_code != 403:
                raise
            # A data role scoped to the table itself may not create tables: infra created it; use it as it is.
        self._table_ready = True

    def _get(self, key: str) -> Any:
        from azure.core.exceptions import ResourceNotFoundError  # noqa: PLC0415

        self._ensure_table()
        partition, row = table_keys(key)
        try:
            return self._table.get_entity(partition, row)
        except ResourceNotFoundError:
            return None

    def _handed_out(self, entity: Any) -> Incident:
        incident = incident_of(entity)
        with self._lock:
            self._known[incident.key] = (str(entity.metadata["etag"]), incident)
        return incident

    def _incidents(self, query: str, **parameters: Any) -> list[Incident]:
        self._ensure_table()
        return [self._handed_out(row) for row in self._table.query_entities(query, parameters=parameters)]

    def incident(self, key: str) -> Incident | None:
        entity = self._get(key)
        return self._handed_out(entity) if entity is not None and entity.get("kind") == "incident" else None

    def incidents_in(self, vault_id: str, keys: Collection[str]) -> dict[str, Incident]:
        if not keys:
            return {}
        wanted = set(keys)
        found = self._incidents("PartitionKey eq @p and kind eq 'incident'", p=vault_partition(vault_id))
        return {i.key: i for i in found if i.key in wanted}

    def open_incidents(self, vault_id: str) -> list[Incident]:
        return self._incidents("PartitionKey eq @p and kind eq 'incident' and state eq 'open'", p=vault_partition(vault_id))

    def owing_email(self, query: OwingQuery) -> list[Incident]:
        # The SDK substitutes @parameters in words split on spaces: keep a space around every parenthesis.
        clauses = ["openedEmail ne 'sent'", "recoveryEmail eq 'pending'", "recoveryEmail eq 'sending'"]
        parameters: dict[str, Any] = {}
        for k, (opened_before, emailed_before) in enumerate(query.reminders):
            parameters[f"opened{k}"], parameters[f"emailed{k}"] = opened_before, emailed_before
            clauses.append(
                f"( state eq 'open' and remindersSent eq {k} and openedAt le @opened{k} and emailedAt le @emailed{k} )"
            )
        return self._incidents("kind eq 'incident' and ( " + " or ".join(clauses) + " )", **parameters)

    def recorded_jobs(self, vault_id: str) -> set[str]:
        self._ensure_table()
        rows = self._table.query_entities(
            "PartitionKey eq @p and kind eq 'job'", parameters={"p": vault_partition(vault_id)}, select=["ledgerKey"]
        )
        return {str(row["ledgerKey"]) for row in rows}

    def incident_of_job(self, job_key: str) -> str | None:
        entity = self._get(job_key)
        return str(entity["incident"]) if entity is not None and entity.get("incident") else None

    # --- writes --------------------------------------------------------------------------------------------

    def commit(self, changes: Sequence[Change]) -> list[Outcome]:
        """Every change, packed into transactions per partition; a refused transaction is redone change by change."""
        self._ensure_table()
        outcomes: list[Outcome | None] = [None] * len(changes)
        planned = [self._operations(change) for change in changes]
        for chunk in self._chunks(changes, planned):
            if len(chunk) > 1 and self._land([changes[i] for i in chunk], [planned[i] for i in chunk]) is not None:
                for i in chunk:
                    outcomes[i] = Outcome.LANDED
                continue
            for i in chunk:
                outcomes[i] = self._land_one(changes[i], planned[i])
        return [o or Outcome.CONFLICT for o in outcomes]

    def _operations(self, change: Change) -> list[tuple[Any, ...]] | None:
        """The change as transaction operations, the incident's first; None when its ``before`` is not what we know."""
        from azure.core import MatchConditions  # noqa: PLC0415
        from azure.data.tables import UpdateMode  # noqa: PLC0415

        incident_op: tuple[Any, ...]
        if change.email_only and change.unconditional:
            incident_op = ("update", _email_patch(change.after), {"mode": UpdateMode.MERGE})
        elif change.before is None:
            incident_op = ("create", incident_entity(change.after))
        else:
            with self._lock:
                known = self._known.get(change.before.key)
            if known is None or known[1] != change.before:
                return None  # we cannot vouch for the state the change was made from: it must be read again
            options = {"etag": known[0], "match_condition": MatchConditions.IfNotModified}
            if change.email_only:
                incident_op = ("update", _email_patch(change.after), {"mode": UpdateMode.MERGE, **options})
            else:
                incident_op = ("update", incident_entity(change.after), {"mode": UpdateMode.REPLACE, **options})
        return [incident_op] + [("create", self._job_row(job, change.after.key)) for job in change.jobs]

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

    @staticmethod
    def _chunks(changes: Sequence[Change], planned: Sequence[list[tuple[Any, ...]] | None]) -> list[list[int]]:
        """Indexes grouped by partition, at most 100 operations and one change per incident a group."""
        groups: dict[str, list[list[int]]] = {}
        sizes: dict[int, int] = {}
        for index, (change, operations) in enumerate(zip(changes, planned, strict=True)):
            chunks = groups.setdefault(table_keys(change.after.key)[0], [[]])
            size = len(operations or ())
            current = chunks[-1]
            full = sum(sizes[i] for i in current) + size > _BATCH
            if current and (full or any(changes[i].after.key == change.after.key for i in current)):
                chunks.append([])
            chunks[-1].append(index)
            sizes[index] = size
        return [chunk for chunks in groups.values() for chunk in chunks if chunk]

    def _land(self, changes: Sequence[Change], planned: Sequence[list[tuple[Any, ...]] | None]) -> list[str] | None:
        """One transaction for these changes; the incidents' new ETags, or None when any operation was refused."""
        from azure.data.tables import TableTransactionError  # noqa: PLC0415

        if any(operations is None for operations in planned):
            return None
        operations = [op for ops in planned for op in ops or ()]
        if len(operations) > _BATCH:
            raise ValueError(f"a change of {len(operations)} operations does not fit one transaction ({_BATCH})")
        try:
            replies = self._table.submit_transaction(operations)
        except TableTransactionError:
            return None
        etags, position = [], 0
        for change, ops in zip(changes, planned, strict=True):
            etags.append(str(replies[position]["etag"]))
            self._remember(change, etags[-1])
            position += len(ops or ())
        return etags

    def _land_one(self, change: Change, operations: list[tuple[Any, ...]] | None) -> Outcome:
        from azure.core.exceptions import ResourceNotFoundError  # noqa: PLC0415
        from azure.data.tables import TableTransactionError  # noqa: PLC0415

        if operations is None:
            return Outcome.CONFLICT
        try:
            replies = self._table.submit_transaction(operations)
        except TableTransactionError as exc:
            self._forget(change.after.key)
            return Outcome.DUPLICATE if exc.index and exc.status_code == 409 else Outcome.CONFLICT
        except ResourceNotFoundError:  # the incident was expired meanwhile
            self._forget(change.after.key)
            return Outcome.CONFLICT
        self._remember(change, str(replies[0]["etag"]))
        return Outcome.LANDED

    def _remember(self, change: Change, etag: str) -> None:
        if change.email_only and change.unconditional:
            self._forget(change.after.key)  # the row's other columns are whatever they were: read again
            return
        state = with_email_state(change.before, change.after) if change.email_only and change.before else change.after
        with self._lock:
            self._known[change.after.key] = (etag, state)

    def _forget(self, key: str) -> None:
        with self._lock:
            self._known.pop(key, None)

    def spend_mail(self, hour: str, wanted: int, limit: int) -> int:
        """One row a budget hour (``kind`` budget, ``spent``), updated under its ETag: exact with any number of instances."""
        from azure.core import MatchConditions  # noqa: PLC0415
        from azure.core.exceptions import ResourceExistsError, ResourceModifiedError  # noqa: PLC0415
        from azure.data.tables import UpdateMode  # noqa: PLC0415

        self._ensure_table()
        for _ in range(10):
            row = self._get(f"mail-budget|{hour}")
            spent = int(row["spent"]) if row is not None else 0
            given = max(0, min(wanted, limit - spent))
            if given == 0:
                return 0
            partition, row_key = table_keys(f"mail-budget|{hour}")
            entity = {
                "PartitionKey": partition,
                "RowKey": row_key,
                "kind": "budget",
                "spent": spent + given,
                "claimedAt": self._clock(),
            }
            try:
                if row is None:
                    self._table.create_entity(entity)
                else:
                    conditions = {"etag": row.metadata["etag"], "match_condition": MatchConditions.IfNotModified}
                    self._table.update_entity(entity, mode=UpdateMode.REPLACE, **conditions)
            except (ResourceExistsError, ResourceModifiedError):
                continue  # another instance spent some meanwhile: read again
            return given
        return 0  # the budget kept changing under us: send nothing now, the next run tries again

    def expire(self, before: datetime, *, limit: int) -> int:
        """Delete closed incidents, job rows and spent mail budgets older than ``before``; at most ``limit`` rows per call."""
        self._ensure_table()
        rows = self._table.query_entities(
            "( kind eq 'incident' and state eq 'closed' and closedAt lt @t ) or ( kind eq 'job' and claimedAt lt @t )"
            " or ( kind eq 'budget' and claimedAt lt @t ) or ( kind eq 'run' and claimedAt lt @t )",
            parameters={"t": before},
            select=["PartitionKey", "RowKey", "ledgerKey"],
        )
        deleted = 0
        for row in rows:
            if deleted >= limit:
                break
            self._table.delete_entity(row["PartitionKey"], row["RowKey"])
            self._forget(str(row.get("ledgerKey", "")))
            deleted += 1
        return deleted

    # --- what each run saw (the daily summary) ----------------------------------------------------------------

    def record_runs(self, runs: Sequence[VaultRun]) -> None:
        """One row a vault and run (``kind`` run), upserted: a run written twice is one row.

        The row is keyed by the run's minute of the day, so tomorrow's run at the same minute takes yesterday's row:
        a vault never holds more than a day of runs (1,440 rows at most), however many vaults, without deleting any.
        The summary reads only the last 24 hours; ``expire`` removes the rows of vaults no longer polled.
        """
        from azure.data.tables import UpdateMode  # noqa: PLC0415

        self._ensure_table()
        for run in runs:
            key = f"{run.vault_id.rstrip('/').casefold()}|run-{run.at.astimezone(UTC):%H%M}"
            partition, row = table_keys(key)
            entity = {
                "PartitionKey": partition,
                "RowKey": row,
                "kind": "run",
                "ledgerKey": key[:1000],
                "claimedAt": run.at,
                "vaultId": run.vault_id[:_MAX_TEXT],
                "vaultName": run.vault_name[:_MAX_TEXT],
                "windowHours": run.window_hours,
                "readable": run.readable,
                "succeeded": run.succeeded,
                "failed": run.failed,
                "error": run.error[:_MAX_TEXT],
            }
            self._table.upsert_entity(entity, mode=UpdateMode.REPLACE)

    def runs_since(self, since: datetime) -> list[VaultRun]:
        self._ensure_table()
        rows = self._table.query_entities("kind eq 'run' and claimedAt ge @t", parameters={"t": since})
        runs = [
            VaultRun(
                vault_id=str(row["vaultId"]),
                vault_name=str(row["vaultName"]),
                at=row["claimedAt"],
                window_hours=int(row["windowHours"]),
                readable=bool(row["readable"]),
                succeeded=int(row["succeeded"]),
                failed=int(row["failed"]),
                error=str(row.get("error") or ""),
            )
            for row in rows
        ]
        return sorted(runs, key=lambda r: (r.at, r.vault_id.casefold()))

    def incidents_since(self, since: datetime) -> list[Incident]:
        return self._incidents("kind eq 'incident' and ( state eq 'open' or closedAt ge @t )", t=since)
