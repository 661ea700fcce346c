"""doctor: with the current settings, check each part a run needs and print a checklist, one line per check.

Checked: the settings (every part); the sign-in (which credential, as whom); each watched vault (jobs, protected
items, a policy, and the tags API when a routing tag is set; a 403 names the role and scope to grant); the ledger
(reachable, and writable: one probe row written and deleted); the mailer (the outbox folder writable, or ACS
answering our sign-in: a status look-up of an email that does not exist); the relay's topic and token check.
Nothing else is changed and nothing is sent, unless --send-test. Exit 0 when every check passes, 1 when one fails,
2 when the settings are invalid.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from backup_events import bootstrap
from backup_events.domain.words import counted
from backup_events.errors import BackupEventsError, ConfigurationError, SignInError, SourceError, UnreachableError
from backup_events.settings import ALL, PARTS, SETTINGS, Settings

OK, FAIL, SKIP = "ok", "FAIL", "skip"
_PROBE_PARTITION = "backup-events-doctor"


@dataclass(frozen=True)
class Check:
    """One line of the checklist: what was checked, how it went, and what to do when it failed."""

    name: str
    status: str
    detail: str
    fix: str = ""


@dataclass
class _Identity:
    credential: Any = None
    principal: str = "<object id of the identity in use>"


def settings_of(environ: Mapping[str, str]) -> tuple[Settings, tuple[str, ...], set[str]]:
    """The settings (the parts that are valid), every problem, and the parts that have one."""
    try:
        return Settings.from_environ(environ, ALL), (), set()
    except ConfigurationError as exc:
        problems = exc.problems
    failing = set()
    for part in PARTS:
        try:
            Settings.from_environ(environ, {part})
        except ConfigurationError:
            failing.add(part)
    return Settings.from_environ(environ, ALL - failing), problems, failing


def _settings_checks(problems: tuple[str, ...]) -> list[Check]:
    if not problems:
        return [Check("settings", OK, f"all {len(SETTINGS)} valid")]
    return [Check("settings", FAIL, problem) for problem in problems]  # each problem ends with a valid value


def _principal_of(credential: Any, scope: str) -> tuple[str, str]:
    """Who the token is for (name, object id), read from its claims; unknown when it is not a JWT."""
    import jwt  # noqa: PLC0415

    try:
        claims = jwt.decode(credential.get_token(scope).token, options={"verify_signature": False})
    except (jwt.PyJWTError, AttributeError, TypeError):
        return "", ""
    name = str(claims.get("upn") or claims.get("unique_name") or claims.get("appid") or claims.get("oid") or "")
    return name, str(claims.get("oid") or "")


def _sign_in(settings: Settings, parts: Collection[str], identity: _Identity, given: tuple[Any, str] | None) -> Check:
    scopes = bootstrap.token_scopes(settings, parts)
    if not scopes:
        return Check("sign-in", OK, "not needed: nothing in these settings uses Azure sign-in")
    try:
        signed = given or bootstrap.sign_in(settings, parts)
    except SignInError as exc:
        return Check("sign-in", FAIL, str(exc).split(" Fix: ")[0], str(exc).split(" Fix: ")[-1])
    assert signed is not None
    identity.credential = signed[0]
    name, oid = _principal_of(signed[0], scopes[0])
    identity.principal = oid or identity.principal
    who = f"{signed[1]}" + (f" as {name}" if name else "")
    for scope in scopes[1:]:  # the first one proved the sign-in; each service a run needs must give its own token
        try:
            signed[0].get_token(scope)
        except Exception as exc:  # noqa: BLE001 - any failure here is this service's token refused
            return Check("sign-in", FAIL, f"{who}, but no token for {_service_name(scope)}: {exc}", "check the tenant")
    services = ", ".join(_service_name(scope) for scope in scopes)
    return Check("sign-in", OK, f"{who} (tokens for {services})")


_SERVICES = {
    bootstrap.STORAGE_SCOPE: "Table Storage",
    bootstrap.ACS_SCOPE: "Communication Services",
    bootstrap.EVENTGRID_SCOPE: "Event Grid",
}


def _service_name(scope: str) -> str:
    return _SERVICES.get(scope, "Resource Manager")


def _role_fix(principal: str, role: str, scope: str) -> str:
    return f'az role assignment create --assignee {principal} --role "{role}" --scope {scope}'


def _vault_check(source: Any, vault_id: str, settings: Settings, identity: _Identity, now: datetime) -> list[Check]:
    name = f"vault {vault_id.rsplit('/', 1)[-1]}"
    try:
        jobs = list(source.jobs(vault_id, since=now - timedelta(hours=settings.lookback_hours), until=now))
        items = source.protected_items(vault_id)
        policies = sorted({str(i["properties"]["policyName"]) for i in items if i.get("properties", {}).get("policyName")})
        if policies:
            source.policy(vault_id, policies[0])
    except SourceError as exc:
        return [Check(name, FAIL, str(exc), _source_fix(str(exc), identity, vault_id))]
    checks = [
        Check(
            name,
            OK,
            f"jobs ({counted(len(jobs), 'failed job')} in the last {settings.lookback_hours} h), "
            f"{counted(len(items), 'protected item')}, {counted(len(policies), 'policy')} readable",
        )
    ]
    tagged = next((str(i["properties"]["sourceResourceId"]) for i in items if i["properties"].get("sourceResourceId")), "")
    if settings.route_tag and tagged:
        try:
            source.resource_tags(tagged)
            checks.append(Check(f"{name} tags", OK, f"tags of {tagged.rsplit('/', 1)[-1]} readable ({settings.route_tag})"))
        except SourceError as exc:
            fix = _role_fix(identity.principal, "Reader", tagged) + " (or any role with Microsoft.Resources/tags/read)"
            checks.append(Check(f"{name} tags", FAIL, str(exc), fix if "HTTP 403" in str(exc) else "try again later"))
    return checks


def _source_fix(text: str, identity: _Identity, scope: str) -> str:
    if "HTTP 403" in text:
        return _role_fix(identity.principal, "Backup Reader", scope)
    if "HTTP 404" in text:
        return "check the vault id in BACKUP_VAULT_IDS (or that the vault still exists)"
    if "HTTP 401" in text:
        return "the token was refused: sign in again (az login), or check AZURE_CLIENT_ID"
    return "try again later; if it persists, check the endpoint (BACKUP_CLOUD) and the network"


def _source_checks(settings: Settings, identity: _Identity, now: datetime) -> list[Check]:
    if settings.jobs_source == "sample":
        return [Check("jobs", OK, "the bundled samples (BACKUP_JOBS_SOURCE=sample)")]
    if settings.jobs_source == "files":
        from backup_events.wire.exported import load  # noqa: PLC0415

        try:
            export = load(list(settings.jobs_files))
        except BackupEventsError as exc:
            return [Check("jobs", FAIL, str(exc), "export the file again (az backup job list -o json > jobs.json)")]
        items = sum(map(len, export.items.values()))
        return [Check("jobs", OK, f"{counted(len(export.jobs), 'job')} and {counted(items, 'protected item')} in the files")]
    if identity.credential is None:
        return [Check("vaults", SKIP, "needs a sign-in")]
    source = bootstrap.jobs_source(settings, lambda: identity.credential)
    try:
        vault_ids = source.vault_ids()
    except SourceError as exc:
        scope = f"/subscriptions/{settings.subscription_ids[0]}" if settings.subscription_ids else "the subscription"
        return [Check("vaults", FAIL, str(exc), _source_fix(str(exc), identity, scope))]
    if not vault_ids:
        return [Check("vaults", FAIL, "no vault found to watch", "set BACKUP_VAULT_IDS, or check BACKUP_SUBSCRIPTION_IDS")]
    checks = [Check("vaults", OK, f"{counted(len(vault_ids), 'vault')} to watch")]
    for vault_id in vault_ids:
        checks += _vault_check(source, vault_id, settings, identity, now)
    close = getattr(source, "close", None)
    if close is not None:
        close()
    return checks


def ledger_check(settings: Settings, credential: Any, *, write: bool) -> Check:
    """The incident table: reachable (one query), and with ``write`` writable (a probe row written, then deleted)."""
    from azure.core.exceptions import (  # noqa: PLC0415
        ClientAuthenticationError,
        HttpResponseError,
        ResourceNotFoundError,
        ServiceRequestError,
    )

    where = settings.table_endpoint or "the connection string's table endpoint (BACKUP_TABLE_CONNECTION_STRING)"
    name = f"ledger {settings.table_name}"
    client = bootstrap.table_client(settings, lambda: credential, retry_total=0)
    try:
        next(iter(client.query_entities(f"PartitionKey eq '{_PROBE_PARTITION}'", results_per_page=1).by_page()), None)
        if write:
            row = {"PartitionKey": _PROBE_PARTITION, "RowKey": uuid.uuid4().hex}
            client.upsert_entity(row)
            client.delete_entity(row["PartitionKey"], row["RowKey"])
    except ResourceNotFoundError:
        return Check(name, OK, f"reachable at {where}; the table does not exist yet (the first run creates it)")
    except ClientAuthenticationError as exc:
        if getattr(exc, "status_code", None) is None:
            return Check(name, FAIL, "no token for Table Storage", "sign in (az login), see the sign-in line")
        return Check(name, FAIL, f"Table Storage refused the sign-in (HTTP {exc.status_code})", _table_role(settings))
    except HttpResponseError as exc:
        if exc.status_code == 403:
            return Check(name, FAIL, f"HTTP 403 from {where}: {exc.reason}", _table_role(settings))
        return Check(name, FAIL, f"HTTP {exc.status_code} from {where}: {exc.reason}", "check the table settings")
    except ServiceRequestError:
        fix = (
            "check BACKUP_TABLE_ENDPOINT and that this network may reach it (storage firewall)"
            if settings.table_endpoint
            else "start Azurite (npx azurite --silent --location .azurite), or run `demo`, which starts its own"
        )
        return Check(name, FAIL, f"cannot reach {where}: connection failed", fix)
    finally:
        client.close()
    return Check(name, OK, f"reachable and writable at {where}" if write else f"reachable at {where}")


def _table_role(settings: Settings) -> str:
    account = settings.table_endpoint.split("//", 1)[-1].split(".", 1)[0] or "the storage account"
    return f'grant "Storage Table Data Contributor" on storage account {account} to the identity in use'


def require_ledger(settings: Settings, credential: Any) -> None:
    """Raise ``UnreachableError`` (what, where, the fix) unless the ledger answers: checked before any work."""
    check = ledger_check(settings, credential, write=False)
    if check.status == FAIL:
        raise UnreachableError(f"the ledger (table {settings.table_name}): {check.detail}. Fix: {check.fix}")


def _mailer_checks(settings: Settings, identity: _Identity, send_test: bool) -> list[Check]:
    if settings.mailer == "outbox":
        folder = settings.outbox_dir
        existing = next((p for p in (folder, *folder.absolute().parents) if p.exists()), Path("/"))
        if not os.access(existing, os.W_OK):
            return [
                Check("mailer", FAIL, f"outbox {folder}/ is not writable", f"make {existing} writable, or set BACKUP_OUTBOX_DIR")
            ]
        checks = [Check("mailer", OK, f"outbox: emails are written to {folder}/")]
    else:
        if settings.acs_endpoint and identity.credential is None:
            return [Check("mailer", SKIP, "ACS needs a sign-in")]
        mailer = bootstrap.mailer(settings, lambda: identity.credential, bootstrap.utc_now)
        where = settings.acs_endpoint or "the endpoint of BACKUP_ACS_CONNECTION_STRING"
        try:
            mailer.reachable()  # type: ignore[attr-defined]
        except BackupEventsError as exc:
            fix = (
                "give the identity in use the email sender role on the Communication Services resource (docs/deploy.md)"
                if " 401" in str(exc) or " 403" in str(exc)
                else "check BACKUP_ACS_ENDPOINT and the network"
            )
            return [Check("mailer", FAIL, f"{where}: {exc}", fix)]
        checks = [
            Check(
                "mailer",
                OK,
                f"ACS at {where} answers and accepts the sign-in; sender {settings.mail_sender} "
                "(whether its domain is linked shows only when sending: --send-test)",
            )
        ]
    if send_test:
        from backup_events.cli.main import test_message  # noqa: PLC0415

        mailer = bootstrap.mailer(settings, lambda: identity.credential, bootstrap.utc_now)
        try:
            sent = mailer.send(test_message(settings))
        except BackupEventsError as exc:
            return [*checks, Check("test email", FAIL, str(exc), "check the sender's domain is linked to the ACS resource")]
        checks.append(Check("test email", OK, f"sent to {counted(len(settings.mail_recipients), 'recipient')}: {sent}"))
    return checks


def _relay_checks(settings: Settings) -> list[Check]:
    if not settings.eventgrid_topic_endpoint:
        return [Check("relay", SKIP, "off (BACKUP_EVENTGRID_TOPIC_ENDPOINT is empty): alerts are not relayed; the Timer polls")]
    if not settings.relay_audience or not settings.relay_tenant_id:
        return [
            Check(
                "relay",
                FAIL,
                "the topic is set but the token check is not: every call to the relay is refused",
                "set BACKUP_RELAY_AUDIENCE and BACKUP_RELAY_TENANT_ID (azd up sets both)",
            )
        ]
    return [
        Check(
            "relay",
            OK,
            f"publishes to {settings.eventgrid_topic_endpoint}; accepts tokens for {settings.relay_audience} "
            f"from tenant {settings.relay_tenant_id}",
        )
    ]


def checks(
    environ: Mapping[str, str],
    *,
    send_test: bool = False,
    signed_in: tuple[Any, str] | None = None,
    now: datetime | None = None,
) -> list[Check]:
    """Every check, in order; ``signed_in`` replaces the sign-in (tests hand a credential for the stand-ins)."""
    settings, problems, failing = settings_of(environ)
    parts = ALL - failing
    result = _settings_checks(problems)
    identity = _Identity()
    result.append(_sign_in(settings, parts, identity, signed_in))
    moment = now or datetime.now(UTC)
    groups: list[tuple[str, str, Callable[[], list[Check]]]] = [
        ("source", "jobs", lambda: _source_checks(settings, identity, moment)),
        ("ledger", "ledger", lambda: [_ledger_or_skip(settings, identity)]),
        ("mailer", "mailer", lambda: _mailer_checks(settings, identity, send_test)),
        ("relay", "relay", lambda: _relay_checks(settings)),
    ]
    for part, name, run_checks in groups:
        if part in failing or (part == "source" and "watch" in failing):
            result.append(Check(name, SKIP, "fix its settings first"))
        else:
            result += run_checks()
    return result


def _ledger_or_skip(settings: Settings, identity: _Identity) -> Check:
    if settings.table_endpoint and identity.credential is None:
        return Check(f"ledger {settings.table_name}", SKIP, "needs a sign-in")
    return ledger_check(settings, identity.credential, write=True)


def run(
    environ: Mapping[str, str],
    *,
    send_test: bool = False,
    show: Callable[[str], object] = print,
    signed_in: tuple[Any, str] | None = None,
) -> int:
    """Print the checklist; 0 when every check passed, 1 when one failed, 2 when the settings are invalid."""
    found = checks(environ, send_test=send_test, signed_in=signed_in)
    width = max(len(c.name) for c in found)
    show("backup-events doctor")
    for check in found:
        show(f"  {check.status:<4}  {check.name:<{width}}  {check.detail}")
        if check.status == FAIL and check.fix:
            show(f"  {'':<4}  {'':<{width}}  fix: {check.fix}")
    failed = [c for c in found if c.status == FAIL]
    skipped = sum(c.status == SKIP for c in found)
    verdict = (
        f"{len(failed)} of {counted(len(found), 'check')} failed" if failed else f"all {counted(len(found), 'check')} passed"
    )
    show(f"\ndoctor: {verdict}" + (f" ({skipped} skipped)." if skipped else "."))
    if any(c.name == "settings" for c in failed):
        return 2
    return 1 if failed else 0
