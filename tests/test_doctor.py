"""doctor: one checklist line per part a run needs, against the local stand-ins (ARM, ACS) and Azurite; it changes
nothing and sends nothing unless asked."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest

from backup_events.adapters.sample_jobs import bundled
from backup_events.cli import doctor
from tests.loopback.acs import AcsEmailStandIn
from tests.loopback.arm import ArmStandIn
from tests.loopback.fixtures import FakeTokenCredential, serving

ROOT = Path(__file__).resolve().parent.parent
OID = "7d2e4f6a-0000-4000-8000-000000000042"
WORLD = bundled()
READABLE, DENIED = list(WORLD["protectedItems"])[:2]  # rsv-prod-weu, rsv-files-weu


@pytest.fixture
def arm() -> Iterator[ArmStandIn]:
    token = jwt.encode({"oid": OID, "upn": "ops@contoso.com"}, "not-a-real-key-but-long-enough-32b", algorithm="HS256")
    server = ArmStandIn(token=token)
    for vault in (READABLE, DENIED):
        server.add_vault(vault)
        for item in WORLD["protectedItems"][vault]:
            server.add_protected_item(vault, item)
        for policy in WORLD["policies"].get(vault, []):
            server.add_policy(vault, policy)
    for job in WORLD["value"]:
        if job["id"].casefold().startswith(READABLE.casefold()):
            server.add_job(job)
    yield from serving(server)


def environ(arm: ArmStandIn, azurite: str, tmp_path: Path, **values: str) -> dict[str, str]:
    return {
        "BACKUP_JOBS_SOURCE": "arm",
        "BACKUP_VAULT_IDS": f"{READABLE},{DENIED}",
        "BACKUP_CLOUD": arm.url,
        "BACKUP_TABLE_CONNECTION_STRING": azurite,
        "BACKUP_TABLE_NAME": "doctor" + os.urandom(4).hex(),
        "BACKUP_MAILER": "outbox",
        "BACKUP_OUTBOX_DIR": str(tmp_path / "outbox"),
        "BACKUP_MAIL_RECIPIENTS": "oncall@example.com",
        **values,
    }


def run(env: dict[str, str], arm: ArmStandIn, **kwargs: Any) -> tuple[int, list[str]]:
    lines: list[str] = []
    code = doctor.run(
        env, show=lambda line: lines.append(str(line)), signed_in=(FakeTokenCredential(arm.token), "a test credential"), **kwargs
    )
    return code, lines


def line(lines: list[str], name: str) -> str:
    return next(text for text in lines if text.split()[1:2] == name.split()[:1] and name in text)


def test_a_readable_and_an_unreadable_vault_the_missing_role_named_with_its_scope(
    arm: ArmStandIn, azurite: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", arm.ca_path)
    arm.deny("rsv-files-weu", principal=OID)
    code, lines = run(environ(arm, azurite, tmp_path), arm)
    assert code == 1, "\n".join(lines)
    assert "ok    sign-in" in line(lines, "sign-in")
    assert line(lines, "sign-in").endswith("a test credential as ops@contoso.com (tokens for Resource Manager)")
    readable = line(lines, "vault rsv-prod-weu")
    assert readable.lstrip().startswith("ok") and "protected items" in readable and "polic" in readable
    denied = lines.index(line(lines, "vault rsv-files-weu"))
    assert lines[denied].lstrip().startswith("FAIL") and "HTTP 403 AuthorizationFailed" in lines[denied]
    assert lines[denied + 1].strip() == (
        f'fix: az role assignment create --assignee {OID} --role "Backup Reader" --scope {DENIED}'
    )
    assert line(lines, "ledger").lstrip().startswith("ok")
    assert lines[-1] == "\ndoctor: 1 of 8 checks failed (1 skipped)."


def test_all_good_exits_0_and_leaves_no_probe_row_and_no_email(
    arm: ArmStandIn, azurite: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from azure.data.tables import TableClient

    monkeypatch.setenv("REQUESTS_CA_BUNDLE", arm.ca_path)
    env = environ(arm, azurite, tmp_path, BACKUP_VAULT_IDS=READABLE)
    TableClient.from_connection_string(azurite, table_name=env["BACKUP_TABLE_NAME"]).create_table()
    code, lines = run(env, arm)
    assert code == 0, "\n".join(lines)
    assert "reachable and writable" in line(lines, "ledger")
    assert "outbox: emails are written to" in line(lines, "mailer")
    assert "off (BACKUP_EVENTGRID_TOPIC_ENDPOINT is empty)" in line(lines, "relay")
    table = TableClient.from_connection_string(azurite, table_name=env["BACKUP_TABLE_NAME"])
    assert list(table.list_entities()) == []
    assert not (tmp_path / "outbox").exists()


def test_a_missing_table_is_reported_as_created_by_the_first_run(
    arm: ArmStandIn, azurite: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", arm.ca_path)
    code, lines = run(environ(arm, azurite, tmp_path, BACKUP_VAULT_IDS=READABLE), arm)
    assert code == 0 and "the first run creates it" in line(lines, "ledger")


def test_bad_settings_exit_2_and_the_other_parts_are_still_checked(
    arm: ArmStandIn, azurite: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", arm.ca_path)
    env = environ(arm, azurite, tmp_path, BACKUP_VAULT_IDS=READABLE, BACKUP_MAIL_SENDER="notanemail")
    code, lines = run(env, arm)
    assert code == 2
    assert "BACKUP_MAIL_SENDER: must be one email address" in line(lines, "settings")
    assert "fix its settings first" in line(lines, "mailer")
    assert line(lines, "vault rsv-prod-weu").lstrip().startswith("ok") and line(lines, "ledger").lstrip().startswith("ok")


def test_the_ledger_unreachable_names_the_fix(arm: ArmStandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", arm.ca_path)
    from tests.test_cli_errors import CLOSED_TABLE as closed

    code, lines = run(environ(arm, closed, tmp_path, BACKUP_VAULT_IDS=READABLE), arm)
    assert code == 1
    ledger = lines.index(line(lines, "ledger"))
    assert "cannot reach" in lines[ledger] and "start Azurite" in lines[ledger + 1]


@pytest.fixture
def acs() -> Iterator[AcsEmailStandIn]:
    yield from serving(AcsEmailStandIn())


def test_the_acs_mailer_is_probed_without_sending_and_a_wrong_key_is_a_failing_line(
    arm: ArmStandIn, acs: AcsEmailStandIn, azurite: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", acs.ca_path)  # one CA signs every stand-in
    mail = {
        "BACKUP_VAULT_IDS": READABLE,
        "BACKUP_MAILER": "acs",
        "BACKUP_ACS_CONNECTION_STRING": acs.connection_string,
        "BACKUP_MAIL_SENDER": "DoNotReply@example.azurecomm.net",
    }
    code, lines = run(environ(arm, azurite, tmp_path, **mail), arm)
    assert code == 0, "\n".join(lines)
    assert "answers and accepts the sign-in" in line(lines, "mailer") and acs.delivered == []
    code, lines = run(environ(arm, azurite, tmp_path, **mail), arm, send_test=True)
    assert code == 0 and len(acs.delivered) == 1 and "sent to 1 recipient" in line(lines, "test email")
    wrong = acs.connection_string.rsplit("accesskey=", 1)[0] + "accesskey=d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXk="
    code, lines = run(environ(arm, azurite, tmp_path, **{**mail, "BACKUP_ACS_CONNECTION_STRING": wrong}), arm)
    mailer = lines.index(line(lines, "mailer"))
    assert code == 1 and "HTTP 401" in lines[mailer] and "email sender role" in lines[mailer + 1]
    assert "d3Jvbmc" not in "\n".join(lines)


def test_a_relay_topic_without_its_token_check_fails(
    arm: ArmStandIn, azurite: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", arm.ca_path)
    topic = {"BACKUP_EVENTGRID_TOPIC_ENDPOINT": "https://egt.westeurope-1.eventgrid.azure.net/api/events"}
    code, lines = run(environ(arm, azurite, tmp_path, BACKUP_VAULT_IDS=READABLE, **topic), arm)
    assert code == 1 and "every call to the relay is refused" in line(lines, "relay")
    ok = {**topic, "BACKUP_RELAY_AUDIENCE": "api://backup-events-relay", "BACKUP_RELAY_TENANT_ID": OID}
    code, lines = run(environ(arm, azurite, tmp_path, BACKUP_VAULT_IDS=READABLE, **ok), arm)
    assert code == 0 and "accepts tokens for api://backup-events-relay" in line(lines, "relay")


def test_doctor_not_signed_in_says_how_and_skips_what_needs_it(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "BACKUP_", "MSI_", "IDENTITY_"))}
    env |= {
        "PYTHONPATH": str(ROOT),
        "IDENTITY_ENDPOINT": "http://127.0.0.1:9/",
        "IDENTITY_HEADER": "x",
        "BACKUP_VAULT_IDS": READABLE,
        "BACKUP_TABLE_ENDPOINT": "https://127.0.0.1:9",
        "BACKUP_MAILER": "outbox",
        "BACKUP_MAIL_RECIPIENTS": "oncall@example.com",
    }
    result = subprocess.run(
        [sys.executable, "-m", "backup_events", "doctor"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr + result.stdout
    lines = result.stdout.splitlines()
    sign_in = lines.index(line(lines, "sign-in"))
    assert "FAIL" in lines[sign_in] and "no Azure sign-in worked" in lines[sign_in] and "az login" in lines[sign_in + 1]
    assert "needs a sign-in" in line(lines, "vaults") and "needs a sign-in" in line(lines, "ledger")
