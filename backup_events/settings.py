"""One typed, frozen settings object, read from the app settings (the environment).

The body of ``Settings`` is the one table of settings: each field is one ``setting(...)`` row naming the app setting,
its default, how to parse and check it, its description and its local sample value. Everything else is derived from
it: ``SETTINGS`` and ``NAMES``, the reading (``Settings.from_environ`` runs each row's parser in table order), the
settings table of docs/settings.md and ``local.settings.sample.json``. After editing a row, rewrite the last two with::

    python -m backup_events.settings          # --check only says whether they are up to date

Every problem is collected and raised together, so an operator fixes them in one go.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
from collections.abc import Callable, Collection, Mapping, Sequence
from email.errors import HeaderParseError
from email.headerregistry import Address
from pathlib import Path
from typing import Any, Generic, NamedTuple, TypeVar, dataclass_transform

from backup_events.domain.model import Workload
from backup_events.domain.operations import OperationKind, parse_kinds
from backup_events.domain.routing import Route, language_problem, parse_routes, zone_problem
from backup_events.domain.words import counted, plural
from backup_events.errors import ConfigurationError


class Cloud(NamedTuple):
    """Where Resource Manager is, the token scope for it, and the portal that links point to."""

    arm_endpoint: str
    arm_scope: str
    portal_url: str


CLOUDS: dict[str, Cloud] = {
    "AzureCloud": Cloud("https://management.azure.com", "https://management.azure.com/.default", "https://portal.azure.com"),
    "AzureUSGovernment": Cloud(
        "https://management.usgovcloudapi.net",
        "https://management.usgovcloudapi.net/.default",
        "https://portal.azure.us",
    ),
    "AzureChinaCloud": Cloud(
        "https://management.chinacloudapi.cn",
        "https://management.chinacloudapi.cn/.default",
        "https://portal.azure.cn",
    ),
}

_VAULT_ID = re.compile(
    r"^/subscriptions/[0-9a-f-]{36}/resourcegroups/[^/]+/providers/"
    r"(?:microsoft\.recoveryservices/vaults|microsoft\.dataprotection/backupvaults)/[^/]+$",
    re.IGNORECASE,
)
_AUDIENCE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S+|[0-9a-fA-F-]{36}")
_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)
_TABLE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]{2,62}$")
_ACS_CONNECTION = re.compile(r"endpoint=https?://[^;]+;.*accesskey=", re.IGNORECASE)

PARTS = {
    "timer": "the Timer's schedule",
    "source": "where jobs are read from",
    "watch": "which vaults are watched",
    "identity": "the cloud and the managed identity",
    "ledger": "the incident table",
    "mailer": "how and to whom email is sent",
    "telling": "what gets an email, to whom, how often",
    "relay": "the alert relay's topic and token check",
}
"""The parts of the app a setting belongs to (its row's ``part``)."""
ALL = frozenset(PARTS)
POLL = frozenset({"source", "watch", "identity", "ledger", "mailer", "telling"})
"""What a run uses: ``poll``, the Event Grid trigger."""
FUNCTIONS = POLL | {"timer"}
"""What the deployed Timer and Event Grid trigger use."""
TEST_EMAIL = frozenset({"identity", "mailer"})
RELAY = frozenset({"identity", "watch", "relay"})
"""The relay reads only its topic, its token check and which vaults it accepts alerts about."""

_T = TypeVar("_T")
_C = TypeVar("_C")


# --- the row type and how a row becomes a field ------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Setting(Generic[_T]):
    """One app setting: one row of the table (a ``Settings`` field)."""

    name: str
    default: str  # what an unset or blank setting means; the Default column of docs/settings.md
    description: str  # the Meaning column of docs/settings.md (Markdown)
    example: str  # a valid value, shown in every problem about this setting
    local: str  # its value in local.settings.sample.json
    parse: Callable[[_Value], _T] = dataclasses.field(repr=False, compare=False)
    part: str = "telling"  # which part of the app reads it (see ``PARTS``): a command checks only the parts it uses
    field: str = ""  # the ``Settings`` field that holds it; filled in once the class exists


def setting(
    *,
    name: str,
    parse: Callable[[_Value], _T],
    doc: str,
    unset: str = "",
    example: str | None = None,
    local: str | None = None,
    part: str = "telling",
) -> _T:
    """One row of the table, as a ``Settings`` field: typed by what ``parse`` returns.

    ``unset`` is the default, ``example`` (default: ``unset``) a valid value, ``local`` (default: ``unset``) the value
    for local.settings.sample.json. ``unset`` is not called ``default``: type checkers would read that as the
    field's own default and make every field optional.
    """
    row = Setting(name, unset, doc, unset if example is None else example, unset if local is None else local, parse, part)
    field: _T = dataclasses.field(metadata={"setting": row})
    return field


@dataclass_transform(frozen_default=True, field_specifiers=(setting,))
def _table(cls: type[_C]) -> type[_C]:
    """A frozen dataclass whose fields are ``setting(...)`` rows (``dataclass_transform`` tells mypy just that)."""
    return dataclasses.dataclass(frozen=True)(cls)


class _Value:
    """What a parser gets: this setting's text (its default when unset or blank), the other settings', and a way to
    report a problem."""

    def __init__(self, reader: _Reader, row: Setting[Any]) -> None:
        self.reader, self.row = reader, row
        self.text = reader.raw(row.name)

    def other(self, name: str) -> str:
        """Another setting's text, for the checks that span two settings."""
        return self.reader.raw(name)

    def bad(self, why: str, *, part: str | None = None) -> None:
        """Report a problem with this setting; ``part`` when it matters only to another part than the row's."""
        self.reader.problems.append(
            (part or self.row.part, f"{self.row.name}: {why}; a valid value looks like {self.row.example!r}")
        )


# --- parsers: each turns a setting's text into its field's value, reporting what is wrong ----------------------------


def _text(value: _Value) -> str:
    return value.text


def _path(value: _Value) -> Path:
    return Path(value.text)


def _checked(ok: Callable[[str], bool], why: str) -> Callable[[_Value], str]:
    """The text unchanged, when ``ok`` accepts it; ``why`` otherwise (or "is missing" when it is empty)."""

    def parse(value: _Value) -> str:
        if not ok(value.text):
            value.bad(why if value.text else "is missing")
        return value.text

    return parse


def _choice(*choices: str) -> Callable[[_Value], str]:
    return _checked(lambda text: text in choices, f"must be one of {', '.join(choices)}")


def _https_or_empty(text: str) -> bool:
    return not text or text.startswith("https://")


_https_url = _checked(_https_or_empty, "must be an https:// URL")  # or empty


def _whole(low: int, high: int, why: str = "") -> Callable[[_Value], int]:
    def parse(value: _Value) -> int:
        number = int(value.text) if value.text.isdigit() else None
        if number is None or not low <= number <= high:
            value.bad((why or f"must be a whole number, {low}-{high}") if value.text else "is missing")
            return low
        return number

    return parse


def _retention_days(value: _Value) -> int:
    days = _whole(1, 3650)(value)
    lookback = value.other("BACKUP_LOOKBACK_HOURS")
    if lookback.isdigit() and int(lookback) >= days * 24:
        value.bad(
            f"must be longer than BACKUP_LOOKBACK_HOURS ({lookback} h): a poll would find jobs whose rows expired "
            "and tell them again"
        )
    return days


_DOMAIN = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")


def _route_tag_domains(value: _Value) -> tuple[str, ...]:
    domains = tuple(d.casefold().lstrip("@") for d in _split(value.text))
    if bad := [d for d in domains if not _DOMAIN.fullmatch(d)]:
        value.bad(f"{bad[0]!r} is not a mail domain")
    if domains and not value.other("BACKUP_ROUTE_TAG"):
        value.bad("is set but BACKUP_ROUTE_TAG is not: set the tag to read, or unset this")
    if value.other("BACKUP_ROUTE_TAG") and not domains:
        value.bad("set it when BACKUP_ROUTE_TAG is set: a routing tag may only send to these domains")
    return domains


def _split(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in re.split(r"[,;\s]+", value) if part.strip())


def _is_address(value: str) -> bool:
    """One bare address (``name@example.com``), parsed as RFC 5322 does, with a real domain (``_DOMAIN``)."""
    try:
        address = Address(addr_spec=value)
    except (HeaderParseError, ValueError, IndexError):
        return False
    return address.addr_spec == value and bool(address.username) and _DOMAIN.fullmatch(address.domain.casefold()) is not None


def _jobs_files(value: _Value) -> tuple[Path, ...]:
    files = tuple(Path(p.strip()) for p in value.text.split(",") if p.strip())
    if files and value.other("BACKUP_JOBS_SOURCE") != "files":
        value.bad(
            f"is set but BACKUP_JOBS_SOURCE is {value.other('BACKUP_JOBS_SOURCE')}: set BACKUP_JOBS_SOURCE=files, or unset it"
        )
    if value.other("BACKUP_JOBS_SOURCE") == "files":
        if not files:
            value.bad("set it when BACKUP_JOBS_SOURCE is files")
        elif missing := [str(p) for p in files if not p.is_file()]:
            value.bad(f"no such file {missing[0]!r}")
    return files


def _vault_ids(value: _Value) -> tuple[str, ...]:
    vault_ids = _split(value.text)
    if bad := [v for v in vault_ids if not _VAULT_ID.match(v)]:
        value.bad(f"{counted(len(bad), 'entry')} of {len(vault_ids)} {plural('is', len(bad))} not a vault id, e.g. {bad[0]!r}")
    if value.other("BACKUP_JOBS_SOURCE") == "arm" and not vault_ids and not _split(value.other("BACKUP_SUBSCRIPTION_IDS")):
        value.bad("set it or BACKUP_SUBSCRIPTION_IDS when BACKUP_JOBS_SOURCE is arm", part="source")
    return vault_ids


def _subscription_ids(value: _Value) -> tuple[str, ...]:
    subscriptions = _split(value.text)
    if bad := [s for s in subscriptions if not _GUID.match(s)]:
        value.bad(f"{bad[0]!r} is not a subscription GUID")
    return subscriptions


def _cloud(value: _Value) -> Cloud:
    if value.text in CLOUDS:
        return CLOUDS[value.text]
    if value.text.startswith("https://"):
        endpoint = value.text.rstrip("/")
        return Cloud(endpoint, f"{endpoint}/.default", CLOUDS["AzureCloud"].portal_url)
    value.bad(f"must be one of {', '.join(CLOUDS)} or an https:// Resource Manager URL")
    return CLOUDS["AzureCloud"]


def _table_endpoint(value: _Value) -> str:
    endpoint = _https_url(value)
    if not endpoint and not value.other("BACKUP_TABLE_CONNECTION_STRING"):
        value.bad("set it (or BACKUP_TABLE_CONNECTION_STRING for Azurite)")
    elif endpoint and value.other("BACKUP_TABLE_CONNECTION_STRING"):
        value.bad("set it or BACKUP_TABLE_CONNECTION_STRING, not both (the connection string would be ignored)")
    return endpoint


def _acs_endpoint(value: _Value) -> str:
    endpoint = _https_url(value)
    if value.other("BACKUP_MAILER") == "acs" and not endpoint and not value.other("BACKUP_ACS_CONNECTION_STRING"):
        value.bad("set it when BACKUP_MAILER is acs")
    return endpoint


def _table_connection_string(value: _Value) -> str:
    parts = {k.strip().casefold(): v for k, _, v in (p.partition("=") for p in value.text.split(";") if p.strip())}
    development = parts.get("usedevelopmentstorage", "").casefold() == "true"
    if (
        value.text
        and not development
        and not (parts.get("accountname") and (parts.get("accountkey") or parts.get("sharedaccesssignature")))
    ):
        value.bad("is not a storage connection string (AccountName and AccountKey, or UseDevelopmentStorage=true)")
    return value.text  # never echoed: it may hold a key


def _acs_connection_string(value: _Value) -> str:
    if value.text and not _ACS_CONNECTION.search(value.text):
        value.bad("is not an ACS connection string")  # never echoes the value: it may hold a key
    elif value.text and value.other("BACKUP_ACS_ENDPOINT"):
        value.bad("set it or BACKUP_ACS_ENDPOINT, not both (it would be ignored)")
    return value.text


def _mail_sender(value: _Value) -> str:
    if value.text and not _is_address(value.text):
        value.bad("must be one email address, name@domain")
    elif value.other("BACKUP_MAILER") == "acs" and not value.text:
        value.bad("is missing")
    return value.text or "backup-events@localhost.invalid"


def _mail_recipients(value: _Value) -> tuple[str, ...]:
    recipients = _split(value.text)
    if not recipients:
        value.bad("is missing")
    elif bad := [r for r in recipients if not _is_address(r)]:
        value.bad(f"{counted(len(bad), 'entry')} of {len(recipients)} {plural('is', len(bad))} not an email address")
    elif len(recipients) > 50:
        value.bad("ACS takes at most 50 recipients per email")
    return recipients


def _routes(value: _Value) -> tuple[Route, ...]:
    routes, problems = parse_routes(value.text)
    for problem in problems:
        value.bad(problem)
    if bad := [address for route in routes for address in route.recipients if not _is_address(address)]:
        value.bad(f"{bad[0]!r} is not an email address")
    return routes


def _mail_language(value: _Value) -> str:
    if problem := language_problem(value.text):
        value.bad(problem)
        return "en"
    return value.text


def _timezone(value: _Value) -> str:
    if problem := zone_problem(value.text):
        value.bad(problem)
        return "UTC"
    return value.text


def _tell_operations(value: _Value) -> frozenset[OperationKind]:
    operations, unknown = parse_kinds(value.text)
    if unknown or not operations:
        kinds = ", ".join(k.value for k in OperationKind)
        value.bad(f"unknown operation {unknown[0]!r}; known: all, {kinds}" if unknown else "names none")
    return operations or frozenset(OperationKind)


def _reminder_hours(value: _Value) -> tuple[int, ...]:
    hours = _split(value.text)
    numbers = [int(h) for h in hours if h.isdigit()]
    if len(numbers) != len(hours) or not all(0 < n <= 8760 for n in numbers) or numbers != sorted(set(numbers)):
        value.bad("must be strictly increasing whole hours, comma-separated (or empty for no reminders)")
        return ()
    return tuple(int(h) for h in hours)


def _recovery_workloads(value: _Value) -> frozenset[str]:
    workloads = {w.value for w in Workload}
    if value.text.casefold() == "all":
        return frozenset(workloads)
    if value.text.casefold() == "none":
        return frozenset()
    named = {n.strip() for n in value.text.split(",") if n.strip()}
    if unknown := sorted(named - workloads):
        value.bad(f"unknown {plural('workload', len(unknown))} {unknown}; known: {', '.join(sorted(workloads))}")
    return frozenset(named & workloads)


def _daily_time(value: _Value) -> str | None:
    if value.text.casefold() == "off":
        return None
    match = re.fullmatch(r"([01]\d|2[0-3]):(00|15|30|45)", value.text)
    if match is None:
        value.bad("must be a time of day HH:MM on a quarter hour (the summary timer runs every 15 minutes), or 'off'")
        return "09:00"
    return value.text


def _schedule(value: _Value) -> str:
    """An NCRONTAB expression as the Functions host reads it: six fields (second minute hour day month day-of-week)."""
    from croniter import CroniterBadDateError, croniter  # noqa: PLC0415

    fields = value.text.split()
    if len(fields) != 6:
        hint = f"write '0 {value.text}'" if len(fields) == 5 else "for every 15 minutes write '0 */15 * * * *'"
        value.bad(f"has {counted(len(fields), 'field')}; NCRONTAB takes six, seconds first ({hint})")
    elif not croniter.is_valid(value.text, second_at_beginning=True):
        value.bad(
            "is not a valid NCRONTAB expression (second 0-59, minute 0-59, hour 0-23, day 1-31, month 1-12, "
            "day-of-week 0-6 or SUN-SAT)"
        )
    else:
        try:
            croniter(value.text, second_at_beginning=True).get_next(float)
        except CroniterBadDateError:
            value.bad("never fires (no such date)")
    return value.text


_TAG_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,511}")


