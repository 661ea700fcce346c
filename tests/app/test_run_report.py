"""What a run reports: the summary table the CLI prints, and whom an incident's emails go to."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from backup_events.adapters.sample_jobs import SampleJobSource
from backup_events.app.poll import poll_jobs
from backup_events.app.services import RunReport
from backup_events.errors import SourceError
from tests.app.conftest import ON_CALL, BuildServices
from tests.app.parts import VAULTS
from tests.builders import make_incident


def test_the_run_summary_names_each_count_in_reading_order() -> None:
    report = RunReport(
        vaults=9,
        vaults_skipped=2,
        jobs_seen=3,
        failures=4,
        opened=5,
        repeats=6,
        duplicates=7,
        recovered=8,
        missed=10,
        emails_sent=11,
        reminders_sent=12,
        recovery_emails=13,
        digests=14,
        deferred=15,
    )
    assert report.rows() == [
        ("vaults read", 7),
        ("vaults skipped", 2),
        ("jobs seen", 3),
        ("failures", 4),
        ("new incidents", 5),
        ("repeats (counted)", 6),
        ("duplicates skipped", 7),
        ("recovered", 8),
        ("missed backups", 10),
        ("emails written", 11),
        ("  of which reminders", 12),
        ("  of which recovered", 13),
        ("  of which digests", 14),
        ("left for next run", 15),
    ]


def test_an_incident_routed_by_its_resources_tag_goes_to_every_tagged_address(build: BuildServices) -> None:
    incident = make_incident(
        VAULTS["rsv-prod-weu"], "vm-app-02", datetime(2026, 11, 25, tzinfo=UTC), route_to="app@contoso.com,dba@contoso.com"
    )
    assert build().config.recipients_of(incident) == (ON_CALL, "app@contoso.com", "dba@contoso.com")
    assert build(route_tag_replaces=True).config.recipients_of(incident) == ("app@contoso.com", "dba@contoso.com")


class OneVaultDown(SampleJobSource):
    """The samples, with one vault's jobs unreadable past the retry budget."""

    def jobs(self, vault_id: str, **window: Any) -> Iterable[Mapping[str, Any]]:
        if vault_id == VAULTS["rsv-prod-weu"]:
            raise SourceError("HTTP 503 after 4 attempts")
        return super().jobs(vault_id, **window)


def test_a_poll_counts_the_vaults_it_read_and_names_the_one_it_skipped(build: BuildServices) -> None:
    assert (poll_jobs(build()).vaults, poll_jobs(build()).vaults_skipped) == (len(VAULTS), 0)
    report = poll_jobs(build(source=OneVaultDown()))
    assert (report.vaults, report.vaults_skipped) == (len(VAULTS), 1)
    assert report.problems == [f"vault {VAULTS['rsv-prod-weu']} skipped this run: HTTP 503 after 4 attempts"]


def test_the_app_watches_the_vaults_and_subscriptions_it_is_told_else_those_its_jobs_source_reads(build: BuildServices) -> None:
    sample, other = (
        VAULTS["rsv-prod-weu"],
        "/subscriptions/99999999-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.RecoveryServices/vaults/rsv-x",
    )
    assert (build().watches(sample.upper() + "/"), build().watches(other), build().watches("not a vault id")) == (
        True,
        False,
        False,
    )
    named = build(vault_ids=(other,), subscription_ids=())
    assert (named.watches(other), named.watches(sample)) == (True, False)
    by_subscription = build(vault_ids=(), subscription_ids=("99999999-0000-0000-0000-000000000000",))
    assert (by_subscription.watches(other), by_subscription.watches(sample)) == (True, False)
    assert build(vault_ids=(), subscription_ids=()).watches(sample)  # none named: the vaults the jobs source reads
