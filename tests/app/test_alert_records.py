"""A job failure from a built-in alert is recorded like the Timer's: read in full once, coded, named, routed and
decided the same way; a vault alert redelivered while its email is being sent is retried."""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from backup_events.adapters.memory_store import MemoryIncidentStore
from backup_events.adapters.outbox_mailer import OutboxMailer
from backup_events.adapters.sample_jobs import SampleJobSource
from backup_events.app import facts, recording
from backup_events.app.alert_path import handle_alert_event
from backup_events.app.poll import poll_jobs
from backup_events.domain.incidents import OPENED, Incident, Policy, owing_query
from backup_events.domain.operations import OperationKind
from backup_events.domain.watch import is_blind
from backup_events.errors import RunFailedError
from backup_events.ports import IncidentStore
from tests.app.conftest import BuildServices, app_services
from tests.app.parts import VAULTS, VM_CODE, VM_JOB, WORLD, ScriptedMailer, delivery, failed_vm_job, job_alert, security_alert
from tests.app.test_blind_spots import BROKEN, VaultForbidden
from tests.app.test_recovery import protected
from tests.app.test_routing_tags import tagged_vm
from tests.app.test_vault_poll import CountingSource
from tests.conftest import Clock

WEU = VAULTS["rsv-prod-weu"]


def incidents_of(store: IncidentStore, item: str) -> list[Incident]:
    return [i for i in store.incidents_since(datetime(2000, 1, 1, tzinfo=UTC)) if i.item == item]


def test_a_redelivered_vault_alert_whose_email_is_being_sent_raises_so_event_grid_retries(
    build: BuildServices, clock: Clock
) -> None:
    svc = build(policy=Policy(emails_per_run=0, digest_threshold=100))  # recorded, email owed
    handle_alert_event(svc, delivery(security_alert()))
    (owed,) = svc.deps.incidents.owing_email(owing_query(clock(), svc.config.policy))
    recording.claim_emails(svc.deps.incidents, [(owed, OPENED)], clock())  # another instance is sending it right now
    with pytest.raises(RunFailedError, match="claimed and not settled"):
        handle_alert_event(build(), delivery(security_alert(), "evt-again"))


def test_an_alerts_job_is_read_in_full_once(build: BuildServices) -> None:
    source = CountingSource()
    assert handle_alert_event(build(source=source), delivery(job_alert(VM_JOB))) == "told"
    assert [d.casefold() for d in source.details] == [f"{WEU}/backupJobs/{VM_JOB['name']}".casefold()]


def test_an_alerted_failure_is_routed_by_its_resources_tag(build: BuildServices, store: IncidentStore) -> None:
    svc = build(source=tagged_vm("app@contoso.com"), route_tag="backup-alerts-to", route_tag_domains=("contoso.com",))
    assert handle_alert_event(svc, delivery(job_alert(VM_JOB))) == "told"
    assert [i.route_to for i in incidents_of(store, "vm-app-02")] == ["app@contoso.com"]


def unlisted(job: dict[str, Any]) -> dict[str, Any]:
    """The job with an error the catalog does not know, in code and words."""
    job = copy.deepcopy(job)
    job["properties"]["errorDetails"] = [{"errorCode": "UnlistedCode", "errorString": "Something odd happened."}]
    if isinstance(job["properties"].get("extendedInfo"), dict):
        job["properties"]["extendedInfo"].pop("dynamicErrorMessage", None)
    return job


def test_the_alerts_code_explains_a_job_whose_own_error_the_catalog_does_not_know(
    build: BuildServices, store: IncidentStore
) -> None:
    job = unlisted(VM_JOB)
    svc = build(source=SampleJobSource(jobs=[job]))
    assert handle_alert_event(svc, delivery(job_alert(job))) == "told"
    (incident,) = incidents_of(store, "vm-app-02")
    entry = svc.deps.catalog.by_code[VM_CODE.casefold()]
    assert (incident.title, incident.docs_url) == (entry.title, entry.docs_url)


