"""The near-real-time path: relay → Event Grid topic → Event Grid trigger → the same pipeline as the Timer."""

from __future__ import annotations

import copy
import email
import email.policy
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest
from azure.core.credentials import AccessToken

import function_app
from backup_events import bootstrap
from backup_events.adapters.entra_tokens import EntraTokenValidator
from backup_events.adapters.eventgrid_publisher import EventGridPublisher
from backup_events.adapters.outbox_mailer import OutboxMailer
from backup_events.adapters.sample_jobs import SampleJobSource, bundled_jobs
from backup_events.app import alert_path, poll, relay
from backup_events.app.services import EventEnvelope
from backup_events.errors import RunFailedError
from tests.conftest import Clock, load
from tests.function_index import bindings
from tests.loopback.eventgrid import EventGridTopicStandIn
from tests.loopback.jwks import AUDIENCE, TENANT_ID, JwksStandIn
from tests.service.test_poll_jobs import BrokenVaultSource, FlakyMailer, emails_in, services

SAMPLE_VM_JOB = bundled_jobs()[0]  # vm-app-02, UserErrorGuestAgentStatusUnavailable, in rsv-prod-weu


def alert_for(job: dict[str, Any], *, condition: str = "Fired", with_link: bool = True) -> dict[str, Any]:
    """The built-in alert Azure would raise for a sample job: lower-cased vault id, the job's name, no code field."""
    alert = copy.deepcopy(load("alert-vm-backup-failure.json"))
    vault_id = job["id"].rsplit("/backupJobs/", 1)[0].lower()
    alert["data"]["essentials"]["alertTargetIDs"] = [vault_id]
    alert["data"]["essentials"]["monitorCondition"] = condition
    alert["data"]["alertContext"]["extendedInfo"]["jobId"] = job["name"]
    if not with_link:
        alert["data"]["alertContext"]["extendedInfo"]["recommendedActions"] = "Check the VM agent."
    return alert


def envelope(data: Any, event_id: str = "evt-1") -> EventEnvelope:
    return EventEnvelope(id=event_id, type="BackupEvents.AzureMonitorAlert.Fired", data=data)


class StaticToken:
    """A credential that hands out one bearer token, as managed identity would."""

    def __init__(self, token: str) -> None:
        self.token = token

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(self.token, 4102444800)


def test_alert_then_timer_gives_one_email(table: Any, tmp_path: Path, clock: Clock) -> None:
    svc = services(table, tmp_path, clock)
    assert alert_path.handle_alert_event(svc, envelope(alert_for(SAMPLE_VM_JOB))) == "told"
    report = poll.poll_jobs(svc)
    assert report.emails_sent == report.failures - 1
    assert len([m for m in emails_in(tmp_path) if "vm-app-02" in m["Subject"]]) == 1


def test_timer_then_alert_gives_one_email(table: Any, tmp_path: Path, clock: Clock) -> None:
    svc = services(table, tmp_path, clock)
    poll.poll_jobs(svc)
    before = len(emails_in(tmp_path))
    assert alert_path.handle_alert_event(svc, envelope(alert_for(SAMPLE_VM_JOB))) == "no email: told already"
    assert len(emails_in(tmp_path)) == before


def test_redelivered_event_sends_no_second_email(table: Any, tmp_path: Path, clock: Clock) -> None:
    svc = services(table, tmp_path, clock)
    for _ in range(3):
        alert_path.handle_alert_event(svc, envelope(alert_for(SAMPLE_VM_JOB)))
    assert len(emails_in(tmp_path)) == 1


def test_alerted_job_is_enriched_from_the_jobs_api(table: Any, tmp_path: Path, clock: Clock) -> None:
    alert_path.handle_alert_event(services(table, tmp_path, clock), envelope(alert_for(SAMPLE_VM_JOB)))
    (message,) = emails_in(tmp_path)
    text = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert message["Subject"] == "[Backup failed] vm-app-02: UserErrorGuestAgentStatusUnavailable"
    assert "Take Snapshot (from the job's tasks)" in text
    assert "Source: jobs API" in text


