"""demo as a user runs it (--reset starts over, emails included; --story writes to its own folder), and the test email."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def demo(tmp_path: Path, *flags: str) -> str:
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
            *flags,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_reset_clears_the_emails_of_earlier_runs_and_nothing_else(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    (outbox / "an-old-email-0123456789.eml").write_text("Subject: old\n\nold")
    (outbox / "an-old-email-0123456789.html").write_text("<p>old</p>")
    (outbox / "notes.txt").write_text("mine")
    written = int(demo(tmp_path, "--reset").split("emails written")[1].split()[0])
    assert sorted(p.name for p in outbox.glob("an-old-email-*")) == []
    assert (outbox / "notes.txt").read_text() == "mine"
    assert len(list(outbox.glob("*.eml"))) == written


def test_the_story_writes_to_its_own_folder_and_never_over_the_demo(tmp_path: Path) -> None:
    demo(tmp_path)
    before = sorted(p.name for p in (tmp_path / "outbox").glob("*.eml"))
    out = demo(tmp_path, "--story")
    story = tmp_path / "outbox" / "story"
    assert f"26 emails in {story}/" in out
    assert len(list(story.glob("*.eml"))) == 26
    assert sorted(p.name for p in (tmp_path / "outbox").glob("*.eml")) == before


def test_the_test_email_says_test_first_in_its_subject_and_both_bodies() -> None:
    from backup_events.cli.main import test_message
    from backup_events.settings import TEST_EMAIL, Settings

    settings = Settings.from_environ({"BACKUP_MAILER": "outbox", "BACKUP_MAIL_RECIPIENTS": "oncall@example.com"}, TEST_EMAIL)
    message = test_message(settings)
    assert message.subject == "[backup-events TEST] nothing has failed"
    assert message.text.splitlines()[0] == "TEST — nothing has failed"
    body = message.html.split("<body", 1)[1].split(">", 1)[1]
    assert re.sub(r"<[^>]+>|\s+", " ", body).split()[:4] == ["TEST", "—", "nothing", "has"]
