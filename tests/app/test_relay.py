"""The alert relay: a checked built-in alert becomes one CloudEvent on our topic, or an answer the action group can act on."""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import partial
from typing import Any

import pytest

from backup_events.adapters.sample_jobs import bundled_jobs
from backup_events.app.relay import RelayAnswer, relay_alert, relay_webhook
from backup_events.domain.ids import is_backup_vault, watched
from backup_events.errors import PublishError, UnauthorizedError
from tests.app.parts import VM_JOB, job_alert, security_alert

VAULT = VM_JOB["id"].rsplit("/backupJobs/", 1)[0].lower()


class Topic:
    """An Event Grid topic that keeps what it was given, or refuses every event (``down``)."""

    def __init__(self, *, down: bool = False) -> None:
        self.down = down
        self.events: list[dict[str, Any]] = []

    def publish(self, *, event_id: str, event_type: str, source: str, subject: str, data: Mapping[str, Any]) -> None:
        if self.down:
            raise PublishError("503 from the topic")
        self.events.append({"id": event_id, "type": event_type, "source": source, "subject": subject, "data": data})


def body(alert: dict[str, Any]) -> bytes:
    return json.dumps(alert).encode()


@pytest.mark.parametrize(("condition", "suffix"), [("Fired", "fired"), ("resolved", "resolved")])
def test_a_job_failure_alert_is_published_as_it_came_named_by_its_job(condition: str, suffix: str) -> None:
    topic, alert = Topic(), job_alert(VM_JOB, condition)
    short_id = alert["data"]["essentials"]["alertId"].rsplit("/", 1)[-1]
    answer = relay_alert(topic, body(alert))
    assert answer == RelayAnswer(202, f"accepted: alert {short_id} ({condition.capitalize()})")
    assert topic.events == [
        {
            "id": f"{short_id}-{suffix}",
            "type": f"BackupEvents.AzureMonitorAlert.{condition.capitalize()}",
            "source": VAULT,
            "subject": VM_JOB["name"],
            "data": alert,
        }
    ]


def test_an_alert_about_no_job_is_published_under_its_own_id() -> None:
    topic, alert = Topic(), security_alert()
    short_id = alert["data"]["essentials"]["alertId"].rsplit("/", 1)[-1]
    assert relay_alert(topic, body(alert)).status == 202
    ((event),) = topic.events
    assert (event["id"], event["subject"]) == (f"{short_id}-fired", short_id)


@pytest.mark.parametrize(
    "raw",
    [b"not json", body({"schemaId": "somethingElse", "data": {}})],
    ids=["not json", "not the common alert schema"],
)
def test_a_malformed_alert_is_refused_with_400_naming_the_problem_and_nothing_is_published(raw: bytes) -> None:
    topic = Topic()
    answer = relay_alert(topic, raw)
    assert answer.status == 400 and answer.message.startswith("rejected: ") and len(answer.message) > len("rejected: ")
    assert topic.events == []


def test_with_no_topic_configured_the_relay_answers_503_saying_which_setting_is_missing() -> None:
    assert relay_alert(None, body(job_alert(VM_JOB))) == RelayAnswer(
        503, "the relay is off: BACKUP_EVENTGRID_TOPIC_ENDPOINT is not set"
    )


def test_a_topic_that_refuses_the_event_is_503_so_the_action_group_retries() -> None:
    assert relay_alert(Topic(down=True), body(job_alert(VM_JOB))) == RelayAnswer(503, "could not publish the alert; retry later")


class Tokens:
    """Accepts one bearer token; ``keys_unreachable`` when the tenant's signing keys cannot be fetched."""

    def __init__(self, *, keys_unreachable: bool = False) -> None:
        self.keys_unreachable = keys_unreachable

    def check(self, authorization: str | None) -> None:
        if self.keys_unreachable:
            raise UnauthorizedError("signing keys unreachable", retryable=True)
        if authorization != "Bearer good":
            raise UnauthorizedError("token missing" if authorization is None else "wrong audience")


def test_a_call_with_a_valid_token_is_relayed() -> None:
    topic = Topic()
    assert relay_webhook(Tokens(), "Bearer good", topic, body(job_alert(VM_JOB))).status == 202
    assert len(topic.events) == 1


def test_a_call_with_a_bad_token_is_401_with_the_reason_and_nothing_is_read_or_published() -> None:
    topic = Topic()
    answer = relay_webhook(Tokens(), "Bearer bad", topic, b"not even json")
    assert answer == RelayAnswer(401, "unauthorized: wrong audience", (("WWW-Authenticate", 'Bearer error="invalid_token"'),))
    assert relay_webhook(Tokens(), None, topic, b"").message == "unauthorized: token missing"
    assert topic.events == []


def test_a_token_that_cannot_be_checked_is_503_retry_later() -> None:
    topic = Topic()
    answer = relay_webhook(Tokens(keys_unreachable=True), "Bearer good", topic, body(job_alert(VM_JOB)))
    assert answer == RelayAnswer(503, "could not check the token: signing keys unreachable; retry later")
    assert topic.events == []


def test_a_relay_without_token_settings_refuses_every_call() -> None:
    topic = Topic()
    assert relay_webhook(None, "Bearer good", topic, body(job_alert(VM_JOB))) == RelayAnswer(503, "relay auth not configured")
    assert topic.events == []


def test_an_alert_from_a_vault_this_app_does_not_watch_is_refused_with_403_and_not_published() -> None:
    topic, seen = Topic(), []

    def watches(vault_id: str) -> bool:
        seen.append(vault_id)
        return False

    answer = relay_webhook(Tokens(), "Bearer good", topic, body(job_alert(VM_JOB)), watches=watches)
    assert answer == RelayAnswer(403, "refused: the alert's vault is not one this app watches")
    assert (topic.events, seen) == ([], [VAULT])
    assert relay_alert(topic, body(job_alert(VM_JOB)), watches=lambda vault_id: vault_id == VAULT).status == 202


def test_an_alert_from_a_watched_backup_vault_is_published_and_one_from_an_unwatched_one_refused() -> None:
    disk_job = next(j for j in bundled_jobs() if is_backup_vault(j["id"]))  # bv-data-weu's failed disk backup
    subscription = disk_job["id"].split("/")[2]
    topic, alert = Topic(), job_alert(disk_job)
    watching = partial(watched, vault_ids=(), subscription_ids=(subscription,))
    assert relay_alert(topic, body(alert), watches=watching).status == 202
    ((event),) = topic.events
    assert event["source"] == disk_job["id"].rsplit("/backupJobs/", 1)[0].lower()
    assert event["subject"] == disk_job["name"]
    elsewhere = partial(watched, vault_ids=(), subscription_ids=("00000000-0000-0000-0000-00000000ffff",))
    assert relay_alert(Topic(), body(alert), watches=elsewhere).status == 403
