"""What a backup failure email always tells: the data at risk, i.e. the item's last good recovery point."""

from __future__ import annotations

from pathlib import Path

from backup_events.app.alert_path import handle_alert_event
from backup_events.app.poll import poll_jobs
from tests.app.conftest import BuildServices
from tests.app.parts import VM_JOB, VM_SUBJECT, delivery, emails_in, html_of, job_alert, text_of

VM_LAST_GOOD = "2026-11-23 16:12 UTC, 28 h 13 min before this failure"  # vm-app-02's last recovery point


def test_every_backup_failure_email_says_when_the_last_good_recovery_point_was(build: BuildServices, outbox: Path) -> None:
    poll_jobs(build())
    backup_failures = [m for m in emails_in(outbox) if str(m["Subject"]).startswith("[Backup failed]")]
    assert len(backup_failures) == 10  # every failed backup in the samples (one of a Backup vault's disk)
    for message in backup_failures:
        text, html = text_of(message), html_of(message)
        assert "Last good  : " in text or "Newer point: " in text, message["Subject"]
        assert "Last good recovery point" in html or "a newer recovery point exists" in html, message["Subject"]
    vm = next(m for m in backup_failures if m["Subject"] == VM_SUBJECT)
    assert f"Last good  : {VM_LAST_GOOD}" in text_of(vm)
    assert VM_LAST_GOOD in html_of(vm)


def test_a_backup_failure_told_from_an_alert_says_when_the_last_good_recovery_point_was(
    build: BuildServices, outbox: Path
) -> None:
    assert handle_alert_event(build(), delivery(job_alert(VM_JOB))) == "told"
    (message,) = emails_in(outbox)
    assert f"Last good  : {VM_LAST_GOOD}" in text_of(message)
    assert VM_LAST_GOOD in html_of(message)


def test_a_recovery_point_later_than_the_failure_is_never_called_the_last_good_one(build: BuildServices, outbox: Path) -> None:
    # salesdb's Full failed at 09:00; its protected item shows a (log) point 12 minutes later.
    poll_jobs(build())
    (sql,) = [m for m in emails_in(outbox) if "vm-sql-01 / salesdb" in str(m["Subject"])]
    text = text_of(sql)
    assert "Last good  :" not in text
    assert "Newer point: a newer recovery point exists: " in text
    assert "after this failure (for a database often a log backup); nothing is lost so far" in text
    assert "Last good recovery point" not in html_of(sql)


def test_the_last_good_point_is_unknown_only_with_the_reason(build: BuildServices, outbox: Path) -> None:
    poll_jobs(build())
    texts = [text_of(m) for m in emails_in(outbox)]
    assert not any("could not be read" in t for t in texts)  # every read succeeded
    assert all("unknown (" not in t or "unknown (the item is not among" in t or "no recovery point yet" in t for t in texts)


def test_a_backup_vault_disk_failure_names_the_disk_the_fix_and_its_last_recovery_point(
    build: BuildServices, outbox: Path
) -> None:
    poll_jobs(build())
    (disk,) = [m for m in emails_in(outbox) if "disk-sql-data-01" in str(m["Subject"])]
    text = text_of(disk)
    assert disk["Subject"] == "[Backup failed] disk-sql-data-01: UserErrorNotEnoughPermissionOnSnapshotRG"
    assert "Azure Disk" in text and "Trigger Backup (from the job's tasks)" in text
    assert "Disk Snapshot Contributor" in text
    assert "Last good  : 2026-11-23 22:01 UTC" in text
