"""Every mistake a user can make at the command line ends as a few lines naming the fix and a documented exit code
(0 done, 1 the run could not do its work, 2 bad input or settings), never a traceback unless --debug.

Each case runs ``python -m backup_events`` in a child process, as a user would, with a clean environment in which
a managed identity is claimed at a closed loopback port: nothing can leave the machine, and no sign-in works.
"""

from __future__ import annotations

import codecs
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from backup_events.cli import failures
from tests.conftest import DATA

ROOT = Path(__file__).resolve().parent.parent
ALERT = DATA / "alert-vm-backup-failure.json"
CLOSED = "127.0.0.1:9"  # the discard port: nothing listens, the connection is refused at once
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
CLOSED_TABLE = (
    f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={AZURITE_KEY};"
    f"TableEndpoint=http://{CLOSED}/devstoreaccount1;"
)
OUTBOX_MAIL = {"BACKUP_MAILER": "outbox", "BACKUP_MAIL_RECIPIENTS": "oncall@example.com"}


def cli(cwd: Path, *argv: str, **environ: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "BACKUP_", "MSI_", "IDENTITY_"))}
    env |= {"PYTHONPATH": str(ROOT), "IDENTITY_ENDPOINT": f"http://{CLOSED}/", "IDENTITY_HEADER": "x", **environ}
    return subprocess.run(
        [sys.executable, "-m", "backup_events", *argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def assert_clear(result: subprocess.CompletedProcess[str], code: int, *says: str, most_lines: int = 2) -> None:
    """Exit ``code``, no traceback, a few lines on stderr saying each of ``says``."""
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert 1 <= len(lines) <= most_lines, result.stderr
    for text in says:
        assert text in result.stderr, result.stderr


def test_poll_with_the_ledger_unreachable_says_which_and_how_to_start_it_and_does_nothing(tmp_path: Path) -> None:
    result = cli(tmp_path, "poll", BACKUP_JOBS_SOURCE="sample", BACKUP_TABLE_CONNECTION_STRING=CLOSED_TABLE, **OUTBOX_MAIL)
    assert_clear(result, 1, "the ledger (table backupevents)", "start Azurite", most_lines=1)
    assert not (tmp_path / "outbox").exists()  # stopped before any work


def test_poll_not_signed_in_names_what_was_tried_and_how_to_sign_in_once(tmp_path: Path) -> None:
    result = cli(tmp_path, "poll", BACKUP_JOBS_SOURCE="sample", BACKUP_TABLE_ENDPOINT=f"https://{CLOSED}", **OUTBOX_MAIL)
    assert_clear(result, 1, "no Azure sign-in worked", "managed identity: connection refused", "az login", "azd auth login")
    assert "AZURE_CLIENT_ID" in result.stderr and "IDENTITY_ENDPOINT is set" in result.stderr
    assert "DefaultAzureCredential failed" not in result.stderr  # the chain's own dump only under --debug
    assert not (tmp_path / "outbox").exists()


def test_debug_shows_the_traceback_and_the_credential_chain(tmp_path: Path) -> None:
    result = cli(
        tmp_path, "poll", "--debug", BACKUP_JOBS_SOURCE="sample", BACKUP_TABLE_ENDPOINT=f"https://{CLOSED}", **OUTBOX_MAIL
    )
    assert result.returncode == 1
    assert "Traceback" in result.stderr and "ManagedIdentityCredential" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("poll: no Azure sign-in worked")


def test_debug_is_taken_before_the_command_too(tmp_path: Path) -> None:
    result = cli(tmp_path, "--debug", "explain", str(tmp_path / "none.json"))
    assert result.returncode == 2 and "Traceback" in result.stderr


def test_test_email_not_signed_in_never_claims_acs_refused(tmp_path: Path) -> None:
    result = cli(
        tmp_path,
        "test-email",
        BACKUP_MAILER="acs",
        BACKUP_ACS_ENDPOINT=f"https://{CLOSED}",
        BACKUP_MAIL_SENDER="DoNotReply@example.azurecomm.net",
        BACKUP_MAIL_RECIPIENTS="oncall@example.com",
    )
    assert_clear(result, 1, "no Azure sign-in worked", "az login")
    assert "did not accept" not in result.stderr


def test_test_email_with_acs_unreachable_says_it_was_not_reached(tmp_path: Path) -> None:
    result = cli(
        tmp_path,
        "test-email",
        BACKUP_MAILER="acs",
        BACKUP_ACS_CONNECTION_STRING=f"endpoint=https://{CLOSED}/;accesskey=a2V5",
        BACKUP_MAIL_SENDER="DoNotReply@example.azurecomm.net",
        BACKUP_MAIL_RECIPIENTS="oncall@example.com",
    )
    assert_clear(result, 1, "not sent: ACS could not be reached")
    assert "did not accept" not in result.stderr and "a2V5" not in result.stderr


def test_test_email_needs_no_ledger_or_vault_settings(tmp_path: Path) -> None:
    result = cli(tmp_path, "test-email", BACKUP_VAULT_IDS="not-a-vault", BACKUP_OUTBOX_DIR=str(tmp_path / "out"), **OUTBOX_MAIL)
    assert result.returncode == 0, result.stderr
    assert "1 recipient:" in result.stdout and len(list((tmp_path / "out").glob("*.eml"))) == 1


def test_an_invalid_setting_is_named_with_a_valid_example_exit_2(tmp_path: Path) -> None:
    result = cli(tmp_path, "test-email", BACKUP_MAIL_SENDER="notanemail", **OUTBOX_MAIL)
    assert_clear(result, 2, "settings: 1 setting is missing or invalid:", "BACKUP_MAIL_SENDER: must be one email address")


def test_a_settings_folder_is_told_to_name_the_file(tmp_path: Path) -> None:
    assert_clear(cli(tmp_path, "doctor", "--settings", str(tmp_path)), 2, "is a folder; name the file", most_lines=1)


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (None, "no such file; start from the sample: cp local.settings.sample.json"),
        (b"{not json", "is not JSON"),
        (b'["Values"]', 'has no "Values" object'),
        (b'{"IsEncrypted": true, "Values": {}}', "func settings decrypt"),
    ],
)
def test_a_missing_or_broken_settings_file_is_one_line_exit_2(tmp_path: Path, content: bytes | None, says: str) -> None:
    path = tmp_path / "local.settings.json"
    if content is not None:
        path.write_bytes(content)
    result = cli(tmp_path, "poll", "--settings", str(path))
    assert_clear(result, 2, f"--settings {path}", says, most_lines=1)


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16"])
def test_a_settings_file_saved_by_windows_tools_is_read(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "local.settings.json"
    values = {**OUTBOX_MAIL, "BACKUP_OUTBOX_DIR": str(tmp_path / "out")}
    path.write_text(json.dumps({"IsEncrypted": False, "Values": values}), encoding=encoding)
    result = cli(tmp_path, "test-email", "--settings", str(path))
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("bom", [codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE])
def test_explain_reads_utf8_with_bom_and_utf16_as_powershell_writes_them(tmp_path: Path, bom: bytes) -> None:
    text = ALERT.read_text(encoding="utf-8")
    encoding = {codecs.BOM_UTF8: "utf-8", codecs.BOM_UTF16_LE: "utf-16-le", codecs.BOM_UTF16_BE: "utf-16-be"}[bom]
    path = tmp_path / "alert.json"
    path.write_bytes(bom + text.encode(encoding))
    result = cli(tmp_path, "explain", str(path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Subject: [Backup failed] vm-app-02")


def test_explain_on_a_file_in_another_encoding_says_save_it_as_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.json"
    path.write_bytes('{"name": "sauvegarde échouée"}'.encode("latin-1"))
    assert_clear(cli(tmp_path, "explain", str(path)), 2, "save it as UTF-8", most_lines=1)


def test_catalog_check_on_a_toml_typo_names_the_line_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "catalog.toml"
    path.write_text('schema = 1\n[[entry]\nkey = "x"\n', encoding="utf-8")
    assert_clear(cli(tmp_path, "catalog", "check", "--file", str(path)), 2, "is not valid TOML", "line 2", most_lines=1)


def test_catalog_check_on_a_missing_file_exit_2(tmp_path: Path) -> None:
    assert_clear(cli(tmp_path, "catalog", "check", "--file", "nope.toml"), 2, "cannot read nope.toml", most_lines=1)


def test_replay_of_a_missing_file_is_one_line_exit_2(tmp_path: Path) -> None:
    assert_clear(cli(tmp_path, "replay", "jobs.json"), 2, "cannot read jobs.json", most_lines=1)


def test_a_bad_argument_is_argparse_s_usage_and_exit_2(tmp_path: Path) -> None:
    result = cli(tmp_path, "replay", "--interval", "0", "jobs.json")
    assert result.returncode == 2 and "not a whole number of minutes" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("argv", [["catalog"], ["explain", str(ALERT)], ["--help"]])
def test_output_piped_into_head_ends_quietly(tmp_path: Path, argv: list[str]) -> None:
    command = " ".join([sys.executable, "-m", "backup_events", *argv])
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        ["bash", "-c", f"set -o pipefail; {command} | head -1"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert len(result.stdout.splitlines()) == 1


def test_an_error_piped_into_head_keeps_its_exit_code_and_says_nothing_more(tmp_path: Path) -> None:
    # The error's lines go to a reader that leaves after the first: still exit 2 (bad settings), never Python's 120
    # ("Exception ignored ... BrokenPipeError") from flushing at exit.
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "PYTHONPATH": str(ROOT)}
    command = f"{sys.executable} -m backup_events poll"
    result = subprocess.run(
        ["bash", "-c", f"{command} 2>&1 | head -1; exit ${{PIPESTATUS[0]}}"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout.startswith("settings: ") and len(result.stdout.splitlines()) == 1
    assert result.stderr == ""


def test_help_lists_every_command_in_plain_text(tmp_path: Path) -> None:
    result = cli(tmp_path, "--help")
    assert result.returncode == 0
    for command in ("demo", "explain", "replay", "poll", "test-email", "doctor", "catalog"):
        assert f"\n    {command}" in result.stdout
    assert "``" not in result.stdout and "Exit codes: 0" in result.stdout
    explain = cli(tmp_path, "explain", "--help").stdout
    assert "a list of jobs" in explain and "alert" in explain
    for command in ("demo", "explain", "replay", "poll", "test-email", "doctor", "catalog"):
        assert "`" not in cli(tmp_path, command, "--help").stdout, command


def test_an_unexpected_error_is_one_line_asking_for_debug_and_a_report() -> None:
    message, code = failures.describe(ZeroDivisionError("division by zero"), "poll")
    assert code == failures.RUN_PROBLEM
    assert message == (
        "poll: unexpected error ZeroDivisionError: division by zero. This is a bug in backup-events: rerun with --debug "
        "and report the traceback"
    )
