"""Incidents end to end on Azurite: one email per problem, reminders on time, a recovery notice, digests."""

from __future__ import annotations

import copy
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from backup_events.adapters.sample_jobs import SampleJobSource, bundled, bundled_jobs
from backup_events.adapters.table_store import TableIncidentStore
from backup_events.app.poll import poll_jobs
from backup_events.domain.identity import incident_key
from backup_events.domain.incidents import Policy
from tests.conftest import Clock
from tests.service.test_poll_jobs import emails_in, services

SQL_JOB = next(j for j in bundled_jobs() if j["properties"]["entityFriendlyName"].startswith("MSSQLSERVER/salesdb"))
VAULT_ID = SQL_JOB["id"].rsplit("/backupJobs/", 1)[0]
START = datetime(2026, 11, 25, 0, 0, tzinfo=UTC)


def sql_log_job(
    n: int, at: datetime, *, status: str = "Failed", item: str = "MSSQLSERVER/salesdb [vm-sql-01.contoso.com]"
) -> dict[str, Any]:
    """The n-th log backup of a database, at ``at``: failed with the same code each time, or completed."""
    job = copy.deepcopy(SQL_JOB)
    name = f"10000000-0000-4000-8000-{n:012d}"
    job["id"] = f"{VAULT_ID}/backupJobs/{name}"
    job["name"] = name
    props = job["properties"]
    props.update(
        entityFriendlyName=item,
        operation="Backup (Log)",
        status=status,
        startTime=at.isoformat(),
        endTime=(at + timedelta(minutes=1)).isoformat(),
    )
    if status != "Failed":
        props.pop("errorDetails", None)
    return job


class WindowedSource(SampleJobSource):
    """Sample source over a growing list of jobs that, like the jobs API, answers only for the asked window."""

    def __init__(self, jobs: list[dict[str, Any]]) -> None:
        super().__init__(jobs)
        self.all = jobs

    def vault_ids(self) -> list[str]:
        self._jobs = self.all
        return super().vault_ids()

    def jobs(self, vault_id: str, *, since: datetime, until: datetime, statuses: Any = ("Failed",)) -> Any:
        self._jobs = [j for j in self.all if since <= datetime.fromisoformat(j["properties"]["startTime"]) <= until]
        return super().jobs(vault_id, since=since, until=until, statuses=statuses)


def subjects(outbox: Path) -> list[str]:
    return [str(m["Subject"]) for m in emails_in(outbox)]


def test_a_sql_log_backup_failing_every_15_minutes_for_3_days_gives_one_email_two_reminders_and_one_recovery(
    table: Any, tmp_path: Path, clock: Clock
) -> None:
    policy = Policy(reminder_hours=(24, 72), digest_threshold=5, emails_per_run=5)
    jobs: list[dict[str, Any]] = []
    source = WindowedSource(jobs)
    sent_at: dict[str, datetime] = {}
    clock.now = START
    for n in range(3 * 96 + 8):  # a failed log backup every 15 minutes for three days and two hours
        jobs.append(sql_log_job(n, START + timedelta(minutes=15 * n)))
        clock.now = START + timedelta(minutes=15 * n + 5)
        if n % 4 == 0:  # the Timer runs hourly, looking back two hours
            svc = services(table, tmp_path, clock, source=source, policy=policy)
            svc = svc.changed(lookback=timedelta(hours=2))
            poll_jobs(svc)
            for subject in subjects(tmp_path):
                sent_at.setdefault(subject.split(" (")[0], clock.now)

    opened = "[Backup failed] vm-sql-01 / salesdb: OperationCancelledBecauseConflictingOperationRunningUserError"
    reminder = "[Backup still failing] vm-sql-01 / salesdb: OperationCancelledBecauseConflictingOperationRunningUserError"
    assert sorted(sent_at) == [opened, reminder]
    assert sent_at[opened] == START + timedelta(minutes=5)
    reminders = [s for s in subjects(tmp_path) if s.startswith("[Backup still failing]")]
    assert len(reminders) == 2
    unknown = "last good backup unknown"  # these runs read no protected item
    gaps = sorted(r.split(": ")[-1].split(" (")[1] for r in reminders)
    assert gaps == [f"{unknown}, 289 failures)", f"{unknown}, 97 failures)"]

    store = TableIncidentStore(table, clock=clock)
    incident = store.incident(
        incident_key(VAULT_ID, "vm-sql-01 / salesdb", "OperationCancelledBecauseConflictingOperationRunningUserError")
    )
    assert incident is not None and incident.count == 293 and incident.reminders_sent == 2

    # The next log backup succeeds: the incident closes, one recovery email says how long it was down.
    jobs.append(sql_log_job(10_000, clock.now + timedelta(minutes=10), status="Completed"))
    clock.advance(minutes=20)
    svc = services(table, tmp_path, clock, source=source, policy=policy)
    report = poll_jobs(svc.changed(lookback=timedelta(hours=2)))
    assert (report.recovered, report.recovery_emails) == (1, 1)
    recovered = [s for s in subjects(tmp_path) if s.startswith("[Backup recovered]")]
    assert len(recovered) == 1 and "296 failures" in recovered[0]
    assert len(emails_in(tmp_path)) == 4

    # Quiet afterwards: nothing more is owed.
    clock.advance(hours=30)
    assert poll_jobs(svc).emails_sent == 0