def test_an_alert_that_carries_no_code_tells_the_jobs_own(build: BuildServices, store: IncidentStore) -> None:
    job = unlisted(VM_JOB)
    alert = job_alert(job)
    alert["data"]["essentials"]["originAlertId"] = "3141592653589793238_0_1"
    alert["data"]["alertContext"]["extendedInfo"]["recommendedActions"] = "See the portal."
    assert handle_alert_event(build(source=SampleJobSource(jobs=[job])), delivery(alert)) == "told"
    (incident,) = incidents_of(store, "vm-app-02")
    assert incident.code == "UnlistedCode"


def test_an_alert_whose_job_cannot_be_read_is_coded_by_the_alert_and_named_by_its_own_protected_item(
    build: BuildServices, store: IncidentStore, clock: Clock
) -> None:
    lost = failed_vm_job(98, "vm-app-02", clock() - timedelta(hours=1))  # not in the jobs source
    items = {
        WEU: [
            protected("vm-other", clock()),
            *WORLD["protectedItems"][next(k for k in WORLD["protectedItems"] if k.casefold() == WEU.casefold())],
        ]
    }
    source = SampleJobSource(jobs=[VM_JOB], protected_items=items)
    assert handle_alert_event(build(source=source), delivery(job_alert(lost))) == "told"
    (incident,) = incidents_of(store, "vm-app-02")
    assert (incident.code, [e.code for e in facts.loads(incident.facts).job.errors]) == (VM_CODE, [VM_CODE])


class TimerFirst(MemoryIncidentStore):
    """The store, with a Timer run recording everything right after the alert path's first look in the ledger."""

    def __init__(self, clock: Clock) -> None:
        super().__init__(clock=clock)
        self.meanwhile: Callable[[], object] | None = None

    def incident_of_job(self, job_key: str) -> str | None:
        answer = super().incident_of_job(job_key)
        if self.meanwhile is not None:
            run, self.meanwhile = self.meanwhile, None
            run()
        return answer


def test_an_alert_that_loses_the_race_to_the_timer_is_told_already(outbox: Path, clock: Clock) -> None:
    store = TimerFirst(clock)
    build = functools.partial(app_services, store, outbox, clock)
    store.meanwhile = lambda: poll_jobs(build())
    assert handle_alert_event(build(), delivery(job_alert(VM_JOB))) == "no email: told already"
    assert len(incidents_of(store, "vm-app-02")) == 1


def test_an_alert_read_again_ends_its_vaults_blind_spot_when_it_arrives(
    build: BuildServices, store: IncidentStore, clock: Clock
) -> None:
    source = VaultForbidden()
    for _ in range(4):
        poll_jobs(build(source=source))
        clock.advance(minutes=15)
    (spot,) = [i for i in store.open_incidents(BROKEN) if is_blind(i)]
    source.healed = True
    handle_alert_event(build(source=source), delivery(job_alert(VM_JOB)))
    ended = store.incident(spot.key)
    assert ended is not None and (ended.state, ended.closed_at) == ("closed", clock())


def test_a_restore_failures_alert_is_not_told_when_only_backups_are(build: BuildServices, store: IncidentStore) -> None:
    job = copy.deepcopy(VM_JOB)
    job["properties"]["operation"] = "Restore"
    svc = build(source=SampleJobSource(jobs=[job]), tell_operations=frozenset({OperationKind.BACKUP}))
    assert handle_alert_event(svc, delivery(job_alert(job))).startswith("no email: restore failures are not told")
    assert incidents_of(store, "vm-app-02") == []


def test_an_alert_whose_emails_cannot_be_sent_fails_naming_each_of_them(build: BuildServices, outbox: Path, clock: Clock) -> None:
    source = VaultForbidden()
    for _ in range(4):
        poll_jobs(build(source=source))
        clock.advance(minutes=15)
    source.healed = True
    mailer = ScriptedMailer(OutboxMailer(outbox, clock=clock), failing=range(1, 10))
    with pytest.raises(RunFailedError) as failed:
        handle_alert_event(build(source=source, mailer=mailer), delivery(job_alert(VM_JOB)))
    assert str(failed.value).split("; ") == [
        f"email '[Backup failed] vm-app-02: {VM_CODE}' not sent: 503 unavailable",
        "email '[Can see again] rsv-prod-weu: read again after 1 h 00 min blind' not sent: 503 unavailable",
    ]
