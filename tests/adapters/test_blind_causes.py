"""The cause a blind spot's email names, from the errors the real jobs API adapter raises (loopback ARM, real SDKs).

Each read fails as Azure makes it fail: a token the service refuses (401), a missing role (403), a deleted vault (404),
throttling past the budget (429), and the managed identity unable to sign in at all (no identity endpoint).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from backup_events.adapters.arm_jobs import ArmJobSource, RecoveryServicesJobSource
from backup_events.adapters.dataprotection_jobs import BackupVaultJobSource
from backup_events.domain.watch import Cause, cause_of
from backup_events.errors import SourceError
from tests.loopback.arm import ArmStandIn
from tests.loopback.fixtures import FakeTokenCredential, serving

SUB = "00000000-0000-0000-0000-000000000001"
VAULT = f"/subscriptions/{SUB}/resourceGroups/rg-backup/providers/Microsoft.RecoveryServices/vaults/rsv-prod"
BACKUP_VAULT = f"/subscriptions/{SUB}/resourceGroups/rg-backup/providers/Microsoft.DataProtection/backupVaults/bv-prod"
UNTIL = datetime(2026, 11, 21, tzinfo=UTC)


@pytest.fixture
def arm() -> Iterator[ArmStandIn]:
    stand_in = ArmStandIn()
    stand_in.add_vault(VAULT)
    stand_in.add_backup_vault(BACKUP_VAULT)
    yield from serving(stand_in)


def read_error(
    arm: ArmStandIn, credential: object, vault: str = VAULT, kind: type[ArmJobSource[Any]] = RecoveryServicesJobSource
) -> str:
    source = kind(
        credential=credential,  # type: ignore[arg-type]
        vault_ids=[vault],
        arm_endpoint=arm.url,
        connection_verify=arm.ca_path,
        max_retries=0,
        retry_budget_seconds=1.0,
    )
    with source, pytest.raises(SourceError) as raised:
        list(source.jobs(vault, since=UNTIL - timedelta(days=1), until=UNTIL))
    return str(raised.value)


def test_a_refused_token_reads_as_sign_in_failed(arm: ArmStandIn) -> None:
    assert cause_of(read_error(arm, FakeTokenCredential("not-the-token"))) is Cause.SIGN_IN


def test_a_missing_role_reads_as_access_denied(arm: ArmStandIn) -> None:
    arm.fail("rsv-prod", status=403)
    assert cause_of(read_error(arm, FakeTokenCredential(arm.token))) is Cause.FORBIDDEN


def test_a_deleted_vault_reads_as_not_found(arm: ArmStandIn) -> None:
    gone = VAULT.replace("rsv-prod", "rsv-deleted")
    assert cause_of(read_error(arm, FakeTokenCredential(arm.token), gone)) is Cause.GONE


def test_throttling_past_the_budget_reads_as_throttled(arm: ArmStandIn) -> None:
    arm.throttle("rsv-prod", times=5, retry_after=0)
    assert cause_of(read_error(arm, FakeTokenCredential(arm.token))) is Cause.THROTTLED


@pytest.mark.parametrize(("vault", "kind"), [(VAULT, RecoveryServicesJobSource), (BACKUP_VAULT, BackupVaultJobSource)])
def test_a_managed_identity_that_cannot_sign_in_reads_as_sign_in_failed(
    arm: ArmStandIn, monkeypatch: pytest.MonkeyPatch, vault: str, kind: type[ArmJobSource[Any]]
) -> None:
    from azure.identity import ManagedIdentityCredential

    monkeypatch.setenv("IDENTITY_ENDPOINT", "http://127.0.0.1:9/")
    monkeypatch.setenv("IDENTITY_HEADER", "x")
    credential = ManagedIdentityCredential(retry_total=0)
    error = read_error(arm, credential, vault, kind)
    assert cause_of(error) is Cause.SIGN_IN, error


def test_a_server_error_reads_as_unreachable(arm: ArmStandIn) -> None:
    arm.fail("rsv-prod", status=503)
    assert cause_of(read_error(arm, FakeTokenCredential(arm.token))) is Cause.UNAVAILABLE
