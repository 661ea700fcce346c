"""Reminders and recovery notices tell the code as the first email told it, how long the item has had no good backup
and why that is unknown when it is, and the catalog's words in the reader's language."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from backup_events.app import facts, notify
from backup_events.domain.incidents import OPENED, PENDING, RECOVERED, REMINDER, SENT, Incident, pack_mail
from backup_events.domain.model import JobError
from backup_events.wire.alerts import parse_alert
from backup_events.wire.jobs import normalise_job
from tests import recorded
from tests.app.conftest import BuildServices
from tests.app.parts import VM_CODE
from tests.builders import make_incident
from tests.conftest import Clock

VAULT = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.RecoveryServices/vaults/v"
JOB = normalise_job(recorded.one(recorded.VM_RESTORE_FAILED))  # RestoreOperationFailed (400003)


def told(clock: Clock, told_facts: object | None, **changes: object) -> Incident:
    """An open incident told 30 hours ago, recorded with these facts (None: before facts were kept)."""
    opened = clock() - timedelta(hours=30)
    kept = {"facts": facts.dumps(told_facts)} if told_facts is not None else {"mail": pack_mail("s", "t", "<p>h</p>")}
    return make_incident(VAULT, "vm-a", opened, opened_email=SENT, emailed_at=opened, **{**kept, **changes})  # type: ignore[arg-type]


def test_a_codeless_failure_an_alert_named_is_told_by_the_alerts_code_first_and_in_its_reminders(
    build: BuildServices, clock: Clock
) -> None:
    codeless = replace(JOB, errors=(JobError(code="", number=None, message="it broke", recommendations=()),))
    failure = facts.FailureFacts(codeless, last_good=clock() - timedelta(days=2), extra_codes=("usererrorvmnotfoundv2",))
    incident = told(clock, failure)
    first = notify.message_for(build(), replace(incident, opened_email=PENDING), OPENED)
    reminder = notify.message_for(build(), incident, REMINDER)
    assert first.subject.endswith(": UserErrorVmNotFoundV2")
    assert reminder.subject == "[Backup still failing] vm-a: UserErrorVmNotFoundV2 (no good backup for 2 d 0 h, 1 failure)"


def test_a_reminder_says_why_the_last_good_point_is_unknown(build: BuildServices, clock: Clock) -> None:
    reminder = notify.message_for(build(), told(clock, facts.FailureFacts(JOB, unknown="not-found")), REMINDER)
    assert "RestoreOperationFailed (last good backup unknown, 1 failure)" in reminder.subject
    assert "the item is not among the vault's protected items" in reminder.text


def test_a_japanese_reminder_has_the_catalogs_japanese_title_and_link(build: BuildServices, clock: Clock) -> None:
    incident = told(clock, facts.FailureFacts(JOB), code=VM_CODE)
    reminder = notify.message_for(build(language="ja"), incident, REMINDER)
    assert "VM エージェントが Azure Backup と通信できません" in reminder.text
    assert "https://learn.microsoft.com/ja-jp/azure/backup/" in reminder.text


def test_reminders_and_recoveries_of_alerts_and_of_incidents_kept_before_facts_are_told_by_the_incidents_code(
    build: BuildServices, clock: Clock
) -> None:
    alert = facts.AlertFacts(parse_alert(recorded.document(recorded.REAL_ALERT)))
    for incident in (told(clock, alert), told(clock, None)):
        closed = replace(incident, state="closed", closed_at=clock(), recovery_email=PENDING)
        assert notify.message_for(build(), incident, REMINDER).subject.startswith("[Backup still failing] vm-a: Code (")
        assert notify.message_for(build(), closed, RECOVERED).subject.startswith("[Backup recovered] vm-a: Code (")


def test_a_japanese_reminder_of_a_failure_without_a_code_names_it_by_the_catalogs_japanese_title(
    build: BuildServices, clock: Clock
) -> None:
    mars = replace(JOB, errors=(JobError(code="", number=100050, message="Cannot connect", recommendations=()),))
    reminder = notify.message_for(build(language="ja"), told(clock, facts.FailureFacts(mars)), REMINDER)
    assert "vm-a: バックアップ エージェントが Azure Backup に接続できません (" in reminder.subject