def test_two_instances_counting_the_same_failures_count_each_once_and_send_one_email(
    azurite: str, table_name: str, tmp_path: Path, clock: Clock
) -> None:
    from azure.data.tables import TableClient

    clock.now = START + timedelta(hours=6)
    jobs = [sql_log_job(n, START + timedelta(minutes=15 * n)) for n in range(20)]
    TableIncidentStore(TableClient.from_connection_string(azurite, table_name), clock=clock).incident_of_job("warm|up")
    barrier = threading.Barrier(2)
    reports = []

    def instance() -> None:
        svc = services(TableClient.from_connection_string(azurite, table_name), tmp_path, clock, source=SampleJobSource(jobs))
        barrier.wait()
        reports.append(poll_jobs(svc))

    threads = [threading.Thread(target=instance) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(r.opened for r in reports) == 1
    assert sum(r.opened + r.repeats for r in reports) == 20
    assert sum(r.emails_sent for r in reports) == 1
    store = TableIncidentStore(TableClient.from_connection_string(azurite, table_name), clock=clock)
    incident = store.incident(
        incident_key(VAULT_ID, "vm-sql-01 / salesdb", "OperationCancelledBecauseConflictingOperationRunningUserError")
    )
    assert incident is not None and incident.count == 20
    assert len(emails_in(tmp_path)) == 1


def test_a_storm_of_200_failures_across_50_items_is_one_digest_naming_every_item(
    table: Any, tmp_path: Path, clock: Clock
) -> None:
    clock.now = START + timedelta(hours=2)
    items = [f"MSSQLSERVER/db{i:02d} [vm-sql-{i:02d}.contoso.com]" for i in range(50)]
    jobs = [
        sql_log_job(i * 4 + k, START + timedelta(minutes=15 * k), item=item) for i, item in enumerate(items) for k in range(4)
    ]
    report = poll_jobs(
        services(table, tmp_path, clock, source=SampleJobSource(jobs), policy=Policy(digest_threshold=5, emails_per_run=5))
    )
    assert (report.failures, report.opened, report.repeats, report.digests, report.emails_sent) == (200, 50, 150, 1, 1)
    (digest,) = emails_in(tmp_path)
    assert digest["Subject"] == "[Backup failed] 50 new failures in 1 vault (digest)"
    body = digest.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    for i in range(50):
        assert f"vm-sql-{i:02d} / db{i:02d}" in body
    assert poll_jobs(services(table, tmp_path, clock, source=SampleJobSource(jobs))).emails_sent == 0


def test_a_small_batch_stays_individual_and_the_budget_defers_the_rest_to_the_next_run(
    table: Any, tmp_path: Path, clock: Clock
) -> None:
    clock.now = START + timedelta(hours=2)
    jobs = [sql_log_job(i, START, item=f"MSSQLSERVER/db{i} [vm-sql-{i}]") for i in range(4)]
    policy = Policy(digest_threshold=5, emails_per_run=3)
    first = poll_jobs(services(table, tmp_path, clock, source=SampleJobSource(jobs), policy=policy))
    assert (first.emails_sent, first.deferred, first.digests) == (3, 1, 0)
    second = poll_jobs(services(table, tmp_path, clock, source=SampleJobSource(jobs), policy=policy))
    assert (second.emails_sent, second.deferred) == (1, 0)
    assert len(emails_in(tmp_path)) == 4


def test_recovery_notices_can_be_turned_off_per_workload(table: Any, tmp_path: Path, clock: Clock) -> None:
    clock.now = START + timedelta(hours=1)
    jobs = [sql_log_job(0, START)]
    policy = Policy(recovery_workloads=frozenset({"Azure VM"}))
    poll_jobs(services(table, tmp_path, clock, source=SampleJobSource(jobs), policy=policy))
    jobs.append(sql_log_job(1, START + timedelta(minutes=70), status="Completed"))
    clock.advance(minutes=20)
    report = poll_jobs(services(table, tmp_path, clock, source=SampleJobSource(jobs), policy=policy))
    assert (report.recovered, report.recovery_emails) == (1, 0)
    assert len(emails_in(tmp_path)) == 1


def test_a_new_failure_after_recovery_opens_a_new_incident(table: Any, tmp_path: Path, clock: Clock) -> None:
    clock.now = START + timedelta(hours=1)
    jobs = [sql_log_job(0, START)]
    poll_jobs(services(table, tmp_path, clock, source=SampleJobSource(jobs)))
    jobs.append(sql_log_job(1, START + timedelta(minutes=70), status="Completed"))
    clock.advance(minutes=20)
    poll_jobs(services(table, tmp_path, clock, source=SampleJobSource(jobs)))
    jobs.append(sql_log_job(2, START + timedelta(minutes=100)))
    clock.advance(minutes=30)
    report = poll_jobs(services(table, tmp_path, clock, source=SampleJobSource(jobs)))
    assert report.opened == 1
    assert [s.split("]")[0] for s in subjects(tmp_path)].count("[Backup failed") == 2


def test_routes_send_each_vault_to_its_own_team(table: Any, tmp_path: Path, clock: Clock) -> None:

    from backup_events.domain.routing import parse_routes

    routes, _ = parse_routes("vault:rsv-files-weu=storage@contoso.com;rg:rg-data-jpe=dba@contoso.com,oncall@example.com")
    poll_jobs(services(table, tmp_path, clock).changed(routes=routes))
    to = {str(m["Subject"]): str(m["To"]) for m in emails_in(tmp_path)}
    assert to["[Backup failed] share-finance: UserErrorStorageAccountIsLocked"] == "storage@contoso.com"
    assert to["[Backup failed] vm-sql-01 / salesdb: OperationCancelledBecauseConflictingOperationRunningUserError"] == (
        "dba@contoso.com, oncall@example.com"
    )
    assert to["[Backup failed] vm-app-02: UserErrorGuestAgentStatusUnavailable"] == "oncall@example.com"


def test_an_item_whose_last_recovery_point_is_older_than_policy_plus_grace_gets_a_missed_backup_email_once(
    table: Any, tmp_path: Path, clock: Clock
) -> None:
    clock.now = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)
    svc = services(table, tmp_path, clock, source=SampleJobSource(), missed_grace=timedelta(hours=6))
    first = poll_jobs(svc)
    missed = [s for s in subjects(tmp_path) if s.startswith("[Backup missed]")]
    assert first.missed == 1
    assert missed == ["[Backup missed] vm-legacy-09: no recovery point for 3 d 13 h (policy DefaultPolicy)"]
    # Items already failing (vm-app-02 and friends) are told once, as failures, not again as missed.
    clock.advance(hours=1)
    assert poll_jobs(svc).missed == 0
    assert len([s for s in subjects(tmp_path) if s.startswith("[Backup missed]")]) == 1


