"""replay and the files source: what an operator exports, played through the real pipeline (Azurite ledger, outbox)."""

from __future__ import annotations

import email
import email.policy
import json
from pathlib import Path

import pytest

from backup_events import bootstrap
from backup_events.__main__ import main
from backup_events.app import poll
from backup_events.cli.replay import replay
from backup_events.settings import Settings
from tests.recorded import RECORDED

# One VM's recorded history in one vault (clitest-vm000003 in clitest-vault000002), every body as recorded:
VM_HISTORY = [
    "jobs/azcli--test_backup_rp--039d119-i109.json",  # 2021-06-14 Backup Failed, UserErrorVmNotFoundV2, snapshot InProgress
    "jobs/azcli--test_backup_rp--039d119-i113.json",  # 2021-06-14 Backup Failed again, same code
    "jobs/azcli--test_backup_scenario--552214c-i377.json",  # 2021-07-19 Restore Failed, UserErrorBCMRestoreStorageAccountNotFound
    "jobs/azcli--test_backup_job--899e638-i212.json",  # 2021-07-26 list page: Backup Completed, ConfigureBackup, a Restore
    "jobs/azcli--test_backup_rp--899e638-i243.json",  # 2021-07-26 Backup Completed (details)
    "jobs/azcli--test_backup_scenario--ef8a5e8-i228.json",  # 2024-02-23 Restore Failed, RestoreOperationFailed
]


def subjects(outbox: Path, *, summaries: bool = False) -> list[str]:
    """The subjects of the emails a replay wrote: the incidents', or (``summaries``) the daily summaries'."""
    messages = [email.message_from_bytes(p.read_bytes(), policy=email.policy.default) for p in sorted(outbox.glob("*.eml"))]
    found = sorted(" ".join(str(m["Subject"]).split()) for m in messages)
    return [s for s in found if s.startswith("[Backup summary]") is summaries]


def test_replay_of_a_vms_recorded_history_tells_the_backup_incident_once_and_each_restore_once(
    azurite: str, tmp_path: Path
) -> None:
    result = replay([RECORDED / name for name in VM_HISTORY], tmp_path)
    assert (result.jobs, result.failed, result.report.opened, result.report.repeats) == (8, 4, 3, 1)
    assert subjects(tmp_path) == [
        "[Backup failed] clitest-vm000003: UserErrorVmNotFoundV2",
        # the replayed files hold no protected item of this VM: its last good recovery point is unknown, and said so
        "[Backup recovered] clitest-vm000003: UserErrorVmNotFoundV2 (last good backup unknown, 2 failures)",
        "[Backup still failing] clitest-vm000003: UserErrorVmNotFoundV2 (last good backup unknown, 2 failures)",
        "[Backup still failing] clitest-vm000003: UserErrorVmNotFoundV2 (last good backup unknown, 2 failures)",
        "[Restore failed] clitest-vm000003: RestoreOperationFailed",
        "[Restore failed] clitest-vm000003: UserErrorBCMRestoreStorageAccountNotFound",
    ]


def test_a_failed_restore_email_names_its_task_and_has_no_last_good_line(azurite: str, tmp_path: Path) -> None:
    replay([RECORDED / "jobs/azcli--test_backup_scenario--552214c-i377.json"], tmp_path, BACKUP_SUMMARY_SCHEDULE="off")
    (eml,) = tmp_path.glob("*.eml")
    message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    text = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert text.startswith("Restore failed: clitest-vm000003 (Azure VM)")
    assert "Phase      : Transfer data from vault (from the job's tasks)" in text
    assert "Last good" not in text


def test_replay_reads_az_cli_output_with_python_durations(azurite: str, tmp_path: Path) -> None:
    listing = RECORDED / "learn/learn--manage-afs-backup-cli--job-list.json"
    result = replay([listing], tmp_path)
    assert result.jobs == len(json.loads(listing.read_text(encoding="utf-8"))) and result.report.problems == []


