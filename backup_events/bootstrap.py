"""The composition root: settings in, services out. The only module that names concrete adapters.

SDKs are imported here, inside functions, so importing ``function_app`` stays cheap on a cold start and a
configuration problem surfaces as a clear error on the first invocation, not as "0 functions indexed".
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from backup_events import logs
from backup_events.app.services import Services
from backup_events.domain import remediation
from backup_events.domain.ids import is_backup_vault, watched
from backup_events.domain.incidents import Policy
from backup_events.ports import IncidentStore, JobSource, Mailer, Publisher, TokenValidator
from backup_events.settings import FUNCTIONS, RELAY, Settings

_ARM_RETRY_BUDGET_SECONDS = 120.0


def utc_now() -> datetime:
    """The real clock; tests and the demo pass their own."""
    return datetime.now(UTC)


STORAGE_SCOPE = "https://storage.azure.com/.default"
ACS_SCOPE = "https://communication.azure.com/.default"
EVENTGRID_SCOPE = "https://eventgrid.azure.net/.default"


def credential(settings: Settings) -> Any:
    """Managed identity in Azure (``AZURE_CLIENT_ID`` picks a user-assigned one); your own login locally."""
    from backup_events.adapters import azure_sign_in  # noqa: PLC0415

    return azure_sign_in.credential(settings.client_id)


def token_scopes(settings: Settings, parts: Collection[str]) -> list[str]:
    """What the ``parts`` of a run will ask Entra for with ``settings``: empty when nothing needs a sign-in."""
    wanted = [
        (settings.arm_scope, "source" in parts and settings.jobs_source == "arm"),
        (STORAGE_SCOPE, "ledger" in parts and bool(settings.table_endpoint)),
        (ACS_SCOPE, "mailer" in parts and settings.mailer == "acs" and bool(settings.acs_endpoint)),
        (EVENTGRID_SCOPE, "relay" in parts and bool(settings.eventgrid_topic_endpoint)),
    ]
    return [scope for scope, needed in wanted if needed]


def sign_in(settings: Settings, parts: Collection[str]) -> tuple[Any, str] | None:
    """The run's one credential, proved before any work, and which one it is; None when nothing needs one.

    Raises ``SignInError`` (one line: what was tried, how to sign in) when no credential works.
    """
    from backup_events.adapters import azure_sign_in  # noqa: PLC0415

    scopes = token_scopes(settings, parts)
    if not scopes:
        return None
    return azure_sign_in.sign_in(settings.client_id, scopes[0], os.environ)


def jobs_source(settings: Settings, credential_factory: Callable[[], Any]) -> JobSource:
    """The configured jobs source."""
    if settings.jobs_source == "sample":
        from backup_events.adapters.sample_jobs import SampleJobSource  # noqa: PLC0415

        return SampleJobSource()
    if settings.jobs_source == "files":
        from backup_events.adapters.file_jobs import FileJobSource  # noqa: PLC0415

        return FileJobSource(settings.jobs_files)
    from backup_events.adapters.arm_jobs import RecoveryServicesJobSource  # noqa: PLC0415
    from backup_events.adapters.dataprotection_jobs import BackupVaultJobSource  # noqa: PLC0415
    from backup_events.adapters.vault_kinds import VaultKindJobSource  # noqa: PLC0415

    # BACKUP_VAULT_IDS holds both kinds of vault; BACKUP_SUBSCRIPTION_IDS discovers both.
    common = {
        "credential": credential_factory(),
        "subscription_ids": list(settings.subscription_ids),
        "arm_endpoint": settings.arm_endpoint,
        "credential_scope": settings.arm_scope,
        "retry_budget_seconds": _ARM_RETRY_BUDGET_SECONDS,
    }
    return VaultKindJobSource(
        recovery_services=RecoveryServicesJobSource(
            vault_ids=[v for v in settings.vault_ids if not is_backup_vault(v)], **common
        ),
        backup_vaults=BackupVaultJobSource(vault_ids=[v for v in settings.vault_ids if is_backup_vault(v)], **common),
    )


def table_client(settings: Settings, credential_factory: Callable[[], Any], **options: Any) -> Any:
    """The ledger table: by managed identity in Azure, by connection string against Azurite (``options``: the SDK's)."""
    from azure.data.tables import TableClient  # noqa: PLC0415

    if settings.table_endpoint:
        return TableClient(
            endpoint=settings.table_endpoint, table_name=settings.table_name, credential=credential_factory(), **options
        )
    return TableClient.from_connection_string(settings.table_connection_string, table_name=settings.table_name, **options)


def policy(settings: Settings) -> Policy:
    """How incidents are told."""
    return Policy(
        reminder_hours=settings.reminder_hours,
        recovery_workloads=settings.recovery_workloads,
        digest_threshold=settings.digest_threshold,
        emails_per_run=settings.emails_per_run,
        emails_per_hour=settings.emails_per_hour,
    )


def incident_store(settings: Settings, credential_factory: Callable[[], Any], clock: Callable[[], datetime]) -> IncidentStore:
    """Incidents and their jobs in Table Storage."""
    from backup_events.adapters.table_store import TableIncidentStore  # noqa: PLC0415

    return TableIncidentStore(table_client(settings, credential_factory), clock=clock)


def mailer(settings: Settings, credential_factory: Callable[[], Any], clock: Callable[[], datetime]) -> Mailer:
    """The configured mailer."""
    if settings.mailer == "outbox":
        from backup_events.adapters.outbox_mailer import OutboxMailer  # noqa: PLC0415

        return OutboxMailer(settings.outbox_dir, clock=clock)
    from backup_events.adapters.acs_mailer import AcsMailer  # noqa: PLC0415

    if settings.acs_endpoint:
        return AcsMailer(endpoint=settings.acs_endpoint, credential=credential_factory(), connection_string=None)
    return AcsMailer(endpoint=None, credential=None, connection_string=settings.acs_connection_string)


def build(
    settings: Settings,
    *,
    clock: Callable[[], datetime] = utc_now,
    source: JobSource | None = None,
    mailer_override: Mailer | None = None,
    store_override: IncidentStore | None = None,
    signed_in: Any = None,
) -> Services:
    """Every service for ``settings``; the overrides replace the configured parts (demo, replay, tests).

    ``signed_in`` is a credential already proved (``sign_in``); otherwise one is made on first need, once.
    """
    logs.install()
    logging.getLogger("azure").setLevel(logging.WARNING)
    credential_factory = functools.cache(functools.partial(credential, settings))
    if signed_in is not None:
        credential_factory = functools.cache(lambda: signed_in)
    store = store_override or incident_store(settings, credential_factory, clock)
    return Services.of(
        source=source or jobs_source(settings, credential_factory),
        incidents=store,
        mailer=mailer_override or mailer(settings, credential_factory, clock),
        catalog=remediation.load(),
        clock=clock,
        sender=settings.mail_sender,
        recipients=settings.mail_recipients,
        portal_url=settings.portal_url,
        lookback=timedelta(hours=settings.lookback_hours),
        policy=policy(settings),
        retention=timedelta(days=settings.retention_days),
        vault_concurrency=settings.vault_concurrency,
        routes=settings.routes,
        language=settings.mail_language,
        zone=settings.timezone,
        route_tag=settings.route_tag,
        route_tag_domains=settings.route_tag_domains,
        route_tag_replaces=settings.route_tag_mode == "replace",
        tell_operations=settings.tell_operations,
        vault_ids=settings.vault_ids,
        subscription_ids=settings.subscription_ids,
        missed_grace=None if settings.missed_grace_hours is None else timedelta(hours=settings.missed_grace_hours),
        discovered_subscriptions=settings.subscription_ids if settings.jobs_source == "arm" else (),
        blind_after_runs=settings.blind_after_runs,
        summary_time=settings.summary_schedule,
    )


def publisher(settings: Settings, credential_factory: Callable[[], Any]) -> Publisher | None:
    """The Event Grid publisher of the alert relay; None when no topic is configured."""
    if not settings.eventgrid_topic_endpoint:
        return None
    from backup_events.adapters.eventgrid_publisher import EventGridPublisher  # noqa: PLC0415

    return EventGridPublisher(endpoint=settings.eventgrid_topic_endpoint, credential=credential_factory())


@functools.cache
def relay_publisher() -> Publisher | None:
    """The relay's publisher, built on first use from the app settings."""
    logs.install()
    settings = Settings.from_environ(_environ(), RELAY)
    return publisher(settings, functools.cache(functools.partial(credential, settings)))


@functools.cache
def relay_watches() -> Callable[[str], bool] | None:
    """Which vaults the relay accepts alerts about: the watched vaults and subscriptions (None locally: any)."""
    settings = Settings.from_environ(_environ(), RELAY)
    if not settings.vault_ids and not settings.subscription_ids:
        return None
    return functools.partial(watched, vault_ids=settings.vault_ids, subscription_ids=settings.subscription_ids)


def token_validator(settings: Settings) -> TokenValidator | None:
    """The relay's check of the action group's Entra token; None (every call refused) unless audience and tenant are set."""
    if not settings.relay_audience or not settings.relay_tenant_id:
        return None
    from backup_events.adapters.entra_tokens import EntraTokenValidator  # noqa: PLC0415

    return EntraTokenValidator(tenant_id=settings.relay_tenant_id, audience=settings.relay_audience)


@functools.cache
def relay_token_validator() -> TokenValidator | None:
    """The relay's token validator, built on first use from the app settings; kept, so the tenant's keys stay cached."""
    return token_validator(Settings.from_environ(_environ(), RELAY))


@functools.cache
def services() -> Services:
    """The app's services, built on first use from the app settings and kept for the process."""
    return build(Settings.from_environ(_environ(), FUNCTIONS))


def _environ() -> Mapping[str, str]:
    return os.environ