def _route_tag(value: _Value) -> str:
    if value.text and not _TAG_NAME.fullmatch(value.text):
        value.bad("must be a tag name: letters, digits and - _ . : (no spaces; at most 512)")
    return value.text


def _hours_or_off(value: _Value) -> int | None:
    return None if value.text.casefold() == "off" else _whole(0, 720)(value)


# --- the table ---------------------------------------------------------------------------------------------------


@_table
class Settings:
    """Everything the app reads from its environment, validated: one field per app setting, in docs/settings.md order."""

    poll_schedule: str = setting(
        name="BACKUP_POLL_SCHEDULE",
        part="timer",
        unset="0 */15 * * * *",
        local="0 */2 * * * *",
        parse=_schedule,
        doc="NCRONTAB schedule of the Timer (six fields).",
    )
    jobs_source: str = setting(
        name="BACKUP_JOBS_SOURCE",
        part="source",
        unset="arm",
        local="sample",
        parse=_choice("arm", "files", "sample"),
        doc="'arm' reads the vaults' jobs API; 'files' reads exported jobs (`BACKUP_JOBS_FILES`); 'sample' the bundled samples.",
    )
    jobs_files: tuple[Path, ...] = setting(
        name="BACKUP_JOBS_FILES",
        part="source",
        example="exports/jobs.json,exports/items.json",
        parse=_jobs_files,
        doc="With `BACKUP_JOBS_SOURCE=files`: comma-separated `az backup job list -o json`, REST list pages, single "
        "jobs, `az backup item list -o json`.",
    )
    vault_ids: tuple[str, ...] = setting(
        name="BACKUP_VAULT_IDS",
        part="watch",
        example="/subscriptions/<guid>/resourceGroups/rg/providers/Microsoft.RecoveryServices/vaults/rsv-prod",
        parse=_vault_ids,
        doc="Comma-separated Recovery Services vault ids to watch.",
    )
    subscription_ids: tuple[str, ...] = setting(
        name="BACKUP_SUBSCRIPTION_IDS",
        part="watch",
        example="00000000-0000-0000-0000-000000000000",
        parse=_subscription_ids,
        doc="Comma-separated subscriptions: watch every vault in them.",
    )
    lookback_hours: int = setting(
        name="BACKUP_LOOKBACK_HOURS",
        part="source",
        unset="24",
        parse=_whole(1, 720, "must be a whole number of hours, 1-720"),
        doc="How far back each poll looks; overlaps earlier polls on purpose (1-720).",
    )
    cloud: Cloud = setting(
        name="BACKUP_CLOUD",
        part="identity",
        unset="AzureCloud",
        parse=_cloud,
        doc="AzureCloud, AzureUSGovernment, AzureChinaCloud, or a Resource Manager https URL.",
    )
    table_endpoint: str = setting(
        name="BACKUP_TABLE_ENDPOINT",
        part="ledger",
        example="https://stbackupevents.table.core.windows.net",
        parse=_table_endpoint,
        doc="Table Storage endpoint, reached with the managed identity.",
    )
    table_connection_string: str = setting(
        name="BACKUP_TABLE_CONNECTION_STRING",
        part="ledger",
        example="UseDevelopmentStorage=true",
        local="UseDevelopmentStorage=true",
        parse=_table_connection_string,
        doc="Local only (Azurite): a connection string instead of the endpoint.",
    )
    table_name: str = setting(
        name="BACKUP_TABLE_NAME",
        part="ledger",
        unset="backupevents",
        parse=_checked(lambda v: bool(_TABLE_NAME.match(v)), "must be 3-63 letters and digits, starting with a letter"),
        doc="Ledger table name (letters and digits, 3-63).",
    )
    mailer: str = setting(
        name="BACKUP_MAILER",
        part="mailer",
        unset="acs",
        local="outbox",
        parse=_choice("acs", "outbox"),
        doc="'acs' sends through Azure Communication Services; 'outbox' writes .eml files.",
    )
    outbox_dir: Path = setting(
        name="BACKUP_OUTBOX_DIR",
        part="mailer",
        unset="outbox",
        parse=_path,
        doc="Folder the outbox mailer writes to.",
    )
    acs_endpoint: str = setting(
        name="BACKUP_ACS_ENDPOINT",
        part="mailer",
        example="https://acs-backup.communication.azure.com",
        parse=_acs_endpoint,
        doc="ACS endpoint, reached with the managed identity.",
    )
    acs_connection_string: str = setting(
        name="BACKUP_ACS_CONNECTION_STRING",
        part="mailer",
        example="endpoint=https://<resource>.communication.azure.com/;accesskey=<key>",
        parse=_acs_connection_string,
        doc="Local fallback for ACS, instead of the endpoint (not with it).",
    )
    mail_sender: str = setting(
        name="BACKUP_MAIL_SENDER",
        part="mailer",
        example="DoNotReply@<guid>.azurecomm.net",
        local="backup-events@example.com",
        parse=_mail_sender,
        doc="The MailFrom address of a domain linked to the ACS resource.",
    )
    mail_recipients: tuple[str, ...] = setting(
        name="BACKUP_MAIL_RECIPIENTS",
        part="mailer",
        example="oncall@contoso.com,backup-team@contoso.com",
        local="oncall@example.com",
        parse=_mail_recipients,
        doc="Comma-separated addresses that get the emails (at most 50).",
    )
    mail_language: str = setting(
        name="BACKUP_MAIL_LANGUAGE",
        unset="en",
        example="ja",
        parse=_mail_language,
        doc="The emails' language: 'en' or 'ja' (per group: `lang=` in BACKUP_ROUTES).",
    )
    timezone: str = setting(
        name="BACKUP_TIMEZONE",
        unset="UTC",
        example="Asia/Tokyo",
        parse=_timezone,
        doc="IANA time zone of every time shown, e.g. `Asia/Tokyo` (per group: `tz=` in BACKUP_ROUTES).",
    )
    routes: tuple[Route, ...] = setting(
        name="BACKUP_ROUTES",
        example="rg:rg-sql=dba@contoso.com;vault:rsv-tokyo=ops@contoso.jp,backup@contoso.jp lang=ja tz=Asia/Tokyo",
        parse=_routes,
        doc="Per-vault, per-resource-group or per-subscription recipients, each group optionally with its own "
        "`lang=` and `tz=`; others go to BACKUP_MAIL_RECIPIENTS.",
    )
    route_tag: str = setting(
        name="BACKUP_ROUTE_TAG",
        example="backup-alerts-to",
        local="backup-alerts-to",
        parse=_route_tag,
        doc="A tag on the affected VM or storage account whose addresses also get its emails; empty to ignore tags.",
    )
    route_tag_domains: tuple[str, ...] = setting(
        name="BACKUP_ROUTE_TAG_DOMAINS",
        example="contoso.com,fabrikam.com",
        local="example.com,contoso.com",
        parse=_route_tag_domains,
        doc="Mail domains a routing tag may send to (needed with BACKUP_ROUTE_TAG); addresses in other domains are ignored.",
    )
    route_tag_mode: str = setting(
        name="BACKUP_ROUTE_TAG_MODE",
        unset="add",
        parse=_choice("add", "replace"),
        doc="'add': a routing tag's addresses get the emails as well as the vault's recipients; 'replace': instead of them.",
    )
    tell_operations: frozenset[OperationKind] = setting(
        name="BACKUP_TELL_OPERATIONS",
        unset="all",
        parse=_tell_operations,
        doc="Which failed operations get an email: all, or some of backup, restore, configure-backup, delete-backup-data, other.",
    )
    reminder_hours: tuple[int, ...] = setting(
        name="BACKUP_REMINDER_HOURS",
        unset="24,72",
        parse=_reminder_hours,
        doc="Hours after an incident opens to remind, while it still fails.",
    )
    recovery_workloads: frozenset[str] = setting(
        name="BACKUP_RECOVERY_NOTICES",
        unset="all",
        parse=_recovery_workloads,
        doc="Workloads that get a 'recovered' email: all, none, or names such as 'Azure VM,Azure Files'.",
    )
    digest_threshold: int = setting(
        name="BACKUP_DIGEST_THRESHOLD",
        unset="5",
        parse=_whole(1, 10_000),
        doc="More new incidents than this in one run become one digest email.",
    )
    emails_per_run: int = setting(
        name="BACKUP_EMAILS_PER_RUN",
        unset="5",
        local="20",
        parse=_whole(1, 10_000),
        doc="Most emails one run sends (ACS allows 5/min, 10/h on Azure-managed domains).",
    )
    emails_per_hour: int = setting(
        name="BACKUP_EMAILS_PER_HOUR",
        unset="10",
        local="100",
        parse=_whole(1, 100_000),
        doc="Most emails in one hour, shared by every run and the alert path; what it holds back goes out later "
        "(10 is what an Azure-managed domain allows; raise it with your own domain).",
    )
    missed_grace_hours: int | None = setting(
        name="BACKUP_MISSED_BACKUP_GRACE_HOURS",
        part="source",
        unset="6",
        parse=_hours_or_off,
        doc="Hours past the policy's schedule before an item without a new recovery point is reported; 'off' to stop.",
    )
    blind_after_runs: int = setting(
        name="BACKUP_BLIND_AFTER_RUNS",
        unset="3",
        parse=_whole(1, 1000),
        doc="Runs in a row a watched vault may be unreadable before a 'blind spot' email says so (1-1000).",
    )
    summary_schedule: str | None = setting(
        name="BACKUP_SUMMARY_SCHEDULE",
        unset="09:00",
        parse=_daily_time,
        doc="When the daily summary is sent: HH:MM (quarter hours) in `BACKUP_TIMEZONE`, every day; 'off' to stop it.",
    )
    vault_concurrency: int = setting(
        name="BACKUP_VAULT_CONCURRENCY",
        part="source",
        unset="4",
        parse=_whole(1, 32),
        doc="How many vaults one run reads at the same time (1-32).",
    )
    retention_days: int = setting(
        name="BACKUP_RETENTION_DAYS",
        part="ledger",
        unset="30",
        parse=_retention_days,
        doc="Closed incidents and told jobs older than this are deleted.",
    )
    eventgrid_topic_endpoint: str = setting(
        name="BACKUP_EVENTGRID_TOPIC_ENDPOINT",
        part="relay",
        example="https://egt-backup.westeurope-1.eventgrid.azure.net/api/events",
        parse=_https_url,
        doc="Event Grid custom topic the alert relay publishes to (managed identity); empty turns the relay off.",
    )
    relay_audience: str = setting(
        name="BACKUP_RELAY_AUDIENCE",
        part="relay",
        example="api://backup-events-relay",
        parse=_checked(lambda v: not v or bool(_AUDIENCE.fullmatch(v)), "must be an Application ID URI or an app id GUID"),
        doc="The relay's app registration (Application ID URI or app id): the audience of the action group's Entra "
        "token; empty refuses every call.",
    )
    relay_tenant_id: str = setting(
        name="BACKUP_RELAY_TENANT_ID",
        part="relay",
        example="00000000-0000-0000-0000-000000000000",
        parse=_checked(lambda v: not v or bool(_GUID.match(v)), "must be a tenant id GUID or empty"),
        doc="The Entra tenant that issues the action group's token to the relay.",
    )
    client_id: str = setting(
        name="AZURE_CLIENT_ID",
        part="identity",
        example="<client id of the user-assigned identity>",
        parse=_checked(lambda v: not v or bool(_GUID.match(v)), "must be a client id GUID or empty"),
        doc="Which managed identity to use; empty for your own login locally.",
    )

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], parts: Collection[str] = ALL) -> Settings:
        """Read every setting; raise one ``ConfigurationError`` naming each bad one among the ``parts`` asked for.

        A command checks only the parts it uses (``TEST_EMAIL``, ``RELAY``, ``POLL``...): the others are read too,
        but a problem there is not the command's, and their values stay unused.
        """
        if unknown := set(parts) - set(PARTS):
            raise ValueError(f"unknown settings parts {sorted(unknown)}")
        reader = _Reader(environ)
        values = {row.field: row.parse(_Value(reader, row)) for row in SETTINGS}
        reader.problems += misspelt(environ)
        if problems := [problem for part, problem in reader.problems if part in parts]:
            raise ConfigurationError(problems)
        return cls(**values)

    @property
    def arm_endpoint(self) -> str:
        return self.cloud.arm_endpoint

    @property
    def arm_scope(self) -> str:
        return self.cloud.arm_scope

    @property
    def portal_url(self) -> str:
        return self.cloud.portal_url

    def __repr__(self) -> str:
        # Connection strings hold keys and recipient lists are personal data: keep both out of logs.
        return (
            f"Settings(jobs_source={self.jobs_source!r}, vaults={len(self.vault_ids)}, "
            f"subscriptions={len(self.subscription_ids)}, mailer={self.mailer!r}, recipients={len(self.mail_recipients)})"
        )