def test_a_newer_recovery_point_closes_a_vm_incident_but_a_log_backup_does_not_close_a_failed_full(
    table: Any, tmp_path: Path, clock: Clock
) -> None:
    world = bundled()
    clock.now = datetime(2026, 11, 24, 23, 0, tzinfo=UTC)
    poll_jobs(services(table, tmp_path, clock, source=SampleJobSource()))  # vm-app-02 and salesdb (full) fail
    # Next morning: vm-app-02 has a new recovery point; salesdb's log backups keep succeeding.
    items = copy.deepcopy(world["protectedItems"])
    for vault_items in items.values():
        for raw in vault_items:
            if raw["properties"].get("friendlyName") in ("vm-app-02", "salesdb"):
                raw["properties"]["lastRecoveryPoint"] = "2026-11-25T04:30:00Z"
    jobs = world["value"] + [sql_log_job(7, datetime(2026, 11, 25, 4, 0, tzinfo=UTC), status="Completed")]
    clock.now = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)
    report = poll_jobs(
        services(table, tmp_path, clock, source=SampleJobSource(jobs, protected_items=items, policies=world["policies"]))
    )
    recovered = [s for s in subjects(tmp_path) if s.startswith("[Backup recovered]")]
    assert report.recovered == 1
    assert len(recovered) == 1 and recovered[0].startswith("[Backup recovered] vm-app-02: UserErrorGuestAgentStatusUnavailable")


