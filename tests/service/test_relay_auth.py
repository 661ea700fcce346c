"""The relay checks the action group's Entra token itself, before it reads a byte of the body.

The real ``EntraTokenValidator`` (PyJWT's ``PyJWKClient``) fetches the tenant's keys from a loopback JWKS stand-in;
tokens are minted with local RSA keys; publishes go to the Event Grid topic stand-in through the real publisher.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from backup_events import bootstrap
from backup_events.adapters.entra_tokens import EntraTokenValidator
from backup_events.adapters.eventgrid_publisher import EventGridPublisher
from backup_events.app import relay
from backup_events.settings import Settings
from tests.loopback.eventgrid import EventGridTopicStandIn
from tests.loopback.fixtures import serving
from tests.loopback.jwks import (
    ACTION_GROUPS_APP_ID,
    AUDIENCE,
    DROP,
    ROLE,
    TENANT_ID,
    V2_ISSUER,
    JwksStandIn,
    signing_key,
    unsigned,
)
from tests.service.test_alert_path import SAMPLE_VM_JOB, StaticToken, alert_for

BODY_MARKER = "body-marker-7f3a"  # in every alert these tests send: it must never reach a log when the token fails


@pytest.fixture
def jwks() -> Iterator[JwksStandIn]:
    yield from serving(JwksStandIn())


@pytest.fixture
def topic() -> Iterator[EventGridTopicStandIn]:
    yield from serving(EventGridTopicStandIn(token="t0ken"))


@pytest.fixture
def tokens(jwks: JwksStandIn) -> EntraTokenValidator:
    return EntraTokenValidator(tenant_id=TENANT_ID, audience=AUDIENCE, authority=jwks.authority, connection_verify=jwks.ca_path)


@pytest.fixture
def publisher(topic: EventGridTopicStandIn) -> EventGridPublisher:
    return EventGridPublisher(endpoint=topic.endpoint, credential=StaticToken("t0ken"), connection_verify=topic.ca_path)


def alert_body() -> bytes:
    alert = alert_for(SAMPLE_VM_JOB)
    alert["data"]["essentials"]["description"] = f"Snapshot failed ({BODY_MARKER})"
    return json.dumps(alert).encode()


def call(tokens: EntraTokenValidator | None, authorization: str | None, publisher: EventGridPublisher) -> relay.RelayAnswer:
    return relay.relay_webhook(tokens, authorization, publisher, alert_body())


# --- accepted -------------------------------------------------------------------------------------------------------


def test_a_good_token_is_accepted_and_the_alert_published_once(
    jwks: JwksStandIn, tokens: EntraTokenValidator, publisher: EventGridPublisher, topic: EventGridTopicStandIn
) -> None:
    answer = call(tokens, f"Bearer {jwks.mint()}", publisher)
    assert (answer.status, answer.message) == (202, "accepted: alert 7d1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b (Fired)")
    (event,) = topic.events
    assert event["type"] == "BackupEvents.AzureMonitorAlert.Fired"
    assert event["data"]["data"]["essentials"]["description"].endswith(f"({BODY_MARKER})")


@pytest.mark.parametrize(
    "claims",
    [
        {"iss": V2_ISSUER, "ver": "2.0", "appid": DROP, "azp": ACTION_GROUPS_APP_ID},  # a v2 token names its caller azp
        {"azp": ACTION_GROUPS_APP_ID},  # both, agreeing
        {"roles": ["Other.Role", ROLE]},
        {"exp": -20},  # expired 20 s ago (minted then, not at collection): within the leeway for clock skew
    ],
    ids=["v2-token", "appid-and-azp", "several-roles", "expired-within-leeway"],
)
def test_good_tokens_of_every_documented_shape_are_accepted(
    jwks: JwksStandIn, tokens: EntraTokenValidator, publisher: EventGridPublisher, topic: EventGridTopicStandIn, claims: Any
) -> None:
    if claims.get("exp", 0) < 0:
        claims = {**claims, "exp": int(time.time()) + claims["exp"]}
    assert call(tokens, f"Bearer {jwks.mint(**claims)}", publisher).status == 202
    assert len(topic.events) == 1


def test_the_scheme_is_case_insensitive(jwks: JwksStandIn, tokens: EntraTokenValidator, publisher: EventGridPublisher) -> None:
    assert call(tokens, f"bearer {jwks.mint()}", publisher).status == 202


def test_the_tenants_keys_are_fetched_once_for_many_calls(
    jwks: JwksStandIn, tokens: EntraTokenValidator, publisher: EventGridPublisher, topic: EventGridTopicStandIn
) -> None:
    for _ in range(5):
        assert call(tokens, f"Bearer {jwks.mint()}", publisher).status == 202
    assert jwks.key_fetches == 1
    assert len(topic.events) == 5  # the same alert each time: Event Grid dedupes nothing, the trigger's ledger does


def test_tokens_with_unknown_key_ids_do_not_make_the_relay_refetch_keys_each_call(
    jwks: JwksStandIn, tokens: EntraTokenValidator, publisher: EventGridPublisher
) -> None:
    assert call(tokens, f"Bearer {jwks.mint()}", publisher).status == 202
    for n in range(5):
        forged = jwks.mint(key=signing_key(f"forged-{n}"))
        assert call(tokens, f"Bearer {forged}", publisher).status == 401
    assert jwks.key_fetches == 1  # within the cooldown, unknown kids are refused from the cached set


# --- refused --------------------------------------------------------------------------------------------------------

Minter = Callable[[JwksStandIn], str | None]


def tampered(jwks: JwksStandIn) -> str:
    """A good token whose claims were edited after signing (aud kept, roles added)."""
    header, _, signature = jwks.mint(roles=[]).split(".")
    claims = jwks.claims()
    return ".".join([header, unsigned(claims).split(".")[1], signature])


REFUSALS: list[tuple[str, Minter, str]] = [
    ("no-header", lambda j: None, "missing bearer token (Authorization header)"),
    ("empty-header", lambda j: "", "missing bearer token (Authorization header)"),
    ("basic-scheme", lambda j: "Basic dXNlcjpwYXNz", "the Authorization header is not a bearer token"),
    ("token-without-scheme", lambda j: j.mint(), "the Authorization header is not a bearer token"),
    ("bearer-without-token", lambda j: "Bearer ", "the Authorization header is not a bearer token"),
    ("not-a-jwt", lambda j: "Bearer not-a-jwt", "malformed bearer token"),
    ("garbage-segments", lambda j: "Bearer a.b.c", "malformed bearer token"),
    ("oversized", lambda j: f"Bearer {j.mint(padding='x' * 16_000)}", "bearer token is too long"),  # signed, but no Entra token
    ("expired", lambda j: f"Bearer {j.mint(exp=int(time.time()) - 600)}", "token has expired"),
    ("not-yet-valid", lambda j: f"Bearer {j.mint(nbf=int(time.time()) + 600)}", "token is not valid yet"),
    ("without-exp", lambda j: f"Bearer {j.mint(exp=DROP)}", "token lacks the 'exp' claim"),
    ("wrong-audience", lambda j: f"Bearer {j.mint(aud='api://someone-else')}", "token is not for this relay (audience)"),
    ("without-audience", lambda j: f"Bearer {j.mint(aud=DROP)}", "token lacks the 'aud' claim"),
    (
        "other-tenant-issuer",
        lambda j: f"Bearer {j.mint(iss='https://sts.windows.net/11111111-1111-1111-1111-111111111111/')}",
        "token is not from the relay's tenant (issuer)",
    ),
    (
        "lookalike-issuer",
        lambda j: f"Bearer {j.mint(iss=f'https://login.microsoftonline.com/{TENANT_ID}/v2.0/')}",
        "token is not from the relay's tenant (issuer)",
    ),
    ("without-issuer", lambda j: f"Bearer {j.mint(iss=DROP)}", "token lacks the 'iss' claim"),
    ("unsigned-alg-none", lambda j: f"Bearer {unsigned(j.claims())}", "token is not RS256-signed"),
    ("hs256-with-the-public-key", lambda j: f"Bearer {j.mint(algorithm='HS256')}", "token is not RS256-signed"),
    ("rs512", lambda j: f"Bearer {j.mint(algorithm='RS512')}", "token is not RS256-signed"),
    ("wrong-key-same-kid", lambda j: f"Bearer {j.mint(key=signing_key('key-1', 'attacker'))}", "token signature does not verify"),
    ("tampered-claims", lambda j: f"Bearer {tampered(j)}", "token signature does not verify"),
    (
        "unpublished-key",
        lambda j: f"Bearer {j.mint(key=signing_key('attacker-key'))}",
        "token is signed by a key the tenant does not publish",
    ),
    ("no-kid", lambda j: f"Bearer {j.mint(kid='')}", "token names no signing key"),
    ("without-roles", lambda j: f"Bearer {j.mint(roles=DROP)}", f"token lacks the {ROLE} app role"),
    ("other-role", lambda j: f"Bearer {j.mint(roles=['Reader'])}", f"token lacks the {ROLE} app role"),
    ("role-as-a-string", lambda j: f"Bearer {j.mint(roles=ROLE)}", f"token lacks the {ROLE} app role"),
    (
        "other-caller",
        lambda j: f"Bearer {j.mint(appid='22222222-2222-2222-2222-222222222222')}",
        "token was not obtained by the action groups' app",
    ),
    ("no-caller", lambda j: f"Bearer {j.mint(appid=DROP)}", "token was not obtained by the action groups' app"),
    (
        "azp-disagrees",
        lambda j: f"Bearer {j.mint(azp='22222222-2222-2222-2222-222222222222')}",
        "token was not obtained by the action groups' app",
    ),
    (
        "caller-as-a-list",
        lambda j: f"Bearer {j.mint(appid=[ACTION_GROUPS_APP_ID])}",
        "token was not obtained by the action groups' app",
    ),
]


@pytest.mark.parametrize(("authorization", "reason"), [(m, r) for _, m, r in REFUSALS], ids=[n for n, _, _ in REFUSALS])
def test_a_bad_or_missing_token_is_refused_with_401_the_reason_and_nothing_else(
    *,
    jwks: JwksStandIn,
    tokens: EntraTokenValidator,
    publisher: EventGridPublisher,
    topic: EventGridTopicStandIn,
    caplog: pytest.LogCaptureFixture,
    authorization: Minter,
    reason: str,
) -> None:
    header = authorization(jwks)
    with caplog.at_level(logging.DEBUG):
        answer = call(tokens, header, publisher)
    assert (answer.status, answer.message) == (401, f"unauthorized: {reason}")
    assert dict(answer.headers)["WWW-Authenticate"].startswith("Bearer")
    assert topic.requests == []  # nothing published, not even tried
    secrets = [part for part in (header or "").replace("Bearer ", "").split(".") if len(part) > 8]
    assert not any(part in answer.message or part in caplog.text for part in secrets)
    assert BODY_MARKER not in caplog.text
    assert [r.getMessage() for r in caplog.records if r.name == relay.__name__] == [f"Alert call refused: {reason}"]


def test_the_token_is_checked_before_the_body_is_read(
    tokens: EntraTokenValidator, publisher: EventGridPublisher, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        assert relay.relay_webhook(tokens, None, publisher, b"{not json").status == 401
        assert relay.relay_webhook(tokens, None, publisher, b"x" * 300_000).status == 401
    # Only the refusal is logged: had the body been parsed, its rejection would be logged too.
    assert {r.getMessage() for r in caplog.records if r.name == relay.__name__} == {
        "Alert call refused: missing bearer token (Authorization header)"
    }


def test_without_auth_settings_every_call_is_refused_with_503(jwks: JwksStandIn, topic: EventGridTopicStandIn) -> None:
    publisher = EventGridPublisher(endpoint=topic.endpoint, credential=StaticToken("t0ken"), connection_verify=topic.ca_path)
    for authorization in (None, f"Bearer {jwks.mint()}"):
        answer = call(None, authorization, publisher)
        assert (answer.status, answer.message) == (503, "relay auth not configured")
    assert topic.requests == [] and jwks.requests == []


def test_unreachable_keys_answer_503_so_the_action_group_retries_and_the_retry_passes(
    jwks: JwksStandIn, tokens: EntraTokenValidator, publisher: EventGridPublisher, topic: EventGridTopicStandIn
) -> None:
    jwks.fail(1)
    answer = call(tokens, f"Bearer {jwks.mint()}", publisher)
    assert (answer.status, answer.message) == (
        503,
        "could not check the token: the tenant's signing keys could not be fetched; retry later",
    )
    assert topic.events == []
    assert call(tokens, f"Bearer {jwks.mint()}", publisher).status == 202


def test_a_key_set_without_signing_keys_answers_503_not_401(
    jwks: JwksStandIn, tokens: EntraTokenValidator, publisher: EventGridPublisher
) -> None:
    jwks.published = [signing_key("key-1", use="enc")]  # the tenant's fault (or ours), never the caller's
    answer = call(tokens, f"Bearer {jwks.mint()}", publisher)
    assert (answer.status, answer.message) == (
        503,
        "could not check the token: the tenant's signing keys could not be fetched; retry later",
    )


def test_a_good_token_still_gets_a_bad_body_refused_with_400(
    jwks: JwksStandIn, tokens: EntraTokenValidator, publisher: EventGridPublisher, topic: EventGridTopicStandIn
) -> None:
    answer = relay.relay_webhook(tokens, f"Bearer {jwks.mint()}", publisher, b"{oops")
    assert answer.status == 400 and answer.message.startswith("rejected: body is not JSON")
    assert topic.requests == []


# --- composition ------------------------------------------------------------------------------------------------------

_BASE = {
    "BACKUP_JOBS_SOURCE": "sample",
    "BACKUP_TABLE_CONNECTION_STRING": "UseDevelopmentStorage=true",
    "BACKUP_MAILER": "outbox",
    "BACKUP_MAIL_RECIPIENTS": "oncall@example.com",
}


@pytest.mark.parametrize(
    "relay_settings",
    [{}, {"BACKUP_RELAY_AUDIENCE": AUDIENCE}, {"BACKUP_RELAY_TENANT_ID": TENANT_ID}],
    ids=["neither", "audience-only", "tenant-only"],
)
def test_bootstrap_builds_no_validator_unless_audience_and_tenant_are_both_set(relay_settings: dict[str, str]) -> None:
    assert bootstrap.token_validator(Settings.from_environ({**_BASE, **relay_settings})) is None


def test_bootstrap_builds_the_entra_validator_from_the_settings() -> None:
    settings = Settings.from_environ({**_BASE, "BACKUP_RELAY_AUDIENCE": AUDIENCE, "BACKUP_RELAY_TENANT_ID": TENANT_ID})
    assert isinstance(bootstrap.token_validator(settings), EntraTokenValidator)


def test_a_validator_without_tenant_or_audience_cannot_be_built() -> None:
    with pytest.raises(ValueError):
        EntraTokenValidator(tenant_id="", audience=AUDIENCE)
    with pytest.raises(ValueError):
        EntraTokenValidator(tenant_id=TENANT_ID, audience="")
