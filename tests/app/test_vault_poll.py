"""One vault's poll: the row it leaves for the summary, what it counts, and what it reads from the APIs (each once)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest

from backup_events.adapters.sample_jobs import SampleJobSource
from backup_events.app.poll import on_timer, poll_vault
from backup_events.domain.watch import VaultRun
from backup_events.errors import RunFailedError, SourceError
from tests.app.conftest import BuildServices
from tests.app.parts import VAULTS, failed_vm_job
from tests.conftest import Clock

WEU = VAULTS["rsv-prod-weu"]


class CountingSource(SampleJobSource):
    """The sample source, counting the calls a poll makes (each is an API request on the real service)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.details: list[str] = []
        self.item_reads = 0

    def job_details(self, job_id: str) -> Mapping[str, Any]:
        self.details.append(job_id)
        return super().job_details(job_id)

    def protected_items(self, vault_id: str) -> list[Mapping[str, Any]]:
        self.item_reads += 1
        return super().protected_items(vault_id)


class Unreadable(SampleJobSource):
    def __init__(self, message: str) -> None:
        super().__init__(jobs=[])
        self.message = message

    def jobs(
        self, vault_id: str, *, since: datetime, until: datetime, statuses: Sequence[str] = ("Failed",)
    ) -> Iterable[Mapping[str, Any]]:
        raise SourceError(self.message)


def window(clock: Clock) -> tuple[datetime, datetime]:
    return clock() - timedelta(hours=24), clock()


def test_a_read_vault_leaves_the_summary_its_name_window_and_counts_of_good_and_failed_jobs(
    build: BuildServices, clock: Clock
) -> None:
    jobs = [failed_vm_job(n, f"vm-{n}", clock() - timedelta(hours=n)) for n in (1, 2)]
    jobs += [failed_vm_job(n, f"vm-{n}", clock() - timedelta(hours=n), status="Completed") for n in (3, 4, 5)]
    report = poll_vault(build(source=SampleJobSource(jobs=jobs)), WEU, *window(clock))
    assert report.runs == [VaultRun(WEU, "rsv-prod-weu", clock(), 24, readable=True, succeeded=3, failed=2)]
    assert (report.jobs_seen, report.failures, report.opened) == (2, 2, 2)


def test_an_unreadable_vault_leaves_a_row_saying_why_in_at_most_a_thousand_characters(build: BuildServices, clock: Clock) -> None:
    why = "HTTP 503 " + "x" * 1500
    report = poll_vault(build(source=Unreadable(why)), WEU, *window(clock))
    assert report.runs == [VaultRun(WEU, "rsv-prod-weu", clock(), 24, readable=False, error=why[:1000])]
    assert report.unreadable == {WEU: why}
    assert report.problems == [f"vault {WEU} skipped this run: {why}"]


def test_a_vault_id_no_api_accepts_is_named_as_given(build: BuildServices, clock: Clock) -> None:
    report = poll_vault(build(source=SampleJobSource(jobs=[])), "not-a-vault-id", *window(clock))
    assert [(run.vault_id, run.vault_name) for run in report.runs] == [("not-a-vault-id", "not-a-vault-id")]


def test_a_job_listed_twice_in_one_run_is_read_in_full_once_and_told_once(build: BuildServices, clock: Clock) -> None:
    job = failed_vm_job(1, "vm-1", clock() - timedelta(hours=1))
    source = CountingSource(jobs=[job, job])
    report = poll_vault(build(source=source), WEU, *window(clock))
    assert (source.details, report.jobs_seen, report.opened, report.duplicates) == ([job["id"]], 2, 1, 1)


def test_jobs_recorded_by_an_earlier_run_are_not_read_again(build: BuildServices, clock: Clock) -> None:
    jobs = [failed_vm_job(n, f"vm-{n}", clock() - timedelta(hours=n)) for n in (1, 2)]
    poll_vault(build(source=SampleJobSource(jobs=jobs)), WEU, *window(clock))
    source = CountingSource(jobs=jobs)
    again = poll_vault(build(source=source), WEU, *window(clock))
    assert (source.details, again.jobs_seen, again.opened, again.repeats, again.duplicates) == ([], 2, 0, 0, 2)


def test_new_failures_of_items_already_failing_count_as_repeats_each(build: BuildServices, clock: Clock) -> None:
    first = [failed_vm_job(n, f"vm-{n}", clock() - timedelta(hours=3)) for n in (1, 2)]
    poll_vault(build(source=SampleJobSource(jobs=first)), WEU, *window(clock))
    second = [failed_vm_job(n + 10, f"vm-{n}", clock() - timedelta(hours=1)) for n in (1, 2)]
    again = poll_vault(build(source=SampleJobSource(jobs=first + second)), WEU, *window(clock))
    assert (again.opened, again.repeats, again.duplicates) == (0, 2, 2)


def test_a_quiet_vault_reads_its_protected_items_only_to_look_for_missed_backups(build: BuildServices, clock: Clock) -> None:
    quiet = [failed_vm_job(1, "vm-1", clock() - timedelta(hours=1), status="Completed")]
    off = CountingSource(jobs=quiet)
    poll_vault(build(source=off), WEU, *window(clock))
    on = CountingSource(jobs=quiet)
    poll_vault(build(source=on, missed_grace=timedelta(hours=6)), WEU, *window(clock))
    assert (off.item_reads, on.item_reads) == (0, 1)


def test_a_timer_run_with_vaults_skipped_fails_naming_each_of_them(build: BuildServices) -> None:
    class TwoDown(SampleJobSource):
        def jobs(self, vault_id: str, **window: Any) -> Iterable[Mapping[str, Any]]:
            if vault_id in (VAULTS["rsv-prod-weu"], VAULTS["rsv-files-weu"]):
                raise SourceError("HTTP 503")
            return super().jobs(vault_id, **window)

    with pytest.raises(RunFailedError) as failed:
        on_timer(build(source=TwoDown()), past_due=False)
    assert str(failed.value) == "; ".join(
        f"vault {VAULTS[name]} skipped this run: HTTP 503" for name in ("rsv-prod-weu", "rsv-files-weu")
    )
