"""The command line as a user runs it: explain, catalog, demo."""

from __future__ import annotations

import email
import email.policy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from backup_events.__main__ import main
from tests.conftest import DATA, load

ROOT = Path(__file__).resolve().parent.parent
VM = DATA / "synth-iaasvm-failed-UserErrorGuestAgentStatusUnavailable-details.json"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_explain_prints_the_subject_then_the_plain_text_body(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "explain", str(VM))
    lines = out.splitlines()
    assert code == 0 and err == ""
    assert lines[0] == "Subject: [Backup failed] vm-app-02: UserErrorGuestAgentStatusUnavailable"
    assert lines[1] == ""
    assert "WHAT TO DO" in out and "<" not in out.split("WHAT TO DO")[0]


def test_explain_html_prints_the_html_body(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "explain", "--html", str(VM))
    assert code == 0
    assert out.splitlines()[0].startswith("Subject: ")
    assert "<!DOCTYPE html>" in out


def test_explain_a_job_that_did_not_fail_says_no_email_and_why(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    job = load("spec-2026-02-01-GetJobDetails.json")["responses"]["200"]["body"]
    path = tmp_path / "inprogress.json"
    path.write_text(json.dumps(job))
    code, out, _ = run(capsys, "explain", str(path))
    assert code == 0
    assert out.startswith("No email: ") and "InProgress" in out
    assert len(out.splitlines()) == 1


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("this is not json", "is not JSON"),
        ('{"value": []}', "neither a backup job"),
        ('{"id": "/subscriptions/s/resourceGroups/r/providers/Microsoft.RecoveryServices/vaults/v", "properties": {}}', "field"),
        ("[]", "neither a backup job"),
    ],
)
def test_explain_bad_input_is_one_clear_line_on_stderr_and_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, content: str, says: str
) -> None:
    path = tmp_path / "input.json"
    path.write_text(content)
    code, out, err = run(capsys, "explain", str(path))
    assert code == 2 and out == ""
    assert says in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_explain_missing_file_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "explain", str(tmp_path / "nope.json"))
    assert code == 2 and "cannot read" in err


def wrapped(kind: str) -> Any:
    alert = load("alert-vm-backup-failure.json")
    if kind == "eventgrid":
        return [
            {
                "id": "1",
                "eventType": "BackupEvents.AzureMonitorAlert.Fired",
                "subject": "s",
                "eventTime": "2026-11-20T00:00:00Z",
                "dataVersion": "1.0",
                "data": alert,
            }
        ]
    if kind == "cloudevent":
        return {"specversion": "1.0", "id": "1", "source": "/x", "type": "BackupEvents.AzureMonitorAlert.Fired", "data": alert}
    return alert


@pytest.mark.parametrize("kind", ["alert", "eventgrid", "cloudevent"])
def test_explain_accepts_an_alert_bare_or_inside_an_event(capsys: pytest.CaptureFixture[str], tmp_path: Path, kind: str) -> None:
    path = tmp_path / f"{kind}.json"
    path.write_text(json.dumps(wrapped(kind)))
    code, out, _ = run(capsys, "explain", str(path))
    assert code == 0
    assert out.splitlines()[0] == "Subject: [Backup failed] vm-app-02: UserErrorGuestAgentStatusUnavailable"
    assert "Source: Azure Monitor alert" in out


def test_catalog_lists_entries(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "catalog")
    assert code == 0 and "UserErrorGuestAgentStatusUnavailable" in out