def test_an_email_sent_by_an_instance_that_died_before_recording_it_is_not_sent_again(
    table: Any, tmp_path: Path, clock: Clock
) -> None:

    from backup_events.app.notify import message_for, notify
    from backup_events.app.recording import claim_emails
    from backup_events.app.services import RunReport
    from backup_events.domain.incidents import owing_query

    clock.now = START + timedelta(hours=1)
    svc = services(table, tmp_path, clock, source=SampleJobSource([sql_log_job(0, START)]))
    poll_jobs(svc.changed(policy=Policy(emails_per_run=0)))  # recorded; its email owed, none sent yet
    (owed,) = svc.deps.incidents.owing_email(owing_query(clock.now, svc.config.policy))
    # An instance claims the email, sends it, and dies before the ledger hears back.
    (claimed,) = claim_emails(svc.deps.incidents, [(owed, "opened")], clock.now)
    assert claimed is not None
    svc.deps.mailer.send(message_for(svc, claimed, "opened"))
    clock.advance(minutes=16)  # past the claim's lease: another instance takes it over
    report = RunReport()
    notify(svc, report)
    assert (report.emails_sent, len(emails_in(tmp_path))) == (0, 1)
    settled = svc.deps.incidents.incident(owed.key)
    assert settled is not None and settled.opened_email == "sent"


def test_a_routing_tag_on_the_vm_sends_its_emails_to_the_addresses_in_it(table: Any, tmp_path: Path, clock: Clock) -> None:

    world = bundled()
    vm = next(
        raw["properties"]["sourceResourceId"]
        for items in world["protectedItems"].values()
        for raw in items
        if raw["properties"].get("friendlyName") == "vm-app-02"
    )
    source = SampleJobSource(
        world["value"],
        protected_items=world["protectedItems"],
        policies=world["policies"],
        tags={vm: {"Backup-Alerts-To": "app-team@contoso.com; app-lead@contoso.com"}},
    )
    clock.now = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)
    svc = services(table, tmp_path, clock, source=source).changed(
        route_tag="backup-alerts-to", route_tag_domains=("contoso.com",)
    )
    poll_jobs(svc)
    to = {str(m["Subject"]): str(m["To"]) for m in emails_in(tmp_path)}
    assert to["[Backup failed] vm-app-02: UserErrorGuestAgentStatusUnavailable"] == (
        "oncall@example.com, app-team@contoso.com, app-lead@contoso.com"
    )
    assert to["[Backup failed] vm-db-03: ExtensionSnapshotFailedNoNetwork"] == "oncall@example.com"
