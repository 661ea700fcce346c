"""Incidents keep facts, not emails: what the first email is written from when it is sent, bounded whatever Azure sent."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from backup_events.app.facts import MAX_TEXT, AlertFacts, FailureFacts, MissedFacts, dumps, loads
from backup_events.domain.exposure import ProtectedItem
from backup_events.domain.model import JobError, Workload
from backup_events.wire.alerts import parse_alert
from backup_events.wire.exported import resources_in
from backup_events.wire.jobs import normalise_job
from tests import recorded

RECORDED_JOBS = [
    resource
    for path in sorted(recorded.RECORDED.glob("jobs/*.json"))
    for resource in resources_in(recorded.document(path.relative_to(recorded.RECORDED).as_posix()))
]


@pytest.mark.parametrize("raw", RECORDED_JOBS, ids=lambda raw: str(raw.get("name")))
def test_every_recorded_job_comes_back_from_its_facts_unchanged(raw: dict[str, object]) -> None:
    told = FailureFacts(normalise_job(raw), datetime(2026, 11, 25, 3, 0, tzinfo=UTC), ("usererrorvmnotfoundv2",))
    assert loads(dumps(told)) == told


def test_an_80_kb_error_text_is_stored_bounded() -> None:
    job = normalise_job(recorded.one(recorded.VM_RESTORE_FAILED))
    huge = replace(
        job, errors=(JobError(code="X", number=1, message="é" * 80_000, recommendations=("r",) * 500),), detail="d" * 90_000
    )
    text = dumps(FailureFacts(huge))
    assert len(text) < 30_000  # a Table string property holds 32K UTF-16 characters
    back = loads(text)
    assert isinstance(back, FailureFacts) and back.job.error is not None
    assert len(back.job.error.message) == MAX_TEXT and back.job.error.message.endswith("…")
    assert len(back.job.error.recommendations) == 20


def test_missed_backup_and_alert_facts_come_back_unchanged() -> None:
    item = ProtectedItem(
        vault_id="/subscriptions/s/resourceGroups/r/providers/Microsoft.RecoveryServices/vaults/v",
        item="vm-legacy-09",
        workload=Workload.AZURE_VM,
        last_recovery_point=datetime(2026, 11, 20, 22, 0, tzinfo=UTC),
        policy_name="DefaultPolicy",
        protection_state="Protected",
    )
    missed = MissedFacts(item, timedelta(days=1))
    alert = AlertFacts(parse_alert(recorded.document(recorded.REAL_ALERT)))
    assert (loads(dumps(missed)), loads(dumps(alert))) == (missed, alert)
    assert json.loads(dumps(alert))["kind"] == "alert"


def test_an_incident_recorded_by_the_previous_release_sends_the_email_it_kept(tmp_path: object) -> None:
    from pathlib import Path

    from backup_events.adapters.memory_store import MemoryIncidentStore
    from backup_events.adapters.outbox_mailer import OutboxMailer
    from backup_events.adapters.sample_jobs import SampleJobSource
    from backup_events.app.notify import notify
    from backup_events.app.recording import record_failure
    from backup_events.app.services import RunReport, Services
    from backup_events.domain import remediation
    from backup_events.domain.incidents import pack_mail
    from tests.builders import make_incident

    outbox = Path(str(tmp_path))
    now = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    store = MemoryIncidentStore(clock=lambda: now)
    vault = "/subscriptions/s/resourceGroups/r/providers/Microsoft.RecoveryServices/vaults/v"
    legacy = make_incident(vault, "vm-old", now, mail=pack_mail("[Backup failed] vm-old: Code", "kept text", "<p>kept</p>"))
    record_failure(store, f"{vault.casefold()}|job-1", legacy)
    services = Services.of(
        source=SampleJobSource([]),
        incidents=store,
        mailer=OutboxMailer(outbox, clock=lambda: now),
        catalog=remediation.load(),
        clock=lambda: now,
        sender="backup-events@example.com",
        recipients=("oncall@example.com",),
        portal_url="https://portal.azure.com",
        lookback=timedelta(hours=24),
    )
    report = RunReport()
    notify(services, report)
    assert report.emails_sent == 1
    (eml,) = outbox.glob("*.eml")
    assert "[Backup failed] vm-old: Code" in eml.read_text() and "kept text" in eml.read_text()
