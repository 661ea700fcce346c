"""One budget for all email, and nothing lost or told twice around it.

The hour's budget is shared by every Timer run and the alert path; a burst of alerts becomes a storm that the next
Timer run folds into one digest; a digest left claimed by an instance that died is resumed, not re-sent; a redelivered
alert whose email is claimed and not settled is not acknowledged.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from backup_events.adapters.sample_jobs import bundled_jobs
from backup_events.app import notify, recording
from backup_events.app.alert_path import handle_alert_event
from backup_events.app.poll import poll_jobs
from backup_events.app.services import RunReport
from backup_events.domain.incidents import OPENED, Policy, digest_key, emails_due, owing_query
from backup_events.errors import RunFailedError
from tests.app.conftest import BuildServices
from tests.app.parts import FAILED, delivery, emails_in, job_alert
from tests.conftest import Clock

FAILED_JOBS = [
    job
    for job in bundled_jobs()
    if job["properties"]["status"] == "Failed" and job["properties"].get("jobType") != "AzureFutureWorkloadJob"
]


def subjects(outbox: Path) -> list[str]:
    return sorted(" ".join(str(m["Subject"]).split()) for m in emails_in(outbox))


def test_alert_and_timer_emails_share_one_hourly_budget(build: BuildServices, outbox: Path, clock: Clock) -> None:
    policy = Policy(emails_per_hour=4, digest_threshold=100, emails_per_run=100)
    for n, job in enumerate(FAILED_JOBS[:2]):
        assert handle_alert_event(build(policy=policy), delivery(job_alert(job), f"evt-{n}")) == "told"
    first = poll_jobs(build(policy=policy))
    assert (first.emails_sent, first.deferred) == (2, FAILED - 4)  # 4 this hour in all: 2 by alerts, 2 by the Timer
    clock.advance(hours=1)
    second = poll_jobs(build(policy=policy))
    assert second.emails_sent == 4 and len(emails_in(outbox)) == 8
    clock.advance(hours=1)
    third = poll_jobs(build(policy=policy))
    assert third.emails_sent == FAILED - 8 and len(set(subjects(outbox))) == FAILED  # each told exactly once


def test_a_burst_of_alerts_past_the_digest_threshold_is_folded_into_one_digest_by_the_next_timer_run(
    build: BuildServices, outbox: Path
) -> None:
    policy = Policy(digest_threshold=3, emails_per_run=100)
    outcomes = [
        handle_alert_event(build(policy=policy), delivery(job_alert(job), f"evt-{n}")) for n, job in enumerate(FAILED_JOBS[:8])
    ]
    assert outcomes.count("told") == 3  # the alert path sends up to the threshold an hour; then it is a storm
    report = poll_jobs(build(policy=policy))
    assert (report.digests, report.emails_sent) == (1, 1)
    assert len(emails_in(outbox)) == 4 and any("(digest)" in s for s in subjects(outbox))


def test_a_digest_sent_by_an_instance_that_died_before_settling_is_resumed_not_sent_again(
    build: BuildServices, outbox: Path, clock: Clock
) -> None:
    policy = Policy(digest_threshold=2, emails_per_run=0)  # record only: every email owed
    poll_jobs(build(policy=policy))
    svc = build(policy=Policy(digest_threshold=2, emails_per_run=100))
    owed = [
        i
        for i in svc.deps.incidents.owing_email(owing_query(clock(), svc.config.policy))
        if OPENED in emails_due(i, clock(), svc.config.policy)
    ]
    # An instance claims the storm as one digest, sends it, and dies before settling.
    claims = recording.claim_emails(svc.deps.incidents, [(i, OPENED) for i in owed], clock(), digest=digest_key(owed))
    claimed = [c for c in claims if c is not None]
    svc.deps.mailer.send(
        notify.render.render_digest(
            claimed,
            key=digest_key(owed),
            sender=svc.config.sender,
            recipients=svc.config.recipients,
            portal_url=svc.config.portal_url,
        )
    )
    clock.advance(minutes=16)  # past the claims' lease: another instance takes them over
    report = RunReport()
    notify.notify(build(policy=Policy(digest_threshold=2, emails_per_run=100)), report)
    assert (report.emails_sent, report.digests, len(emails_in(outbox))) == (0, 0, 1)
    assert svc.deps.incidents.owing_email(owing_query(clock(), svc.config.policy)) == []  # settled as sent


def test_a_redelivered_alert_whose_email_is_claimed_and_not_settled_raises_so_event_grid_retries(
    build: BuildServices, clock: Clock
) -> None:
    job = FAILED_JOBS[0]
    svc = build(policy=Policy(emails_per_run=0, digest_threshold=100))  # recorded, email owed
    handle_alert_event(svc, delivery(job_alert(job)))
    (owed,) = svc.deps.incidents.owing_email(owing_query(clock(), svc.config.policy))
    recording.claim_emails(svc.deps.incidents, [(owed, OPENED)], clock())  # another instance is sending it right now
    with pytest.raises(RunFailedError, match="claimed and not settled"):
        handle_alert_event(build(), delivery(job_alert(job), "evt-again"))
    clock.advance(minutes=16)
    assert handle_alert_event(build(), delivery(job_alert(job), "evt-later")) == "told"  # the lease ran out: taken over
