"""Every kind of email comes from the configured sender, each single one links into the configured portal (a
sovereign cloud's, say), and an email kept from before facts were recorded still carries our one header."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from backup_events.app import blind, facts, notify
from backup_events.domain.exposure import MISSED_CODE, ProtectedItem
from backup_events.domain.incidents import OPENED, RECOVERED, REMINDER, SENT, Incident, pack_mail
from backup_events.domain.model import EmailMessage, Workload
from backup_events.domain.watch import BLIND_CODE
from backup_events.mail import render
from backup_events.wire.alerts import parse_alert
from backup_events.wire.jobs import normalise_job
from tests import recorded
from tests.app.conftest import BuildServices
from tests.builders import make_incident
from tests.conftest import Clock

PORTAL = "https://portal.azure.us"
SENDER = "watch@contoso.example"
VAULT = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.RecoveryServices/vaults/v"


def failure(clock: Clock, item: str = "vm-a") -> Incident:
    job = normalise_job(recorded.one(recorded.VM_RESTORE_FAILED))
    return make_incident(VAULT, item, clock() - timedelta(hours=30), facts=facts.dumps(facts.FailureFacts(job)))


def missed(clock: Clock, item: str = "vm-m") -> Incident:
    point = clock() - timedelta(days=3)
    protected = ProtectedItem(
        vault_id=VAULT,
        item=item,
        workload=Workload.AZURE_VM,
        last_recovery_point=point,
        policy_name="DefaultPolicy",
        protection_state="Protected",
    )
    told = facts.dumps(facts.MissedFacts(protected, timedelta(days=1)))
    return make_incident(VAULT, item, clock() - timedelta(days=1), code=MISSED_CODE, facts=told)


def alert(clock: Clock) -> Incident:
    told = facts.dumps(facts.AlertFacts(parse_alert(recorded.document(recorded.REAL_ALERT))))
    return make_incident(VAULT, "db-1", clock() - timedelta(hours=1), facts=told)


def addressed_as_configured(message: EmailMessage) -> bool:
    return message.sender == SENDER and f'href="{PORTAL}/' in message.html and 'href="None' not in message.html


def test_every_single_email_comes_from_the_sender_and_links_into_the_portal_configured(
    build: BuildServices, clock: Clock
) -> None:
    svc = build(portal_url=PORTAL, sender=SENDER)
    told = replace(failure(clock), opened_email=SENT, emailed_at=clock() - timedelta(hours=30))
    recovered = replace(told, state="closed", closed_at=clock(), recovery_email="pending")
    messages = {
        "failure": notify.message_for(svc, failure(clock), OPENED),
        "missed": notify.message_for(svc, missed(clock), OPENED),
        "alert": notify.message_for(svc, alert(clock), OPENED),
        "reminder": notify.message_for(svc, told, REMINDER),
        "recovery": notify.message_for(svc, recovered, RECOVERED),
    }
    assert {name: addressed_as_configured(m) for name, m in messages.items()} == dict.fromkeys(messages, True)


def test_every_digest_comes_from_the_sender_configured(build: BuildServices, clock: Clock) -> None:
    svc = build(portal_url=PORTAL, sender=SENDER)
    new = [failure(clock, f"vm-{n}") for n in range(3)] + [missed(clock)]
    reminded = [replace(i, opened_email=SENT, emailed_at=clock() - timedelta(hours=30)) for i in new[:3]]
    digest = notify.digest_message(svc, new, OPENED, key="digest|k", recipients=("a@example.com",))
    reminders = notify.digest_message(svc, reminded, REMINDER, key="digest-reminder|k", recipients=("a@example.com",))
    assert (digest.sender, reminders.sender) == (SENDER, SENDER)


def test_a_missed_backup_in_a_digest_is_told_its_gap_up_to_now(build: BuildServices, clock: Clock) -> None:
    svc = build()
    digest = notify.digest_message(svc, [missed(clock)], OPENED, key="digest|k", recipients=("a@example.com",))
    assert "(3 d 0 h)" in digest.text


def test_an_email_kept_from_before_facts_is_sent_as_kept_with_our_one_header(build: BuildServices, clock: Clock) -> None:
    svc = build(sender=SENDER)
    kept = make_incident(VAULT, "vm-old", clock(), mail=pack_mail("[Backup failed] vm-old", "text", "<p>html</p>"))
    message = notify.message_for(svc, kept, OPENED)
    assert (message.subject, message.text, message.html, message.sender) == (
        "[Backup failed] vm-old",
        "text",
        "<p>html</p>",
        SENDER,
    )
    assert message.headers == render.headers_for(message.key)


def test_a_blind_spots_email_comes_from_the_sender_and_links_into_the_portal_configured(
    build: BuildServices, clock: Clock
) -> None:
    spot = blind.vault_spot(VAULT, "AuthorizationFailed", clock())
    incident = make_incident(VAULT, "v", clock(), code=BLIND_CODE, facts=facts.dumps(facts.BlindFacts(spot)))
    assert addressed_as_configured(notify.message_for(build(portal_url=PORTAL, sender=SENDER), incident, OPENED))
