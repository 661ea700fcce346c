"""The Functions entry points, indexed and called as the host would, with real azure.functions objects."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path

import azure.functions as func
import pytest
from azure.functions.timer import TimerRequest

import function_app
from backup_events import bootstrap
from backup_events.errors import ConfigurationError
from tests.function_index import bindings
from tests.loopback.jwks import AUDIENCE, TENANT_ID, JwksStandIn, unsigned


@pytest.fixture(autouse=True)
def fresh_services() -> Iterator[None]:
    bootstrap.services.cache_clear()
    bootstrap.relay_token_validator.cache_clear()
    yield
    bootstrap.relay_token_validator.cache_clear()


def test_timer_is_indexed_with_the_schedule_from_an_app_setting() -> None:
    timer = bindings()["poll_backup_jobs"][0]
    assert timer["type"] == "timerTrigger"
    assert timer["schedule"] == "%BACKUP_POLL_SCHEDULE%"
    assert timer["runOnStartup"] is False


def test_timer_tells_the_sample_failures_into_the_outbox(app_settings: Path) -> None:
    tmp_path = app_settings
    function_app.poll_backup_jobs(TimerRequest(past_due=True))
    written = len(list(tmp_path.glob("*.eml")))
    assert written > 0
    function_app.poll_backup_jobs(TimerRequest(past_due=False))
    assert len(list(tmp_path.glob("*.eml"))) == written


def test_the_summary_timer_is_indexed_every_quarter_hour_and_decides_by_the_setting_itself() -> None:
    timer = bindings()["send_daily_summary"][0]
    assert (timer["type"], timer["schedule"], timer["runOnStartup"]) == ("timerTrigger", "0 */15 * * * *", False)


def test_the_summary_timer_writes_the_summary_in_its_quarter_hour_after_the_polls(
    app_settings: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    if now.minute % 15 == 14 and now.second > 50:  # the quarter may end while the test runs: start in the next one
        time.sleep(61 - now.second)
        now = datetime.now(UTC)
    quarter = f"{now:%H}:{now.minute // 15 * 15:02d}"
    monkeypatch.setenv("BACKUP_SUMMARY_SCHEDULE", quarter)
    function_app.poll_backup_jobs(TimerRequest(past_due=False))
    told = len(list(app_settings.glob("*.eml")))
    function_app.send_daily_summary(TimerRequest(past_due=False))
    (summary,) = [p for p in app_settings.glob("backup-summary-*.eml")]
    assert len(list(app_settings.glob("*.eml"))) == told + 1 and "failing" in summary.name


def test_missing_settings_fail_the_invocation_with_every_problem_named() -> None:
    assert not any(name.startswith("BACKUP_") for name in os.environ)
    with pytest.raises(ConfigurationError) as caught:
        function_app.poll_backup_jobs(TimerRequest(past_due=False))
    assert "BACKUP_VAULT_IDS" in str(caught.value) and "BACKUP_MAIL_RECIPIENTS" in str(caught.value)


def test_indexing_function_app_loads_neither_the_sdks_nor_the_package() -> None:
    import subprocess
    import sys

    probe = (
        "import sys, function_app; "
        "heavy = [m for m in sys.modules if m.startswith(('azure.identity', 'azure.mgmt', 'azure.data', "
        "'azure.communication', 'azure.eventgrid', 'azure.core', 'jinja2', 'jwt', 'cryptography', 'backup_events'))]; "
        "print(','.join(sorted(heavy)))"
    )
    root = Path(function_app.__file__).parent
    loaded = subprocess.run([sys.executable, "-c", probe], cwd=root, capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == ""


def test_function_app_is_a_functions_app() -> None:
    assert isinstance(function_app.app, func.FunctionApp)


# --- the relay function: its Entra token first, with real azure.functions requests ------------------------------

BODY_MARKER = "body-marker-5c1e"


def alert_request(headers: dict[str, str], body: bytes | None = None) -> func.HttpRequest:
    if body is None:
        alert = json.loads((Path(__file__).parent / "data" / "alert-vm-backup-failure.json").read_text(encoding="utf-8"))
        alert["data"]["essentials"]["description"] = BODY_MARKER
        body = json.dumps(alert).encode()
    return func.HttpRequest(method="POST", url="/api/alerts", body=body, headers={"Content-Type": "application/json", **headers})


@pytest.fixture
def relay_auth(app_settings: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The relay's auth settings on top of the local app settings."""
    monkeypatch.setenv("BACKUP_RELAY_AUDIENCE", AUDIENCE)
    monkeypatch.setenv("BACKUP_RELAY_TENANT_ID", TENANT_ID)


@pytest.mark.parametrize(
    "relay_settings",
    [{}, {"BACKUP_RELAY_AUDIENCE": AUDIENCE}, {"BACKUP_RELAY_TENANT_ID": TENANT_ID}],
    ids=["neither", "audience-only", "tenant-only"],
)
def test_relay_function_without_both_auth_settings_refuses_every_call_with_503(
    app_settings: Path, monkeypatch: pytest.MonkeyPatch, relay_settings: dict[str, str]
) -> None:
    for name, value in relay_settings.items():
        monkeypatch.setenv(name, value)
    for headers in ({}, {"Authorization": f"Bearer {unsigned(JwksStandIn().claims())}"}):
        response = function_app.relay_backup_alert(alert_request(headers))
        assert (response.status_code, response.get_body()) == (503, b"relay auth not configured")


def test_relay_function_without_a_token_answers_401_before_reading_the_body(
    relay_auth: None, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        response = function_app.relay_backup_alert(alert_request({}, body=b"{not json " + BODY_MARKER.encode()))
    assert response.status_code == 401  # not 400: the body was never parsed
    assert response.get_body() == b"unauthorized: missing bearer token (Authorization header)"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert BODY_MARKER not in caplog.text


@pytest.mark.parametrize("name", ["Authorization", "authorization"])
def test_relay_function_hands_the_authorization_header_to_the_check(relay_auth: None, name: str) -> None:
    # An unsigned token is refused for its algorithm, before any key is fetched: proof the header got through.
    token = unsigned(JwksStandIn().claims())
    response = function_app.relay_backup_alert(alert_request({name: f"Bearer {token}"}))
    assert (response.status_code, response.get_body()) == (401, b"unauthorized: token is not RS256-signed")
    assert token not in response.get_body().decode()


@pytest.mark.parametrize(
    ("authorization", "reason"),
    [
        ("Basic dXNlcjpwYXNz", b"unauthorized: the Authorization header is not a bearer token"),
        ("Bearer not-a-jwt", b"unauthorized: malformed bearer token"),
        ("", b"unauthorized: missing bearer token (Authorization header)"),
    ],
)
def test_relay_function_refuses_what_is_no_token_with_401_and_logs_nothing_of_the_body(
    relay_auth: None, caplog: pytest.LogCaptureFixture, authorization: str, reason: bytes
) -> None:
    with caplog.at_level(logging.DEBUG):
        response = function_app.relay_backup_alert(alert_request({"Authorization": authorization}))
    assert (response.status_code, response.get_body()) == (401, reason)
    assert BODY_MARKER not in caplog.text and "dXNlcjpwYXNz" not in caplog.text