SETTINGS: tuple[Setting[Any], ...] = tuple(
    dataclasses.replace(f.metadata["setting"], field=f.name) for f in dataclasses.fields(Settings)
)
NAMES = tuple(s.name for s in SETTINGS)
_BY_NAME = {s.name: s for s in SETTINGS}


def misspelt(environ: Mapping[str, str]) -> list[tuple[str, str]]:
    """(part, problem) for each variable that looks like a setting's name but is not one (``BACKUP_VAULT_ID``): set,
    it would be ignored. Other names are left alone (azd's outputs, the host's own settings)."""
    import difflib  # noqa: PLC0415

    problems = []
    for name in sorted(environ):
        if name in _BY_NAME or not name.upper().startswith("BACKUP_"):
            continue
        close = difflib.get_close_matches(name.upper(), NAMES, n=1, cutoff=0.85)
        if close:
            problems.append((_BY_NAME[close[0]].part, f"{name}: not a setting, so it would be ignored; did you mean {close[0]}?"))
    return problems


class _Reader:
    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self.problems: list[tuple[str, str]] = []  # (part, problem)

    def raw(self, name: str) -> str:
        value = self.environ.get(name)
        if value is None or not value.strip():
            return _BY_NAME[name].default
        return value.strip()


# --- the settings page's table and the local sample, generated from the table -----------------------------------

