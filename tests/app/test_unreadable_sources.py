"""A part of a vault that can't be read this run (items, a policy, a resource's tags) never stops its emails.

Each source below is the samples with one call failing as ARM does past the retry budget (``SourceError``).
``on_timer`` raises when the run failed (a vault skipped, a problem left over); these runs must not.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from backup_events.adapters.sample_jobs import SampleJobSource
from backup_events.app.alert_path import handle_alert_event
from backup_events.app.poll import on_timer
from backup_events.errors import SourceError
from tests.app.conftest import BuildServices
from tests.app.parts import FAILED, VM_JOB, VM_SUBJECT, delivery, emails_in, job_alert, sent_to, settings, text_of

MISSED_CHECKS_ON = timedelta(hours=6)


class ProtectedItemsUnreadable(SampleJobSource):
    def protected_items(self, vault_id: str) -> list[Mapping[str, Any]]:
        raise SourceError(f"{vault_id}/backupProtectedItems: HTTP 503 ServiceUnavailable after 4 attempts")


class PoliciesUnreadable(SampleJobSource):
    def policy(self, vault_id: str, name: str) -> Mapping[str, Any]:
        raise SourceError(f"{vault_id}/backupPolicies/{name}: HTTP 500 InternalServerError after 4 attempts")


class TagsUnreadable(SampleJobSource):
    def resource_tags(self, resource_id: str) -> Mapping[str, str]:
        raise SourceError(f"{resource_id}: HTTP 403 AuthorizationFailed")


def test_a_vault_whose_protected_items_cannot_be_read_is_still_told(build: BuildServices, outbox: Path) -> None:
    report = on_timer(build(source=ProtectedItemsUnreadable(), missed_grace=MISSED_CHECKS_ON), past_due=False)
    assert (report.vaults_skipped, report.problems, report.emails_sent) == (0, [], FAILED)
    vm = next(m for m in emails_in(outbox) if m["Subject"] == VM_SUBJECT)
    assert "Last good  : unknown (the vault's protected items could not be read when the failure was recorded)" in text_of(vm)


def test_an_alert_is_still_told_when_its_vaults_protected_items_cannot_be_read(build: BuildServices, outbox: Path) -> None:
    assert handle_alert_event(build(source=ProtectedItemsUnreadable()), delivery(job_alert(VM_JOB))) == "told"
    assert [m["Subject"] for m in emails_in(outbox)] == [VM_SUBJECT]


def test_a_vault_whose_backup_policy_cannot_be_read_is_still_told(build: BuildServices, outbox: Path) -> None:
    report = on_timer(build(source=PoliciesUnreadable(), missed_grace=MISSED_CHECKS_ON), past_due=False)
    assert (report.vaults_skipped, report.problems, report.emails_sent) == (0, [], FAILED)
    assert report.missed == 0  # without its policy, nobody can say an item is behind schedule
    assert VM_SUBJECT in sent_to(outbox)


def test_an_item_whose_resource_tags_cannot_be_read_is_told_to_its_vaults_recipients(build: BuildServices, outbox: Path) -> None:
    config = settings(
        BACKUP_ROUTE_TAG="backup-alerts-to",
        BACKUP_ROUTE_TAG_DOMAINS="contoso.com",
        BACKUP_ROUTES="vault:rsv-prod-weu=prod-team@contoso.com",
    )
    svc = build(
        source=TagsUnreadable(),
        route_tag=config.route_tag,
        route_tag_domains=config.route_tag_domains,
        routes=config.routes,
        missed_grace=MISSED_CHECKS_ON,
    )
    report = on_timer(svc, past_due=False)
    assert (report.vaults_skipped, report.problems, report.emails_sent, report.missed) == (0, [], FAILED + 1, 1)
    to = sent_to(outbox)
    assert to[VM_SUBJECT] == "prod-team@contoso.com"
    missed = [subject for subject in to if subject.startswith("[Backup missed] vm-legacy-09:")]
    assert len(missed) == 1 and to[missed[0]] == "prod-team@contoso.com"