def test_without_the_jobs_api_the_email_is_built_from_the_alert_alone(table: Any, tmp_path: Path, clock: Clock) -> None:
    svc = services(table, tmp_path, clock, source=SampleJobSource([]))
    assert alert_path.handle_alert_event(svc, envelope(alert_for(SAMPLE_VM_JOB, with_link=False))) == "told"
    (message,) = emails_in(tmp_path)
    text = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    # The code came only from the lower-cased tail of originAlertId, and is spelled as the catalog spells it.
    assert message["Subject"] == "[Backup failed] vm-app-02: UserErrorGuestAgentStatusUnavailable"
    assert "Built from the alert alone" in text
    assert "Take Snapshot (typical for this error)" in text
    assert "Source: Azure Monitor alert" in text


def test_resolved_alert_sends_nothing(table: Any, tmp_path: Path, clock: Clock) -> None:
    outcome = alert_path.handle_alert_event(
        services(table, tmp_path, clock), envelope(alert_for(SAMPLE_VM_JOB, condition="Resolved"))
    )
    assert outcome.startswith("no email")
    assert emails_in(tmp_path) == []


def test_security_alert_gets_its_own_email_once(table: Any, tmp_path: Path, clock: Clock) -> None:
    svc = services(table, tmp_path, clock)
    for _ in range(2):
        alert_path.handle_alert_event(svc, envelope(load("alert-security-soft-delete-disabled.json")))
    (message,) = emails_in(tmp_path)
    assert message["Subject"] == "[Backup security alert] rsv-prod-01: Soft Delete Disabled"


@pytest.mark.parametrize(
    "data",
    [None, "not an object", {"schemaId": "azureMonitorCommonAlertSchema"}, {"schemaId": "other", "data": {}}],
)
def test_malformed_event_is_acknowledged_with_the_reason_and_sends_nothing(
    table: Any, tmp_path: Path, clock: Clock, data: Any
) -> None:
    outcome = alert_path.handle_alert_event(services(table, tmp_path, clock), envelope(data))
    assert outcome.startswith("rejected: ")
    assert emails_in(tmp_path) == []


def test_failed_send_raises_for_redelivery_and_the_redelivery_sends_once(table: Any, tmp_path: Path, clock: Clock) -> None:
    flaky = FlakyMailer(OutboxMailer(tmp_path, clock=clock), failures=1)
    svc = services(table, tmp_path, clock, mailer=flaky)
    with pytest.raises(RunFailedError):
        alert_path.handle_alert_event(svc, envelope(alert_for(SAMPLE_VM_JOB)))
    assert alert_path.handle_alert_event(svc, envelope(alert_for(SAMPLE_VM_JOB))) == "told"
    assert alert_path.handle_alert_event(svc, envelope(alert_for(SAMPLE_VM_JOB))) == "no email: told already"
    assert len(emails_in(tmp_path)) == 1


def test_an_unreachable_vault_still_gets_its_alert_told(table: Any, tmp_path: Path, clock: Clock) -> None:
    svc = services(table, tmp_path, clock, source=BrokenVaultSource("rsv-prod-weu"))
    assert alert_path.handle_alert_event(svc, envelope(alert_for(SAMPLE_VM_JOB))) == "told"


@pytest.fixture
def jwks() -> Iterator[JwksStandIn]:
    with JwksStandIn() as server:
        yield server


def validator(jwks: JwksStandIn) -> EntraTokenValidator:
    """The relay's real token check, fetching the tenant's keys from the stand-in."""
    return EntraTokenValidator(tenant_id=TENANT_ID, audience=AUDIENCE, authority=jwks.authority, connection_verify=jwks.ca_path)


def test_relay_publishes_the_alert_and_the_trigger_tells_it(table: Any, tmp_path: Path, clock: Clock, jwks: JwksStandIn) -> None:
    alert = alert_for(SAMPLE_VM_JOB)
    with EventGridTopicStandIn(token="t0ken") as topic:
        publisher = EventGridPublisher(endpoint=topic.endpoint, credential=StaticToken("t0ken"), connection_verify=topic.ca_path)
        answer = relay.relay_webhook(validator(jwks), f"Bearer {jwks.mint()}", publisher, json.dumps(alert).encode())
        assert (answer.status, topic.errors, jwks.errors) == (202, [], [])
        (event,) = topic.events
    assert event["type"] == "BackupEvents.AzureMonitorAlert.Fired"
    assert event["subject"] == SAMPLE_VM_JOB["name"]
    alert_path.handle_alert_event(services(table, tmp_path, clock), EventEnvelope(event["id"], event["type"], event["data"]))
    assert len(emails_in(tmp_path)) == 1