ROOT = Path(__file__).resolve().parent.parent
# The Functions host's own settings, first in local.settings.sample.json.
HOST_SETTINGS: dict[str, str] = {
    "FUNCTIONS_WORKER_RUNTIME": "python",
    "AzureWebJobsStorage": "UseDevelopmentStorage=true",
    "AzureWebJobsFeatureFlags": "EnableWorkerIndexing",
}
_README_HEAD = "| Setting | Default | Meaning |\n|---|---|---|\n"
TABLE_PAGE = Path("docs") / "settings.md"
"""Where the table is, in the checkout: under its heading ``## All settings``."""
_SECTION = "\n## All settings\n"


def readme_table() -> str:
    """The settings table of docs/settings.md: header and one row per setting."""
    rows = (f"| `{s.name}` | {f'`{s.default}`' if s.default else ''} | {s.description} |\n" for s in SETTINGS)
    return _README_HEAD + "".join(rows)


def with_readme_table(readme: str) -> str:
    """``readme`` (a page) with the table under ``## All settings`` replaced by ``readme_table()``; the rest as it is."""
    section = readme.find(_SECTION)
    start = readme.find(_README_HEAD, section)
    following = readme.find("\n## ", section + 1)
    if section < 0 or start < 0 or 0 <= following < start:
        raise ValueError(f"{TABLE_PAGE} has no table under '## All settings' starting {_README_HEAD.splitlines()[0]!r}")
    end = start + len(_README_HEAD)
    while readme.startswith("|", end):
        end = readme.find("\n", end) + 1 or len(readme)
    return readme[:start] + readme_table() + readme[end:]


