"""Built-in alerts delivered by Event Grid: security alerts routed like failures, told once, retried when unsent."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from backup_events.adapters.outbox_mailer import OutboxMailer
from backup_events.app.alert_path import handle_alert_event
from backup_events.domain.incidents import owing_query
from backup_events.errors import RunFailedError
from tests.app.conftest import BuildServices
from tests.app.parts import (
    SECURITY_SUBJECT,
    VM_JOB,
    VM_SUBJECT,
    ScriptedMailer,
    delivery,
    emails_in,
    job_alert,
    security_alert,
    settings,
)
from tests.conftest import Clock


def test_a_security_alert_goes_to_the_route_for_its_vault_not_to_the_default_recipients(
    build: BuildServices, outbox: Path
) -> None:
    routes = settings(BACKUP_ROUTES="vault:rsv-prod-01=security@contoso.com").routes
    assert handle_alert_event(build(routes=routes), delivery(security_alert())) == "told"
    (message,) = emails_in(outbox)
    assert (message["Subject"], message["To"]) == (SECURITY_SUBJECT, "security@contoso.com")


def test_a_security_alert_whose_send_failed_is_sent_by_the_next_delivery(
    build: BuildServices, outbox: Path, clock: Clock
) -> None:
    mailer = ScriptedMailer(OutboxMailer(outbox, clock=clock), failing={1})
    with pytest.raises(RunFailedError, match="not sent"):  # so Event Grid delivers it again
        handle_alert_event(build(mailer=mailer), delivery(security_alert()))
    assert handle_alert_event(build(mailer=mailer), delivery(security_alert())) == "told"
    assert handle_alert_event(build(mailer=mailer), delivery(security_alert())) == "no email: told already"
    assert [m.subject for m in mailer.sent] == [SECURITY_SUBJECT]


SAME_ALERT_FIRED_AND_RESOLVED = pytest.mark.parametrize(
    ("alert", "subject"),
    [(security_alert, SECURITY_SUBJECT), (lambda condition: job_alert(VM_JOB, condition), VM_SUBJECT)],
    ids=["security alert", "job failure alert"],
)


@SAME_ALERT_FIRED_AND_RESOLVED
def test_a_resolved_alert_after_its_fired_one_sends_nothing_and_leaves_that_email_as_it_was(
    build: BuildServices, outbox: Path, clock: Clock, alert: Callable[[str], dict[str, Any]], subject: str
) -> None:
    mailer = ScriptedMailer(OutboxMailer(outbox, clock=clock))
    assert handle_alert_event(build(mailer=mailer), delivery(alert("Fired"), "evt-fired")) == "told"
    written = {path.name: path.read_bytes() for path in outbox.iterdir()}
    clock.advance(hours=2)
    assert handle_alert_event(build(mailer=mailer), delivery(alert("Resolved"), "evt-resolved")).startswith("no email")
    assert [m.subject for m in mailer.sent] == [subject]
    assert {path.name: path.read_bytes() for path in outbox.iterdir()} == written


@SAME_ALERT_FIRED_AND_RESOLVED
def test_a_resolved_alert_arriving_before_its_fired_one_does_not_stop_the_fired_one_being_told_once(
    build: BuildServices, outbox: Path, clock: Clock, alert: Callable[[str], dict[str, Any]], subject: str
) -> None:
    mailer = ScriptedMailer(OutboxMailer(outbox, clock=clock))
    assert handle_alert_event(build(mailer=mailer), delivery(alert("Resolved"), "evt-resolved")).startswith("no email")
    assert mailer.sent == []
    assert handle_alert_event(build(mailer=mailer), delivery(alert("Fired"), "evt-fired")) == "told"
    assert handle_alert_event(build(mailer=mailer), delivery(alert("Fired"), "evt-fired")) == "no email: told already"
    assert [m.subject for m in mailer.sent] == [subject]


def test_an_alert_about_a_vault_that_is_not_watched_is_ignored_and_records_nothing(build: BuildServices, outbox: Path) -> None:
    forged = job_alert(VM_JOB)
    forged["data"]["essentials"]["alertTargetIDs"] = [
        "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg/providers/Microsoft.RecoveryServices/vaults/not-ours"
    ]
    svc = build()
    assert handle_alert_event(svc, delivery(forged)) == "ignored: the vault is not watched"
    assert list(outbox.glob("*.eml")) == []
    assert svc.incidents.owing_email(owing_query(svc.clock(), svc.policy)) == []
