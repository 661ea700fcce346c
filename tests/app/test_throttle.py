"""A throttled mail service (DeliveryError with retry_after) pauses mail for the rest of the run.

Nothing is lost: what the run could not send stays owed, and the Timer's next run, 15 minutes later, sends each
of those emails exactly once.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from backup_events.adapters.outbox_mailer import OutboxMailer
from backup_events.adapters.sample_jobs import SampleJobSource
from backup_events.app.poll import poll_jobs
from backup_events.domain.incidents import Policy
from tests.app.conftest import ON_CALL, BuildServices
from tests.app.parts import ScriptedMailer, failed_vm_job, settings
from tests.conftest import Clock

NEXT_RUN = 15  # minutes: the Timer's schedule, and the claim lease


def test_a_throttle_in_the_middle_of_a_run_defers_the_rest_and_the_next_run_sends_each_once(
    build: BuildServices, outbox: Path, clock: Clock
) -> None:
    items = [f"vm-{n}" for n in range(6)]
    source = SampleJobSource([failed_vm_job(n, item, clock()) for n, item in enumerate(items)])
    mailer = ScriptedMailer(OutboxMailer(outbox, clock=clock), failing={3}, retry_after=60)

    first = poll_jobs(build(source=source, mailer=mailer))
    assert (first.emails_sent, first.deferred, mailer.attempts) == (2, 3, 3)  # paused after the throttle

    clock.advance(minutes=NEXT_RUN)
    second = poll_jobs(build(source=source, mailer=mailer))
    assert (second.emails_sent, second.deferred, second.problems) == (4, 0, [])
    assert sorted(m.subject.split("]")[1].split(":")[0].strip() for m in mailer.sent) == items  # each once

    clock.advance(minutes=NEXT_RUN)
    assert poll_jobs(build(source=source, mailer=mailer)).emails_sent == 0


def test_a_throttle_during_a_storm_pauses_the_digests_too_and_the_next_run_tells_every_item_once(
    build: BuildServices, outbox: Path, clock: Clock
) -> None:
    # Two teams each get a storm (a digest); one failure elsewhere goes to on-call on its own.
    routes = settings(BACKUP_ROUTES="vault:rsv-prod-weu=prod-team@contoso.com;vault:rsv-files-weu=files-team@contoso.com").routes
    placed = {**{f"vm-prod-{n}": "rsv-prod-weu" for n in range(3)}, **{f"vm-files-{n}": "rsv-files-weu" for n in range(3)}}
    placed["vm-data-0"] = "rsv-data-jpe"
    source = SampleJobSource([failed_vm_job(n, item, clock(), vault=vault) for n, (item, vault) in enumerate(placed.items())])
    mailer = ScriptedMailer(OutboxMailer(outbox, clock=clock), failing={1}, retry_after=60)
    policy = Policy(digest_threshold=2, emails_per_run=20)

    first = poll_jobs(build(source=source, mailer=mailer, policy=policy, routes=routes))
    # The first digest is throttled; the other digest (3 incidents) and the single email wait.
    assert (first.emails_sent, first.deferred, mailer.attempts) == (0, 4, 1)  # paused after the throttle

    clock.advance(minutes=NEXT_RUN)
    second = poll_jobs(build(source=source, mailer=mailer, policy=policy, routes=routes))
    assert (second.emails_sent, second.digests, second.deferred, second.problems) == (3, 2, 0, [])
    assert sorted(", ".join(m.recipients) for m in mailer.sent) == ["files-team@contoso.com", ON_CALL, "prod-team@contoso.com"]
    told = Counter(item for m in mailer.sent for item in placed if item in m.text)
    assert told == dict.fromkeys(placed, 1)

    clock.advance(minutes=NEXT_RUN)
    assert poll_jobs(build(source=source, mailer=mailer, policy=policy, routes=routes)).emails_sent == 0