def test_catalog_check_names_the_bad_entry_and_exits_1(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "catalog.toml"
    bad.write_text(
        'schema = 1\n[[entry]]\nkey = "Broken"\ntitle = "t"\ncause = "c"\nsteps = ["s"]\nphase = "Somewhere"\n'
        'severity = "user"\nworkloads = ["Azure VM"]\ncodes = ["X"]\ndocs = "http://example.com"\n'
    )
    code, _, err = run(capsys, "catalog", "check", "--file", str(bad))
    assert code == 1
    assert "Broken: phase 'Somewhere'" in err
    assert "Broken: docs must be an https://learn.microsoft.com/ link" in err


def test_catalog_check_covers_both_languages_of_the_bundled_catalog(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "catalog", "check")
    assert code == 0 and out.startswith("catalog OK: ") and " entries in en, ja, " in out


def test_catalog_check_names_the_key_whose_japanese_is_wrong_and_exits_1(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    english, japanese = tmp_path / "catalog.toml", tmp_path / "catalog.ja.toml"
    english.write_text(
        'schema = 1\n[[entry]]\nkey = "Agent"\ntitle = "t"\ncause = "c"\nsteps = ["Run `waagent`.", "s2"]\n'
        'phase = "Take Snapshot"\nseverity = "user"\nworkloads = ["Azure VM"]\ncodes = ["X"]\n'
        'docs = "https://learn.microsoft.com/azure/backup/p"\n'
    )
    japanese.write_text(
        'schema = 1\nlanguage = "ja"\n[entry.Agent]\ntitle = "題"\ncause = "原因"\nsteps = ["`walinuxagent` を実行します。"]\n'
        'docs = "https://learn.microsoft.com/azure/backup/p"\n'
    )
    code, _, err = run(capsys, "catalog", "check", "--file", str(english), "--ja", str(japanese))
    assert code == 1
    assert "Agent (ja): 1 steps, the English has 2" in err
    assert "Agent (ja): docs must be the ja-jp Learn link https://learn.microsoft.com/ja-jp/azure/backup/p" in err
    assert "Traceback" not in err


def test_demo_twice_writes_every_failure_then_nothing(tmp_path: Path) -> None:
    def demo() -> str:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "backup_events",
                "demo",
                "--state",
                str(tmp_path / "state"),
                "--outbox",
                str(tmp_path / "outbox"),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        return result.stdout

    first, second = demo(), demo()
    written = int(first.split("emails written")[1].split()[0])
    assert written >= 8
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == written
    assert int(second.split("emails written")[1].split()[0]) == 0
    failures = int(first.split("failures")[1].split()[0])
    assert int(second.split("duplicates skipped")[1].split()[0]) == failures


def settings_file(tmp_path: Path, **values: str) -> Path:
    path = tmp_path / "local.settings.json"
    path.write_text(json.dumps({"IsEncrypted": False, "Values": values}))
    return path


def test_test_email_through_the_outbox_is_marked_as_a_test(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = settings_file(
        tmp_path,
        BACKUP_JOBS_SOURCE="sample",
        BACKUP_TABLE_CONNECTION_STRING="UseDevelopmentStorage=true",
        BACKUP_MAILER="outbox",
        BACKUP_OUTBOX_DIR=str(tmp_path / "outbox"),
        BACKUP_MAIL_RECIPIENTS="oncall@example.com,team@example.com",
    )
    code, out, _ = run(capsys, "test-email", "--settings", str(path))
    assert code == 0
    assert "2 recipients" in out and "oncall@example.com" not in out
    (eml,) = (tmp_path / "outbox").glob("*.eml")
    message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert message["Subject"] == "[backup-events TEST] nothing has failed"
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert text.startswith("TEST — nothing has failed\n")
    assert "TEST — nothing has failed" in html.split("<body", 1)[1][:900]  # the first words on the screen
    assert f"Mailer     : outbox folder {tmp_path / 'outbox'}" in text
    assert "Recipients : 2: oncall@example.com, team@example.com" in text
    assert "#a4262c" not in html  # no failure red
    # The sample is below the divider, never above it: the first screen cannot be mistaken for a failure.
    above, below = text.split("SAMPLE ONLY — what a real failure email looks like")
    assert "vm-app-02" not in above and "[Backup failed] vm-app-02: UserErrorGuestAgentStatusUnavailable" in below


def test_test_email_through_acs_reaches_the_service_once(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.loopback.acs import AcsEmailStandIn

    with AcsEmailStandIn() as acs:
        # How an operator trusts a private CA: the standard variable the HTTP stack reads.
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", acs.ca_path)
        path = settings_file(
            tmp_path,
            BACKUP_JOBS_SOURCE="sample",
            BACKUP_TABLE_CONNECTION_STRING="UseDevelopmentStorage=true",
            BACKUP_MAILER="acs",
            BACKUP_ACS_CONNECTION_STRING=acs.connection_string,
            BACKUP_MAIL_SENDER="DoNotReply@example.azurecomm.net",
            BACKUP_MAIL_RECIPIENTS="oncall@example.com",
        )
        code, out, err = run(capsys, "test-email", "--settings", str(path))
        assert (code, acs.errors) == (0, []), err
        assert len(acs.delivered) == 1
        assert acs.delivered[0]["message"]["content"]["subject"].startswith("[backup-events TEST]")
        assert acs.access_key not in out + err


def test_test_email_with_a_wrong_key_fails_clearly(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.loopback.acs import AcsEmailStandIn

    with AcsEmailStandIn() as acs:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", acs.ca_path)
        wrong = acs.connection_string.rsplit("accesskey=", 1)[0] + "accesskey=d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXk="
        path = settings_file(
            tmp_path,
            BACKUP_JOBS_SOURCE="sample",
            BACKUP_TABLE_CONNECTION_STRING="UseDevelopmentStorage=true",
            BACKUP_MAILER="acs",
            BACKUP_ACS_CONNECTION_STRING=wrong,
            BACKUP_MAIL_SENDER="DoNotReply@example.azurecomm.net",
            BACKUP_MAIL_RECIPIENTS="oncall@example.com",
        )
        code, _, err = run(capsys, "test-email", "--settings", str(path))
        assert code == 1 and "401" in err and "d3Jvbmc" not in err
        assert "Fix: " in err and "check its access key" in err
        assert acs.delivered == []


def test_demo_story_opens_repeats_reminds_recovers_and_digests(tmp_path: Path) -> None:
    from backup_events.dev import demo

    steps = demo.story(tmp_path / "state", tmp_path / "outbox", show=lambda title, report: None)
    emails = [(r.emails_sent, r.reminders_sent, r.recovery_emails, r.digests) for _, r in steps]
    assert emails == [
        (13, 0, 0, 0),
        (0, 0, 0, 0),
        (1, 0, 0, 1),
        (11, 11, 0, 0),
        (1, 0, 1, 0),
    ]  # the vault key job and the Backup vault's blob restore are one-offs: no reminder
    assert [r.repeats for _, r in steps][1] == 1
    assert steps[0][1].missed == 1
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 26


def test_demo_story_reminders_and_recovery_report_the_true_gap_since_the_last_good_recovery_point(tmp_path: Path) -> None:
    import email
    import email.policy

    from backup_events.dev import demo

    demo.story(tmp_path / "state", tmp_path / "outbox", show=lambda title, report: None)
    subjects = {
        " ".join(str(email.message_from_bytes(p.read_bytes(), policy=email.policy.default)["Subject"]).split())
        for p in (tmp_path / "outbox").glob("*.eml")
    }
    # The reminder counts from vm-app-02's last recovery point in the sample world (more than two days before), not from
    # its first failure (24 h before); the missed backup's reminder says how long the item has had no recovery point.
    assert (
        "[Backup still failing] vm-app-02: UserErrorGuestAgentStatusUnavailable (no good backup for 2 d 14 h, 2 failures)"
        in subjects
    )
    assert (
        "[Backup recovered] vm-app-02: UserErrorGuestAgentStatusUnavailable (no good backup for 2 d 15 h, 2 failures)" in subjects
    )
    assert "[Backup still missed] vm-legacy-09: no recovery point since 2026-11-21 16:05 UTC (4 d 14 h)" in subjects
    assert not any("MissedBackup" in s for s in subjects)


def test_summary_on_demand_writes_the_summary_of_what_the_polls_recorded(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, azurite: str, table_name: str
) -> None:
    path = settings_file(
        tmp_path,
        BACKUP_JOBS_SOURCE="sample",
        BACKUP_TABLE_CONNECTION_STRING=azurite,
        BACKUP_TABLE_NAME=table_name,
        BACKUP_MAILER="outbox",
        BACKUP_OUTBOX_DIR=str(tmp_path / "outbox"),
        BACKUP_MAIL_RECIPIENTS="oncall@example.com",
        BACKUP_TIMEZONE="Asia/Tokyo",
    )
    assert run(capsys, "poll", "--settings", str(path))[0] == 0
    code, out, _ = run(capsys, "summary", "--settings", str(path))
    assert code == 0
    subject, last = out.splitlines()
    assert subject.startswith("[Backup summary] ") and " failing" in subject and "jobs succeeded" in subject
    assert last == "backup-events summary: 1 sent, 0 sent before, 1 recipient group(s)"
    assert run(capsys, "summary", "--settings", str(path))[1].endswith("0 sent, 1 sent before, 1 recipient group(s)\n")


def test_explain_in_japanese_prints_a_japanese_subject_and_body_with_jst_times(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BACKUP_MAIL_LANGUAGE", "ja")
    monkeypatch.setenv("BACKUP_TIMEZONE", "Asia/Tokyo")
    code, out, err = run(capsys, "explain", str(VM))
    assert code == 0 and err == ""
    assert out.splitlines()[0] == "Subject: [バックアップ失敗] vm-app-02: UserErrorGuestAgentStatusUnavailable"
    assert "対処方法" in out and "RdAgent" in out  # the catalog's steps, in Japanese
    assert "2026年11月21日 05:25 JST" in out and " UTC" not in out
    assert "Azure からのメッセージ (原文)\nVM Agent unable to communicate with Azure Backup" in out


def test_explain_lang_and_tz_choose_over_the_environment(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BACKUP_MAIL_LANGUAGE", "ja")
    code, out, _ = run(capsys, "explain", "--lang", "en", "--tz", "Asia/Tokyo", str(VM))
    assert code == 0 and out.startswith("Subject: [Backup failed]") and "2026-11-21 05:25 JST" in out
    code, out, _ = run(capsys, "explain", "--lang", "ja", "--html", str(VM))
    assert code == 0 and '<html lang="ja">' in out and "2026年11月20日 20:25 UTC" in out


def test_an_unknown_time_zone_is_one_line_naming_the_fix_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "explain", "--tz", "Tokyo", str(VM))
    assert code == 2 and out == ""
    assert "time zone 'Tokyo' is not an IANA name such as Asia/Tokyo or UTC (--lang / BACKUP_MAIL_LANGUAGE" in err
    assert "Traceback" not in err


def test_replay_in_japanese_writes_japanese_emails(azurite: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.recorded import RECORDED  # noqa: PLC0415

    files = [str(RECORDED / "jobs/azcli--test_backup_scenario--552214c-i377.json")]
    assert main(["replay", *files, "--outbox", str(tmp_path), "--lang", "ja", "--tz", "Asia/Tokyo"]) == 0
    subjects = [
        str(email.message_from_bytes(p.read_bytes(), policy=email.policy.default)["Subject"]) for p in tmp_path.glob("*.eml")
    ]
    # The restore failure, and that day's summary.
    assert sorted(s.split("]")[0] + "]" for s in subjects) == ["[バックアップ日次サマリー]", "[復元失敗]"]