def test_replay_command_prints_the_summary(azurite: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = [str(RECORDED / name) for name in VM_HISTORY]
    assert main(["replay", *files, "--outbox", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("backup-events replay: 6 files, 2021-06-14 10:00 to 2024-02-23 11:30 UTC, every 15 min")
    assert "  emails written              6" in out


def test_files_source_lets_a_normal_poll_tell_an_exported_estate(azurite: str, table_name: str, tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    settings = Settings.from_environ(
        {
            "BACKUP_JOBS_SOURCE": "files",
            "BACKUP_JOBS_FILES": ",".join(str(RECORDED / name) for name in VM_HISTORY),
            "BACKUP_TABLE_CONNECTION_STRING": azurite,
            "BACKUP_TABLE_NAME": table_name,
            "BACKUP_MAILER": "outbox",
            "BACKUP_OUTBOX_DIR": str(outbox),
            "BACKUP_MAIL_RECIPIENTS": "oncall@example.com",
            "BACKUP_DIGEST_THRESHOLD": "10",
        }
    )
    first = poll.poll_jobs(bootstrap.build(settings))
    assert (first.failures, first.opened, first.repeats) == (4, 3, 1)
    assert poll.poll_jobs(bootstrap.build(settings)).emails_sent == 0


def test_files_source_names_a_missing_file_in_the_settings_error(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="BACKUP_JOBS_FILES: no such file"):
        Settings.from_environ(
            {
                "BACKUP_JOBS_SOURCE": "files",
                "BACKUP_JOBS_FILES": str(tmp_path / "nope.json"),
                "BACKUP_MAIL_RECIPIENTS": "a@b.example",
            }
        )


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16"])
def test_exports_saved_by_windows_tools_are_read(encoding: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = RECORDED / "jobs/azcli--test_backup_scenario--552214c-i377.json"
    path = tmp_path / "job.json"
    path.write_text(source.read_text(encoding="utf-8"), encoding=encoding)
    assert main(["explain", str(path)]) == 0
    assert capsys.readouterr().out.startswith(
        "Subject: [Restore failed] clitest-vm000003: UserErrorBCMRestoreStorageAccountNotFound"
    )


def test_explain_on_a_list_explains_each_job(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", str(RECORDED / "jobs/azcli--test_backup_job--899e638-i212.json")]) == 0
    out = capsys.readouterr().out
    assert out.count("=== ") == 3 and out.count("No email: ") == 3


def test_each_failed_restore_is_its_own_email_even_with_the_same_item_and_code(azurite: str, tmp_path: Path) -> None:
    crr = [
        RECORDED / name
        for name in (
            "jobs/azcli--test_backup_wl_sql_crr--35422a1-i047.json",
            "jobs/azcli--test_backup_wl_sql_crr--9cf273b-i332.json",
        )
    ]
    result = replay(crr, tmp_path)
    assert (result.report.opened, result.report.repeats, result.report.reminders_sent) == (2, 0, 0)
    assert subjects(tmp_path) == ["[Restore failed] sql-clitest-vm / msdb: WorkloadRestoreFailed"] * 2


def test_a_good_backup_closes_the_backup_incident_but_not_a_failed_restore(azurite: str, tmp_path: Path) -> None:
    files = [RECORDED / name for name in VM_HISTORY[:5]]  # up to the good backup of 2021-07-26
    result = replay(files, tmp_path)
    assert result.report.recovered == 1
    told = subjects(tmp_path)
    assert [s for s in told if s.startswith("[Restore")] == [
        "[Restore failed] clitest-vm000003: UserErrorBCMRestoreStorageAccountNotFound"
    ]


def test_tell_operations_can_leave_restores_to_the_built_in_alerts(azurite: str, tmp_path: Path) -> None:
    result = replay([RECORDED / name for name in VM_HISTORY], tmp_path, BACKUP_TELL_OPERATIONS="backup")
    assert not [s for s in subjects(tmp_path) if s.startswith("[Restore")]
    assert result.report.opened == 1


def test_replaying_three_days_writes_one_summary_a_day_with_that_days_counts(azurite: str, tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from tests.app.parts import failed_vm_job

    day1 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    jobs = [
        failed_vm_job(1, "vm-app-02", day1),
        failed_vm_job(2, "vm-app-02", day1 + timedelta(days=1, hours=2)),  # off the 24 h grid: each day's window holds one
        failed_vm_job(3, "vm-app-02", day1 + timedelta(days=2, hours=4), status="Completed"),
    ]
    export = tmp_path / "jobs.json"
    export.write_text(json.dumps(jobs), encoding="utf-8")
    result = replay([export], tmp_path / "outbox")
    assert (
        subjects(tmp_path / "outbox", summaries=True)
        == result.summaries
        == [
            "[Backup summary] 2026-11-24: 1 failing · 0 % of 1 job succeeded",
            "[Backup summary] 2026-11-25: 1 failing · 0 % of 1 job succeeded",
            "[Backup summary] 2026-11-26: all fine now (1 recovered) · 100 % of 1 job succeeded",
        ]
    )
    last = sorted((tmp_path / "outbox").glob("backup-summary-2026-11-26*.eml"))[0]
    text = email.message_from_bytes(last.read_bytes(), policy=email.policy.default).get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "ALL FINE" in text and "Failed and recovered (1)" in text and "vm-app-02" in text


def test_a_replay_in_a_time_zone_writes_its_summaries_at_that_zones_time(azurite: str, tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from tests.app.parts import failed_vm_job

    export = tmp_path / "jobs.json"
    export.write_text(json.dumps([failed_vm_job(1, "vm-app-02", datetime(2026, 11, 23, 10, 0, tzinfo=UTC))]), encoding="utf-8")
    result = replay([export], tmp_path / "outbox", BACKUP_TIMEZONE="Asia/Tokyo", BACKUP_SUMMARY_SCHEDULE="08:30")
    assert result.summaries == ["[Backup summary] 2026-11-24: 1 failing · 0 % of 1 job succeeded"]  # 23:30 UTC on the 23rd
    (summary,) = (tmp_path / "outbox").glob("backup-summary-*.eml")
    text = email.message_from_bytes(summary.read_bytes(), policy=email.policy.default).get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "2026-11-23 08:30 JST to 2026-11-24 08:30 JST" in text
