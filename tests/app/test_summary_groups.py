"""The daily summary per group: one group's failure never stops another's, what was sent is not sent again that day
(but is the next day, in the configured time zone), each summary counts into the hourly mail budget, and a group whose
vaults no run read still says the estate was polled."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from backup_events.adapters.acs_mailer import operation_id_for
from backup_events.adapters.outbox_mailer import OutboxMailer
from backup_events.app import summary
from backup_events.app.poll import poll_jobs
from backup_events.domain.incidents import Change, hour_of
from backup_events.errors import RunFailedError
from backup_events.ports import IncidentStore
from tests.app.conftest import ROOMY, SENDER, BuildServices
from tests.app.parts import VAULTS, ScriptedMailer, emails_in, html_of, settings, text_of
from tests.app.test_summary import subject_of, summaries
from tests.builders import make_incident
from tests.conftest import Clock

PROD = "prod-team@contoso.com"


def two_groups() -> object:
    return settings(BACKUP_ROUTES="vault:rsv-prod-weu=prod-team@contoso.com").routes


def test_a_group_whose_summary_cannot_be_sent_does_not_stop_the_next_group(
    build: BuildServices, clock: Clock, outbox: Path
) -> None:
    poll_jobs(build(routes=two_groups()))
    report = summary.send_summary(
        build(routes=two_groups(), mailer=ScriptedMailer(OutboxMailer(outbox, clock=clock), failing={1}))
    )
    assert (report.groups, report.sent, len(report.problems)) == (2, 1, 1)
    assert len(summaries(outbox)) == 1


def test_when_every_group_fails_the_invocation_names_each_summary_not_sent(
    build: BuildServices, clock: Clock, outbox: Path
) -> None:
    clock.now = datetime(2026, 11, 25, 9, 5, tzinfo=UTC)
    poll_jobs(build(routes=two_groups()))
    broken = ScriptedMailer(OutboxMailer(outbox, clock=clock), failing={1, 2})
    with pytest.raises(RunFailedError) as failed:
        summary.on_timer(build(routes=two_groups(), mailer=broken))
    first, second = str(failed.value).split("; ")
    assert first.startswith("summary '[Backup summary] 2026-11-25") and first.endswith("not sent: 503 unavailable")
    assert second.startswith("summary '[Backup summary] 2026-11-25") and second.endswith("not sent: 503 unavailable")


def test_every_group_already_sent_today_is_counted_and_none_is_sent_again(build: BuildServices, outbox: Path) -> None:
    poll_jobs(build(routes=two_groups()))
    assert summary.send_summary(build(routes=two_groups())).sent == 2
    again = summary.send_summary(build(routes=two_groups()))
    assert (again.groups, again.sent, again.already) == (2, 0, 2)
    assert len(summaries(outbox)) == 2


def test_the_next_day_in_the_configured_zone_gets_its_own_summary_for_the_mail_service(
    build: BuildServices, clock: Clock, outbox: Path
) -> None:
    mailer = ScriptedMailer(OutboxMailer(outbox, clock=clock))
    tokyo = {"zone": "Asia/Tokyo", "mailer": mailer}
    clock.now = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)  # 23:00 on the 25th in Tokyo
    assert summary.send_summary(build(**tokyo)).sent == 1
    clock.advance(hours=2)  # 01:00 on the 26th in Tokyo (still the 25th in UTC)
    assert summary.send_summary(build(**tokyo)).sent == 1
    assert [s.split(":")[0] for s in summaries(outbox)] == ["[Backup summary] 2026-11-25", "[Backup summary] 2026-11-26"]
    late, early = mailer.sent
    assert operation_id_for(late) != operation_id_for(early)  # ACS knows a message by its operation id alone


def test_each_summary_sent_takes_one_email_from_the_hourly_budget(
    build: BuildServices, clock: Clock, store: IncidentStore
) -> None:
    budget = replace(ROOMY, emails_per_hour=5)
    poll_jobs(build(routes=two_groups()))
    assert summary.send_summary(build(routes=two_groups(), policy=budget)).sent == 2
    assert store.spend_mail(hour_of(clock.now), 10, 5) == 3  # what is left this hour for the failure emails


def test_the_summary_comes_from_the_sender_and_links_each_vault_in_the_portal(build: BuildServices, outbox: Path) -> None:
    poll_jobs(build())
    summary.send_summary(build())
    (message,) = [m for m in emails_in(outbox) if subject_of(m).startswith("[Backup summary]")]
    assert message["From"] == SENDER
    assert 'href="https://portal.azure.com/' in html_of(message)


def test_a_recovery_earlier_in_the_day_is_in_the_summary(
    build: BuildServices, clock: Clock, store: IncidentStore, outbox: Path
) -> None:
    opened, closed = clock.now - timedelta(hours=10), clock.now - timedelta(hours=2)
    recovered = make_incident(VAULTS["rsv-prod-weu"], "vm-early", opened, operation="Backup", state="closed", closed_at=closed)
    store.commit([Change(None, recovered)])
    poll_jobs(build())
    summary.send_summary(build())
    text = text_of(next(m for m in emails_in(outbox) if subject_of(m).startswith("[Backup summary]")))
    assert "Failed and recovered (1)" in text and "vm-early" in text


def test_a_group_whose_vaults_no_run_read_still_says_the_estate_was_polled(
    build: BuildServices, clock: Clock, store: IncidentStore, outbox: Path
) -> None:
    elsewhere = VAULTS["rsv-prod-weu"].replace("rsv-prod-weu", "rsv-alerts")  # no run reads it: only alerts tell it
    routes = settings(BACKUP_ROUTES=f"vault:rsv-alerts={PROD}").routes
    store.commit([Change(None, make_incident(elsewhere, "vm-alerted", clock.now - timedelta(hours=1), operation="Backup"))])
    poll_jobs(build(routes=routes))
    summary.send_summary(build(routes=routes))
    (prod,) = [m for m in emails_in(outbox) if subject_of(m).startswith("[Backup summary]") and m["To"] == PROD]
    assert "no run recorded" not in subject_of(prod)
    assert "vm-alerted" in text_of(prod)


def test_the_summary_is_due_only_in_its_scheduled_quarter_not_in_the_same_quarter_of_another_hour(build: BuildServices) -> None:
    services = build(zone="Asia/Tokyo", summary_time="09:00")
    at = datetime(2026, 11, 26, 0, 5, tzinfo=UTC)  # 09:05 in Tokyo
    assert summary.is_due(services, at)
    assert not summary.is_due(services, at + timedelta(hours=1)) and not summary.is_due(services, at - timedelta(hours=1))
    assert not summary.is_due(services, at + timedelta(minutes=10))
