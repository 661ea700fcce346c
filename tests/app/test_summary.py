"""The daily summary: the estate at a glance per recipient group, from the incidents and run rows the app keeps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from backup_events.adapters.outbox_mailer import OutboxMailer
from backup_events.adapters.sample_jobs import SampleJobSource
from backup_events.app import summary
from backup_events.app.poll import poll_jobs
from backup_events.errors import RunFailedError
from tests.app.conftest import BuildServices
from tests.app.parts import VM_CODE, ScriptedMailer, emails_in, failed_vm_job, html_of, settings, text_of
from tests.app.test_blind_spots import VaultForbidden
from tests.conftest import Clock


def subject_of(message: Any) -> str:
    return " ".join(str(message["Subject"]).split())  # a non-ASCII subject comes back as an encoded word


def summaries(outbox: Path) -> list[str]:
    return [subject_of(m) for m in emails_in(outbox) if subject_of(m).startswith("[Backup summary]")]


def summary_text(outbox: Path, to: str | None = None) -> str:
    return next(text_of(m) for m in emails_in(outbox) if subject_of(m).startswith("[Backup summary]") and to in (None, m["To"]))


def test_a_day_when_everything_succeeded_is_one_green_line(build: BuildServices, clock: Clock, outbox: Path) -> None:
    good = [
        failed_vm_job(1, "vm-app-02", clock() - timedelta(hours=3), status="Completed"),
        failed_vm_job(2, "vm-db-01", clock() - timedelta(hours=2), vault="rsv-files-weu", status="Completed"),
    ]
    poll_jobs(build(source=SampleJobSource(good)))
    report = summary.send_summary(build(source=SampleJobSource(good)))
    assert report.subjects == summaries(outbox) == ["[Backup summary] 2026-11-25: all fine · 100 % of 2 jobs succeeded"]
    (message,) = [m for m in emails_in(outbox) if subject_of(m).startswith("[Backup summary]")]
    assert "All fine: every vault read, nothing failing, missed or blind." in html_of(message)
    assert "rsv-files-weu: 1 of 1 succeeded (100 %)" in text_of(message)


def test_what_fails_is_listed_oldest_first_with_the_data_at_risk_and_the_top_codes(
    build: BuildServices, clock: Clock, outbox: Path
) -> None:
    source = SampleJobSource()
    poll_jobs(build(source=source))
    clock.advance(hours=2)
    later = failed_vm_job(9, "vm-late-01", clock() - timedelta(minutes=5))
    poll_jobs(build(source=SampleJobSource([*source._jobs, later])))  # noqa: SLF001 - the samples plus one
    summary.send_summary(build())
    text = summary_text(outbox)
    failing = text.split("Failing now (", 1)[1].split("\n\n", 1)[0]
    items = [line.split(":")[0].strip("- ").strip() for line in failing.splitlines() if line.startswith("  - ")]
    assert items[-1] == "vm-late-01" and len(items) >= 3  # the newest last
    assert "at risk" in failing or "last good recovery point unknown" in failing
    title = build().deps.catalog.by_code[VM_CODE.casefold()].title
    assert f"{VM_CODE}: {title} (2 items" in text


def test_a_blind_spot_and_its_unreadable_runs_are_in_the_summary(build: BuildServices, clock: Clock, outbox: Path) -> None:
    for _ in range(3):
        poll_jobs(build(source=VaultForbidden()))
        clock.advance(minutes=15)
    summary.send_summary(build())
    (subject,) = summaries(outbox)
    assert "1 blind spot" in subject
    text = summary_text(outbox)
    assert "Blind spots (1): not watched right now\n  - rsv-prod-weu: access denied (403)" in text
    assert "rsv-prod-weu: 0 of 0 succeeded (—); unreadable in 3 of 3 runs" in text


def test_each_recipient_group_gets_its_own_vaults(build: BuildServices, outbox: Path) -> None:
    routes = settings(BACKUP_ROUTES="vault:rsv-prod-weu=prod-team@contoso.com").routes
    poll_jobs(build(routes=routes))
    report = summary.send_summary(build(routes=routes))
    assert report.groups == report.sent == 2
    prod, rest = summary_text(outbox, "prod-team@contoso.com"), summary_text(outbox, "oncall@example.com")
    assert "rsv-prod-weu:" in prod and "rsv-files-weu" not in prod
    assert "rsv-files-weu:" in rest and "rsv-prod-weu" not in rest


def test_nothing_recorded_in_a_day_says_so_in_red(build: BuildServices, outbox: Path) -> None:
    summary.send_summary(build())
    assert summaries(outbox) == ["[Backup summary] 2026-11-25: no run recorded · no finished jobs"]
    assert "is the poll running? No email does not mean no failure." in summary_text(outbox)


def test_the_timer_sends_once_in_the_scheduled_quarter_of_the_configured_time_zone(
    build: BuildServices, clock: Clock, outbox: Path
) -> None:
    tokyo = {"zone": "Asia/Tokyo", "summary_time": "09:00"}  # 00:00 UTC
    clock.now = datetime(2026, 11, 25, 23, 45, tzinfo=UTC)
    assert summary.on_timer(build(**tokyo)) is None
    clock.advance(minutes=15)
    first = summary.on_timer(build(**tokyo), past_due=False)
    assert first is not None and first.sent == 1
    clock.advance(minutes=5)  # fired again within the quarter (a retry, a second instance): nothing more
    again = summary.on_timer(build(**tokyo))
    assert again is not None and (again.sent, again.already) == (0, 1)
    clock.advance(minutes=10)
    assert summary.on_timer(build(**tokyo)) is None
    assert summaries(outbox) == ["[Backup summary] 2026-11-26: no run recorded · no finished jobs"]
    assert summary.on_timer(build(summary_time=None)) is None


def test_a_summary_the_mail_service_refuses_fails_the_invocation(build: BuildServices, clock: Clock, outbox: Path) -> None:
    clock.now = datetime(2026, 11, 25, 9, 5, tzinfo=UTC)
    broken = ScriptedMailer(OutboxMailer(outbox, clock=clock), failing={1})
    with pytest.raises(RunFailedError, match="not sent"):
        summary.on_timer(build(mailer=broken))
    assert summaries(outbox) == []


class AskedSource(SampleJobSource):
    """The samples, remembering which statuses each listing asked for."""

    def __init__(self, jobs: list[dict[str, Any]]) -> None:
        super().__init__(jobs)
        self.asked: list[tuple[str, ...]] = []

    def jobs(self, vault_id: str, *, since: datetime, until: datetime, statuses: Any = ("Failed",)) -> Any:
        self.asked.append(tuple(statuses))
        return super().jobs(vault_id, since=since, until=until, statuses=statuses)


def test_good_jobs_are_read_for_the_summary_and_not_read_when_it_is_off(build: BuildServices, clock: Clock) -> None:
    good = [failed_vm_job(1, "vm-app-02", clock() - timedelta(hours=3), status="Completed")]
    on, off = AskedSource(good), AskedSource(good)
    assert poll_jobs(build(source=on)).runs[0].succeeded == 1
    assert poll_jobs(build(source=off, summary_time=None)).runs[0].succeeded == 0
    assert on.asked == [("Failed",), ("Completed", "CompletedWithWarnings")] and off.asked == [("Failed",)]


def test_a_group_whose_vaults_are_all_routed_elsewhere_gets_no_empty_summary(build: BuildServices, outbox: Path) -> None:
    routes = settings(
        BACKUP_ROUTES="sub:3b1f9c2e-5a7d-4e21-9c0b-7d2e4f6a8b10=a@contoso.com;sub:8e4d2a17-0c9b-4f3e-a1d6-2b5c7e9f0a34=b@contoso.com"
    ).routes
    poll_jobs(build(routes=routes))
    report = summary.send_summary(build(routes=routes))
    assert report.groups == 2 and not any("no run recorded" in s for s in summaries(outbox))
    assert {str(m["To"]) for m in emails_in(outbox) if subject_of(m).startswith("[Backup summary]")} == {
        "a@contoso.com",
        "b@contoso.com",
    }
