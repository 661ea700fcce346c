"""Built-in alerts delivered by Event Grid: security alerts routed like failures, told once, retried when unsent."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from backup_events.adapters.outbox_mailer import OutboxMailer
from backup_events.app.alert_path import handle_alert_event
from backup_events.domain.identity import incident_key
from backup_events.domain.incidents import owing_query
from backup_events.domain.model import Workload
from backup_events.errors import RunFailedError
from tests.app.conftest import BuildServices
from tests.app.parts import (
    SECURITY_SUBJECT,
    VM_JOB,
    VM_SUBJECT,
    WORLD,
    ScriptedMailer,
    delivery,
    emails_in,
    failed_vm_job,
    job_alert,
    security_alert,
    settings,
    text_of,
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
    assert svc.deps.incidents.owing_email(owing_query(svc.deps.clock(), svc.config.policy)) == []


def _vault_alert(alert_id: str = "", *, category: str = "Security", fired: str | None = None) -> dict[str, Any]:
    alert = security_alert()
    essentials = alert["data"]["essentials"]
    if alert_id:
        essentials["alertId"] = essentials["alertId"].rsplit("/", 1)[0] + "/" + alert_id
    if fired is not None:
        essentials["firedDateTime"] = fired
    alert["data"]["alertContext"]["category"] = category
    return alert


def _one_off(store: Any, alert: dict[str, Any]) -> Any:
    essentials = alert["data"]["essentials"]
    vault_id = essentials["alertTargetIDs"][0]
    key = incident_key(vault_id, "rsv-prod-01", f"alert:{essentials['alertRule']}", job=essentials["alertId"])
    return store.incident(key)


def test_a_security_alert_is_kept_as_a_closed_one_off_incident_of_its_vault(build: BuildServices, store: Any) -> None:
    alert = _vault_alert()
    assert handle_alert_event(build(), delivery(alert)) == "told"
    incident = _one_off(store, alert)
    fired = datetime(2026, 3, 13, 11, 56, 13, 939234, tzinfo=UTC)
    assert (incident.vault_name, incident.item, incident.workload, incident.code) == (
        "rsv-prod-01",
        "rsv-prod-01",
        Workload.VAULT.value,
        "Soft Delete Disabled",
    )
    assert (incident.title, incident.docs_url, incident.state, incident.operation) == (
        "Soft delete has been disabled for the vault.",
        "",
        "closed",
        "Security alert",
    )
    assert (incident.opened_at, incident.last_seen, incident.closed_at) == (fired, fired, fired)
    assert incident.last_job == "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b"


def test_a_vault_alert_that_is_not_about_security_is_an_alert_incident(build: BuildServices, store: Any, outbox: Path) -> None:
    alert = _vault_alert(category="Configuration")
    assert handle_alert_event(build(), delivery(alert)) == "told"
    assert _one_off(store, alert).operation == "Alert"
    (message,) = emails_in(outbox)
    assert message["Subject"] == "[Backup alert] rsv-prod-01: Soft Delete Disabled"


def test_a_vault_alert_is_titled_by_the_first_300_characters_of_its_description(build: BuildServices, store: Any) -> None:
    alert = _vault_alert()
    alert["data"]["essentials"]["description"] = "d" * 400
    assert handle_alert_event(build(), delivery(alert)) == "told"
    assert _one_off(store, alert).title == "d" * 300


def test_a_vault_alert_without_a_fired_time_is_dated_when_it_arrives(build: BuildServices, store: Any, clock: Clock) -> None:
    alert = _vault_alert(fired="")
    assert handle_alert_event(build(), delivery(alert)) == "told"
    assert _one_off(store, alert).opened_at == clock()


def test_two_security_alerts_of_one_rule_on_one_vault_are_each_told_once(build: BuildServices, outbox: Path) -> None:
    first, second = _vault_alert("aaaaaaaa-0000-4000-8000-000000000001"), _vault_alert("aaaaaaaa-0000-4000-8000-000000000002")
    assert handle_alert_event(build(), delivery(first, "evt-1")) == "told"
    assert handle_alert_event(build(), delivery(second, "evt-2")) == "told"
    assert handle_alert_event(build(), delivery(second, "evt-3")) == "no email: told already"
    assert [m["Subject"] for m in emails_in(outbox)] == [SECURITY_SUBJECT] * 2


def test_an_event_that_carries_no_alert_object_is_rejected_not_retried(build: BuildServices, outbox: Path) -> None:
    assert handle_alert_event(build(), delivery(["not", "an", "alert"])).startswith("rejected: ")
    assert emails_in(outbox) == []


def test_a_second_failed_job_of_the_same_item_and_error_is_counted_into_its_open_incident(build: BuildServices) -> None:
    later = failed_vm_job(99, "vm-app-02", datetime(2026, 11, 25, 8, 0, tzinfo=UTC))
    assert handle_alert_event(build(), delivery(job_alert(VM_JOB), "evt-1")) == "told"
    assert handle_alert_event(build(), delivery(job_alert(later), "evt-2")) == "no email: counted into an open incident"


VM_ITEM_ID = next(
    raw["id"]
    for items in WORLD["protectedItems"].values()
    for raw in items
    if raw["properties"].get("friendlyName") == "vm-app-02"
)


def test_an_alert_whose_job_cannot_be_read_is_told_from_the_alert_under_its_protected_items_name(
    build: BuildServices, outbox: Path
) -> None:
    unreadable = failed_vm_job(98, "vm-app-02", datetime(2026, 11, 25, 8, 0, tzinfo=UTC))  # not in the jobs source
    alert = job_alert(unreadable)
    context = alert["data"]["alertContext"]
    for field in ("sourceId", "affectedItems", "linkedResourceId", "firstLevelContainerId"):
        context[field] = context[field].replace("vm-app-02", "vm-old-name")
    context["linkedResourceName"] = "vm-old-name"
    context["protectedItemId"] = VM_ITEM_ID.upper()
    assert handle_alert_event(build(), delivery(alert)) == "told"
    (message,) = emails_in(outbox)
    assert message["Subject"] == VM_SUBJECT
    assert "Built from the alert alone: the job's details could not be read (no job " in " ".join(text_of(message).split())


def test_an_alert_whose_job_cannot_be_read_keeps_the_alerts_own_item_name_when_no_protected_item_matches(
    build: BuildServices, outbox: Path
) -> None:
    alert = job_alert(failed_vm_job(97, "vm-app-02", datetime(2026, 11, 25, 8, 0, tzinfo=UTC)))
    context = alert["data"]["alertContext"]
    context["protectedItemId"] = ""
    assert handle_alert_event(build(), delivery(alert)) == "told"
    (message,) = emails_in(outbox)
    assert message["Subject"] == VM_SUBJECT


def test_an_alert_naming_a_job_the_jobs_api_says_completed_sends_nothing(build: BuildServices, outbox: Path) -> None:
    completed = next(j for j in WORLD["value"] if j["properties"]["status"] == "Completed")
    assert handle_alert_event(build(), delivery(job_alert(completed))) == "no email: the job's status is Completed, not Failed"
    assert list(outbox.glob("*.eml")) == []