def test_relay_answers_503_when_the_topic_refuses_so_the_action_group_retries(jwks: JwksStandIn) -> None:
    with EventGridTopicStandIn(token="t0ken") as topic:
        topic.fail(10, status=503)
        publisher = EventGridPublisher(endpoint=topic.endpoint, credential=StaticToken("t0ken"), connection_verify=topic.ca_path)
        body = json.dumps(alert_for(SAMPLE_VM_JOB)).encode()
        assert relay.relay_webhook(validator(jwks), f"Bearer {jwks.mint()}", publisher, body).status == 503


def test_relay_with_a_wrong_token_is_refused_by_the_topic(jwks: JwksStandIn) -> None:
    with EventGridTopicStandIn(token="right") as topic:
        publisher = EventGridPublisher(endpoint=topic.endpoint, credential=StaticToken("wrong"), connection_verify=topic.ca_path)
        body = json.dumps(alert_for(SAMPLE_VM_JOB)).encode()
        assert relay.relay_webhook(validator(jwks), f"Bearer {jwks.mint()}", publisher, body).status == 503
        assert topic.events == []


def limit_breaking(kind: str) -> bytes:
    """An alert body past one of the relay's input limits."""
    alert = alert_for(SAMPLE_VM_JOB)
    essentials, text = alert["data"]["essentials"], json.dumps(alert)
    if kind == "deep":  # the alert is level 1 and data level 2: 63 arrays in data make 65
        return text.replace('"data": {', '"data": {"padding": ' + "[" * 63 + "]" * 63 + ", ", 1).encode()
    if kind == "long-integer":
        return text.replace('"occurrenceCount": 1', '"occurrenceCount": 1' + "0" * 100).encode()
    if kind == "lone-surrogate":
        return text.replace('"description": "', '"description": "\\ud800', 1).encode()  # the escape, as JSON text
    if kind == "nan":
        return text.replace('"occurrenceCount": 1', '"occurrenceCount": NaN').encode()
    if kind == "infinity":
        return text.replace('"occurrenceCount": 1', '"occurrenceCount": -Infinity').encode()
    if kind == "condition":
        essentials["monitorCondition"] = "Acknowledged"
    elif kind == "context":
        alert["data"]["alertContext"] = [alert["data"]["alertContext"]]
    elif kind == "alert-id":
        essentials["alertId"] = "/subscriptions/x/providers/Microsoft.AlertsManagement/alerts/7d1f2a3b"
    elif kind == "vault-name":
        essentials["alertTargetIDs"] = [essentials["alertTargetIDs"][0] + "_1"]
    elif kind == "resource-group":
        essentials["alertTargetIDs"] = [
            essentials["alertTargetIDs"][0].replace("/resourcegroups/rg-backup-weu/", "/resourcegroups/rg.backup./")
        ]
    return json.dumps(alert).encode()


LIMITS = [
    ("deep", "JSON nested deeper than 64 levels"),
    ("long-integer", "a JSON integer longer than 100 digits"),
    ("lone-surrogate", "a lone UTF-16 surrogate in a JSON string"),
    ("nan", "NaN is not a JSON number"),
    ("infinity", "-Infinity is not a JSON number"),
    ("condition", "monitorCondition is neither Fired nor Resolved"),
    ("context", "data.alertContext is not an object"),
    ("alert-id", "alertId is not /subscriptions/<guid>/providers/Microsoft.AlertsManagement/alerts/<guid>"),
    ("vault-name", "the vault name breaks Azure's naming rules"),
    ("resource-group", "the vault's resource group name breaks Azure's naming rules"),
]


@pytest.mark.parametrize(("kind", "reason"), LIMITS, ids=[k for k, _ in LIMITS])
def test_relay_refuses_a_body_past_its_limits_with_400_and_publishes_nothing(jwks: JwksStandIn, kind: str, reason: str) -> None:
    with EventGridTopicStandIn(token="t0ken") as topic:
        publisher = EventGridPublisher(endpoint=topic.endpoint, credential=StaticToken("t0ken"), connection_verify=topic.ca_path)
        answer = relay.relay_webhook(validator(jwks), f"Bearer {jwks.mint()}", publisher, limit_breaking(kind))
        assert answer.status == 400
        assert answer.message.startswith(f"rejected: {reason}") and "\n" not in answer.message
        assert topic.requests == []