def local_sample() -> str:
    """local.settings.sample.json: the host settings, then each setting's local value (its default unless stated)."""
    values = HOST_SETTINGS | {s.name: s.local for s in SETTINGS}
    return json.dumps({"IsEncrypted": False, "Values": values}, indent=2) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m backup_events.settings [--check] [--root DIR]``: rewrite the table of docs/settings.md and the local
    sample."""
    cli = argparse.ArgumentParser(prog="python -m backup_events.settings", description=main.__doc__)
    cli.add_argument("--check", action="store_true", help="change nothing; exit 1 if a file is out of date")
    cli.add_argument("--root", type=Path, default=ROOT, help="the checkout holding docs/settings.md (default: this one)")
    args = cli.parse_args(argv)
    readme, sample = args.root / TABLE_PAGE, args.root / "local.settings.sample.json"
    try:
        wanted = {readme: with_readme_table(readme.read_text(encoding="utf-8")), sample: local_sample()}
    except (OSError, ValueError) as exc:
        print(f"settings: {exc}", file=sys.stderr)
        return 2
    stale = [path for path, text in wanted.items() if not path.is_file() or path.read_text(encoding="utf-8") != text]
    for path in stale:
        if args.check:
            print(f"{path.relative_to(args.root)} is out of date: run python -m backup_events.settings", file=sys.stderr)
        else:
            path.write_text(wanted[path], encoding="utf-8")
            print(f"rewrote {path.relative_to(args.root)}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
