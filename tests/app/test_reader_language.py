"""Each group reads its emails in its own language and time zone: ``BACKUP_ROUTES`` rules may carry ``lang=`` and
``tz=``, the rest reads ``BACKUP_MAIL_LANGUAGE`` and ``BACKUP_TIMEZONE``; a storm is one digest per group and language."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from backup_events.adapters.sample_jobs import SampleJobSource
from backup_events.app import summary
from backup_events.app.poll import poll_jobs
from backup_events.domain.incidents import Policy
from tests.app.conftest import ON_CALL, BuildServices
from tests.app.parts import emails_in, failed_vm_job, settings, text_of
from tests.conftest import Clock

TOKYO_DBA = "dba@contoso.jp"
ROUTES = f"vault:rsv-prod-weu={TOKYO_DBA} lang=ja tz=Asia/Tokyo"


def by_recipient(outbox: Path) -> dict[str, list[tuple[str, str]]]:
    found: dict[str, list[tuple[str, str]]] = {}
    for message in emails_in(outbox):
        found.setdefault(str(message["To"]), []).append((str(message["Subject"]), text_of(message)))
    return found


def test_the_tokyo_group_reads_japanese_in_jst_while_the_default_group_reads_english_in_utc(
    build: BuildServices, outbox: Path
) -> None:
    poll_jobs(build(routes=settings(BACKUP_ROUTES=ROUTES).routes))
    mail = by_recipient(outbox)
    tokyo, others = mail[TOKYO_DBA], mail[ON_CALL]
    assert tokyo and others
    assert all(subject.startswith(("[バックアップ失敗]", "[復元失敗]")) for subject, _ in tokyo)
    assert all(" JST" in text and " UTC" not in text for _, text in tokyo)
    assert all(subject.isascii() and "failed]" in subject for subject, _ in others)
    assert all(" JST" not in text for _, text in others)


def test_the_settings_language_and_zone_are_everyones_without_a_route(build: BuildServices, outbox: Path) -> None:
    chosen = settings(BACKUP_MAIL_LANGUAGE="ja", BACKUP_TIMEZONE="Asia/Tokyo")
    poll_jobs(build(language=chosen.mail_language, zone=chosen.timezone))
    subjects = [str(m["Subject"]) for m in emails_in(outbox)]
    assert subjects and all("失敗]" in s for s in subjects)


def test_a_storm_is_one_digest_per_group_in_its_own_language(build: BuildServices, outbox: Path, clock: Clock) -> None:
    at = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    jobs = [failed_vm_job(n, f"vm-web-{n:02d}", at, vault="rsv-prod-weu") for n in range(4)]
    jobs += [failed_vm_job(10 + n, f"vm-eu-{n:02d}", at, vault="rsv-files-weu") for n in range(4)]
    clock.now = at
    routes = settings(BACKUP_ROUTES=ROUTES).routes
    poll_jobs(build(source=SampleJobSource(jobs), policy=Policy(digest_threshold=3), routes=routes))
    mail = by_recipient(outbox)
    assert [s for s, _ in mail[TOKYO_DBA]] == ["[バックアップ失敗] 新しい失敗 4 件 (コンテナー 1 個) (まとめ)"]
    assert [s for s, _ in mail[ON_CALL]] == ["[Backup failed] 4 new failures in 1 vault (digest)"]
    assert "2026年11月25日 18:00 JST" in mail[TOKYO_DBA][0][1] and "2026-11-25 09:00 UTC" in mail[ON_CALL][0][1]


def test_the_tokyo_groups_daily_summary_is_in_japanese_in_jst_and_the_default_groups_in_english(
    build: BuildServices, outbox: Path, clock: Clock
) -> None:
    routes = settings(BACKUP_ROUTES=ROUTES).routes
    poll_jobs(build(routes=routes))
    for message in outbox.glob("*.eml"):
        message.unlink()
    clock.now = clock.now + timedelta(hours=1)
    summary.send_summary(build(routes=routes))
    mail = by_recipient(outbox)
    ((tokyo, tokyo_text),), ((others, others_text),) = mail[TOKYO_DBA], mail[ON_CALL]
    assert tokyo.startswith("[バックアップ日次サマリー] ") and "失敗中 " in tokyo
    assert "現在失敗中" in tokyo_text and " JST" in tokyo_text and " UTC" not in tokyo_text
    assert others.startswith("[Backup summary] ") and "Failing now" in others_text and " JST" not in others_text
    # The top codes' titles are the catalog's, in the group's language.
    entry = build().deps.catalog.entry("UserErrorGuestAgentStatusUnavailable")
    assert entry is not None and f"{entry.text('ja').title} (1 件、1 回失敗)" in tokyo_text
    assert "多いエラー コード" in tokyo_text and "Top error codes" in others_text