@pytest.mark.parametrize(("kind", "reason"), LIMITS, ids=[k for k, _ in LIMITS])
def test_the_trigger_acknowledges_an_event_past_the_limits_and_sends_nothing(
    table: Any, tmp_path: Path, clock: Clock, kind: str, reason: str
) -> None:
    data = json.loads(limit_breaking(kind))  # as the host's get_json() reads it: NaN, 101 digits, "\ud800" all pass
    outcome = alert_path.handle_alert_event(services(table, tmp_path, clock), envelope(data))
    parsed_reason = "NaN and Infinity are not JSON numbers" if kind in ("nan", "infinity") else reason
    assert outcome.startswith(f"rejected: {parsed_reason}")
    assert emails_in(tmp_path) == []


def test_the_limit_breaking_bodies_differ_from_a_good_one_only_by_their_flaw(jwks: JwksStandIn) -> None:
    with EventGridTopicStandIn(token="t0ken") as topic:
        publisher = EventGridPublisher(endpoint=topic.endpoint, credential=StaticToken("t0ken"), connection_verify=topic.ca_path)
        answer = relay.relay_webhook(validator(jwks), f"Bearer {jwks.mint()}", publisher, limit_breaking("none"))
        assert answer.status == 202 and len(topic.events) == 1


# --- the decorated functions, called with real azure.functions objects ---------------------------------


def http_request(body: bytes, authorization: str | None = None) -> func.HttpRequest:
    headers = {"Content-Type": "application/json"} | ({"Authorization": authorization} if authorization is not None else {})
    return func.HttpRequest(method="POST", url="/api/alerts", body=body, headers=headers)


def test_functions_are_indexed_with_their_bindings() -> None:
    assert bindings()["on_backup_alert"][0]["type"] == "eventGridTrigger"
    http = bindings()["relay_backup_alert"][0]
    assert (http["type"], http["methods"], http["authLevel"], http["route"]) == ("httpTrigger", ["POST"], "FUNCTION", "alerts")


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"{oops", "not JSON"),
        (json.dumps({"schemaId": "Microsoft.Insights/activityLogs"}).encode(), "schemaId"),
        (
            json.dumps(load("alert-sql-backup-failure.json")).replace("Azure Backup", "Platform").encode(),
            "not an Azure Backup alert",
        ),
        (b"{" + b" " * 300_000 + b"}", "at most"),
    ],
)
def test_relay_rejects_what_is_not_a_backup_alert_with_400(jwks: JwksStandIn, body: bytes, says: str) -> None:
    # What the function does with a real request, past a good token (the function itself would ask Entra for keys).
    request = http_request(body, f"Bearer {jwks.mint()}")
    answer = relay.relay_webhook(validator(jwks), request.headers.get("Authorization"), None, request.get_body())
    assert answer.status == 400
    assert says in answer.message


def test_relay_without_a_topic_answers_503(jwks: JwksStandIn) -> None:
    request = http_request(json.dumps(alert_for(SAMPLE_VM_JOB)).encode(), f"Bearer {jwks.mint()}")
    answer = relay.relay_webhook(validator(jwks), request.headers.get("Authorization"), None, request.get_body())
    assert answer.status == 503
    assert "BACKUP_EVENTGRID_TOPIC_ENDPOINT" in answer.message


def test_relay_function_without_auth_settings_answers_503_even_with_a_topic(
    app_settings: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BACKUP_EVENTGRID_TOPIC_ENDPOINT", "https://egt-backup.westeurope-1.eventgrid.azure.net/api/events")
    bootstrap.relay_token_validator.cache_clear()
    try:
        response = function_app.relay_backup_alert(http_request(json.dumps(alert_for(SAMPLE_VM_JOB)).encode(), "Bearer x.y.z"))
    finally:
        bootstrap.relay_token_validator.cache_clear()
    assert (response.status_code, response.get_body()) == (503, b"relay auth not configured")


def test_event_grid_schema_event_is_told(app_settings: Path) -> None:
    event = func.EventGridEvent(
        id="evt-1",
        data=alert_for(SAMPLE_VM_JOB),
        topic="/subscriptions/x/resourceGroups/rg/providers/Microsoft.EventGrid/topics/egt",
        subject=SAMPLE_VM_JOB["name"],
        event_type="BackupEvents.AzureMonitorAlert.Fired",
        event_time=datetime(2026, 11, 25, tzinfo=UTC),
        data_version="1.0",
    )
    function_app.on_backup_alert(event)
    function_app.on_backup_alert(event)
    assert len(list(app_settings.glob("*.eml"))) == 1


def test_cloud_event_is_told(app_settings: Path) -> None:
    event = func.CloudEvent(
        id="evt-2",
        source=SAMPLE_VM_JOB["id"].rsplit("/backupJobs/", 1)[0],
        type="BackupEvents.AzureMonitorAlert.Fired",
        specversion="1.0",
        data=alert_for(SAMPLE_VM_JOB),
        time=datetime(2026, 11, 25, tzinfo=UTC),
    )
    function_app.on_backup_alert(event)  # type: ignore[arg-type]
    (path,) = app_settings.glob("*.eml")
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert "vm-app-02" in message["Subject"]


def test_malformed_cloud_event_is_acknowledged(app_settings: Path) -> None:
    event = func.CloudEvent(id="evt-3", source="/x", type="t", specversion="1.0", data={"hello": "world"})
    function_app.on_backup_alert(event)  # type: ignore[arg-type]  # returns: acknowledged, not retried
    assert list(app_settings.glob("*.eml")) == []


def test_three_redeliveries_and_the_timer_give_exactly_one_email_for_the_job(table: Any, tmp_path: Path, clock: Clock) -> None:
    svc = services(table, tmp_path, clock)
    outcomes = [alert_path.handle_alert_event(svc, envelope(alert_for(SAMPLE_VM_JOB))) for _ in range(3)]
    report = poll.poll_jobs(svc)
    assert outcomes == ["told", "no email: told already", "no email: told already"]
    assert report.duplicates == 1
    assert len([m for m in emails_in(tmp_path) if "vm-app-02" in m["Subject"]]) == 1


def test_relay_refuses_an_alert_about_a_vault_it_does_not_watch_with_403_and_publishes_nothing(jwks: JwksStandIn) -> None:
    from functools import partial

    from backup_events.domain.ids import watched

    alert = alert_for(SAMPLE_VM_JOB)  # a vault of subscription 3b1f9c2e-…
    ours = partial(watched, vault_ids=(), subscription_ids=("3b1f9c2e-5a7d-4e21-9c0b-7d2e4f6a8b10",))
    theirs = partial(watched, vault_ids=(), subscription_ids=("11111111-2222-3333-4444-555555555555",))
    with EventGridTopicStandIn(token="t0ken") as topic:
        publisher = EventGridPublisher(endpoint=topic.endpoint, credential=StaticToken("t0ken"), connection_verify=topic.ca_path)
        body = json.dumps(alert).encode()
        refused = relay.relay_webhook(validator(jwks), f"Bearer {jwks.mint()}", publisher, body, watches=theirs)
        assert (refused.status, topic.events) == (403, [])
        assert relay.relay_webhook(validator(jwks), f"Bearer {jwks.mint()}", publisher, body, watches=ours).status == 202


def test_the_relay_watches_what_the_settings_name(monkeypatch: pytest.MonkeyPatch) -> None:
    vault = "/subscriptions/3b1f9c2e-5a7d-4e21-9c0b-7d2e4f6a8b10/resourceGroups/rg/providers/Microsoft.RecoveryServices/vaults/v1"
    for name, value in {
        "BACKUP_VAULT_IDS": vault,
        "BACKUP_TABLE_ENDPOINT": "https://st.table.core.windows.net",
        "BACKUP_MAIL_SENDER": "a@b.example",
        "BACKUP_MAIL_RECIPIENTS": "c@d.example",
        "BACKUP_ACS_ENDPOINT": "https://acs.communication.azure.com",
    }.items():
        monkeypatch.setenv(name, value)
    bootstrap.relay_watches.cache_clear()
    watches = bootstrap.relay_watches()
    assert watches is not None and watches(vault.lower()) and not watches(vault.replace("/v1", "/v2"))
    bootstrap.relay_watches.cache_clear()
