"""One typed, frozen settings object, read from the app settings (the environment).

Every problem is collected and raised together, so an operator fixes them in one go.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parseaddr
from pathlib import Path
from typing import Any

from backup_events.domain.model import Workload
from backup_events.domain.operations import OperationKind, parse_kinds
from backup_events.domain.routing import Route, parse_routes
from backup_events.errors import ConfigurationError

CLOUDS: dict[str, tuple[str, str, str]] = {
    # name: (Resource Manager endpoint, token scope, portal)
    "AzureCloud": ("https://management.azure.com", "https://management.azure.com/.default", "https://portal.azure.com"),
    "AzureUSGovernment": (
        "https://management.usgovcloudapi.net",
        "https://management.usgovcloudapi.net/.default",
        "https://portal.azure.us",
    ),
    "AzureChinaCloud": (
        "https://management.chinacloudapi.cn",
        "https://management.chinacloudapi.cn/.default",
        "https://portal.azure.cn",
    ),
}

_VAULT_ID = re.compile(
    r"^/subscriptions/[0-9a-f-]{36}/resourcegroups/[^/]+/providers/microsoft\.recoveryservices/vaults/[^/]+$",
    re.IGNORECASE,
)
_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)
_NCRONTAB = re.compile(r"^\S+( \S+){4,5}$")
_TABLE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]{2,62}$")


@dataclass(frozen=True)
class Setting:
    """One app setting: its name, whether it must be set, its default and a valid example."""

    name: str
    example: str
    default: str | None = None
    description: str = ""


SETTINGS: tuple[Setting, ...] = (
    Setting("BACKUP_POLL_SCHEDULE", "0 */15 * * * *", "0 */15 * * * *", "NCRONTAB schedule of the Timer (six fields)."),
    Setting(
        "BACKUP_JOBS_SOURCE",
        "arm",
        "arm",
        "'arm' reads the vaults' jobs API; 'files' reads exported jobs (BACKUP_JOBS_FILES); 'sample' the bundled samples.",
    ),
    Setting(
        "BACKUP_JOBS_FILES",
        "exports/jobs.json,exports/items.json",
        "",
        "With BACKUP_JOBS_SOURCE=files: comma-separated `az backup job list -o json`, REST list pages, single jobs, "
        "`az backup item list -o json`.",
    ),
    Setting(
        "BACKUP_VAULT_IDS",
        "/subscriptions/<guid>/resourceGroups/rg/providers/Microsoft.RecoveryServices/vaults/rsv-prod",
        "",
        "Comma-separated Recovery Services vault ids to watch.",
    ),
    Setting(
        "BACKUP_SUBSCRIPTION_IDS",
        "00000000-0000-0000-0000-000000000000",
        "",
        "Comma-separated subscriptions: watch every vault in them.",
    ),
    Setting("BACKUP_LOOKBACK_HOURS", "24", "24", "How far back each poll looks; overlaps earlier polls on purpose (1-720)."),
    Setting(
        "BACKUP_CLOUD",
        "AzureCloud",
        "AzureCloud",
        "AzureCloud, AzureUSGovernment, AzureChinaCloud, or a Resource Manager https URL.",
    ),
    Setting(
        "BACKUP_TABLE_ENDPOINT",
        "https://stbackupevents.table.core.windows.net",
        "",
        "Table Storage endpoint, reached with the managed identity.",
    ),
    Setting(
        "BACKUP_TABLE_CONNECTION_STRING",
        "UseDevelopmentStorage=true",
        "",
        "Local only (Azurite): a connection string instead of the endpoint.",
    ),
    Setting("BACKUP_TABLE_NAME", "backupevents", "backupevents", "Ledger table name (letters and digits, 3-63)."),
    Setting("BACKUP_MAILER", "acs", "acs", "'acs' sends through Azure Communication Services; 'outbox' writes .eml files."),
    Setting("BACKUP_OUTBOX_DIR", "outbox", "outbox", "Folder the outbox mailer writes to."),
    Setting(
        "BACKUP_ACS_ENDPOINT",
        "https://acs-backup.communication.azure.com",
        "",
        "ACS endpoint, reached with the managed identity.",
    ),
    Setting(
        "BACKUP_ACS_CONNECTION_STRING",
        "endpoint=https://...;accesskey=...",
        "",
        "Local fallback for ACS; never used when the endpoint is set.",
    ),
    Setting(
        "BACKUP_MAIL_SENDER",
        "DoNotReply@<guid>.azurecomm.net",
        "",
        "The MailFrom address of a domain linked to the ACS resource.",
    ),
    Setting(
        "BACKUP_MAIL_RECIPIENTS",
        "oncall@contoso.com,backup-team@contoso.com",
        "",
        "Comma-separated addresses that get the emails (at most 50).",
    ),
    Setting(
        "BACKUP_ROUTES",
        "rg:rg-sql=dba@contoso.com;vault:rsv-prod=ops@contoso.com,backup@contoso.com",
        "",
        "Per-vault, per-resource-group or per-subscription recipients; others go to BACKUP_MAIL_RECIPIENTS.",
    ),
    Setting(
        "BACKUP_ROUTE_TAG",
        "backup-alerts-to",
        "",
        "A tag on the affected VM or storage account whose addresses get its emails instead; empty to ignore tags.",
    ),
    Setting(
        "BACKUP_TELL_OPERATIONS",
        "all",
        "all",
        "Which failed operations get an email: all, or some of backup, restore, configure-backup, delete-backup-data, other.",
    ),
    Setting("BACKUP_REMINDER_HOURS", "24,72", "24,72", "Hours after an incident opens to remind, while it still fails."),
    Setting(
        "BACKUP_RECOVERY_NOTICES",
        "all",
        "all",
        "Workloads that get a 'recovered' email: all, none, or names such as 'Azure VM,Azure Files'.",
    ),
    Setting("BACKUP_DIGEST_THRESHOLD", "5", "5", "More new incidents than this in one run become one digest email."),
    Setting("BACKUP_EMAILS_PER_RUN", "5", "5", "Most emails one run sends (ACS allows 5/min, 10/h on Azure-managed domains)."),
    Setting(
        "BACKUP_MISSED_BACKUP_GRACE_HOURS",
        "6",
        "6",
        "Hours past the policy's schedule before an item without a new recovery point is reported; 'off' to stop.",
    ),
    Setting("BACKUP_VAULT_CONCURRENCY", "4", "4", "How many vaults one run reads at the same time (1-32)."),
    Setting("BACKUP_RETENTION_DAYS", "30", "30", "Closed incidents and told jobs older than this are deleted."),
    Setting(
        "BACKUP_EVENTGRID_TOPIC_ENDPOINT",
        "https://egt-backup.westeurope-1.eventgrid.azure.net/api/events",
        "",
        "Event Grid custom topic the alert relay publishes to (managed identity); empty turns the relay off.",
    ),
    Setting(
        "AZURE_CLIENT_ID",
        "<client id of the user-assigned identity>",
        "",
        "Which managed identity to use; empty for your own login locally.",
    ),
)

NAMES = tuple(s.name for s in SETTINGS)


@dataclass(frozen=True)
class Settings:
    """Everything the app reads from its environment, validated."""

    poll_schedule: str
    jobs_source: str
    jobs_files: tuple[Path, ...]
    vault_ids: tuple[str, ...]
    subscription_ids: tuple[str, ...]
    lookback_hours: int
    arm_endpoint: str
    arm_scope: str
    portal_url: str
    table_endpoint: str
    table_connection_string: str
    table_name: str
    mailer: str
    outbox_dir: Path
    acs_endpoint: str
    acs_connection_string: str
    mail_sender: str
    mail_recipients: tuple[str, ...]
    routes: tuple[Route, ...]
    route_tag: str
    eventgrid_topic_endpoint: str
    tell_operations: frozenset[OperationKind]
    reminder_hours: tuple[int, ...]
    recovery_workloads: frozenset[str]
    digest_threshold: int
    emails_per_run: int
    retention_days: int
    vault_concurrency: int
    missed_grace_hours: int | None
    client_id: str

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Settings:
        """Read and validate every setting; raise one ``ConfigurationError`` naming each bad one."""
        reader = _Reader(environ)
        values = reader.read()
        if reader.problems:
            raise ConfigurationError(reader.problems)
        return cls(**values)

    def __repr__(self) -> str:
        # Connection strings hold keys and recipient lists are personal data: keep both out of logs.
        return (
            f"Settings(jobs_source={self.jobs_source!r}, vaults={len(self.vault_ids)}, "
            f"subscriptions={len(self.subscription_ids)}, mailer={self.mailer!r}, recipients={len(self.mail_recipients)})"
        )


def _split(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in re.split(r"[,;\s]+", value) if part.strip())


def _is_address(value: str) -> bool:
    _, address = parseaddr(value)
    return address == value and re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value) is not None


class _Reader:
    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self.problems: list[str] = []
        self.by_name = {s.name: s for s in SETTINGS}

    def raw(self, name: str) -> str:
        value = self.environ.get(name)
        if value is None or not value.strip():
            return self.by_name[name].default or ""
        return value.strip()

    def bad(self, name: str, why: str) -> None:
        self.problems.append(f"{name}: {why}; a valid value looks like {self.by_name[name].example!r}")

    def check(self, name: str, ok: Callable[[str], bool], why: str) -> str:
        value = self.raw(name)
        if not ok(value):
            self.bad(name, why if value else "is missing")
        return value

    def choice(self, name: str, choices: tuple[str, ...]) -> str:
        return self.check(name, lambda v: v in choices, f"must be one of {', '.join(choices)}")

    def read(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        values["poll_schedule"] = self.check(
            "BACKUP_POLL_SCHEDULE",
            lambda v: bool(_NCRONTAB.match(v)),
            "must be an NCRONTAB expression (six fields, seconds first)",
        )
        values["jobs_source"] = source = self.choice("BACKUP_JOBS_SOURCE", ("arm", "files", "sample"))
        files = tuple(Path(p.strip()) for p in self.raw("BACKUP_JOBS_FILES").split(",") if p.strip())
        if source == "files" and not files:
            self.bad("BACKUP_JOBS_FILES", "set it when BACKUP_JOBS_SOURCE is files")
        elif source == "files" and (missing := [str(p) for p in files if not p.is_file()]):
            self.bad("BACKUP_JOBS_FILES", f"no such file {missing[0]!r}")
        values["jobs_files"] = files
        vault_ids = _split(self.raw("BACKUP_VAULT_IDS"))
        subscriptions = _split(self.raw("BACKUP_SUBSCRIPTION_IDS"))
        if bad_vaults := [v for v in vault_ids if not _VAULT_ID.match(v)]:
            self.bad("BACKUP_VAULT_IDS", f"{len(bad_vaults)} entr(y/ies) are not vault ids, e.g. {bad_vaults[0]!r}")
        if bad_subs := [s for s in subscriptions if not _GUID.match(s)]:
            self.bad("BACKUP_SUBSCRIPTION_IDS", f"{bad_subs[0]!r} is not a subscription GUID")
        if source == "arm" and not vault_ids and not subscriptions:
            self.bad("BACKUP_VAULT_IDS", "set it or BACKUP_SUBSCRIPTION_IDS when BACKUP_JOBS_SOURCE is arm")
        values["vault_ids"], values["subscription_ids"] = vault_ids, subscriptions
        lookback = self.check(
            "BACKUP_LOOKBACK_HOURS", lambda v: v.isdigit() and 1 <= int(v) <= 720, "must be a whole number of hours, 1-720"
        )
        values["lookback_hours"] = int(lookback) if lookback.isdigit() else 24
        values.update(self._cloud())
        values.update(self._table())
        values.update(self._mail())
        values.update(self._incidents())
        values["eventgrid_topic_endpoint"] = self.check(
            "BACKUP_EVENTGRID_TOPIC_ENDPOINT", lambda v: not v or v.startswith("https://"), "must be an https:// URL"
        )
        values["client_id"] = self.check(
            "AZURE_CLIENT_ID", lambda v: not v or bool(_GUID.match(v)), "must be a client id GUID or empty"
        )
        return values

    def whole_number(self, name: str, low: int, high: int) -> int:
        value = self.check(name, lambda v: v.isdigit() and low <= int(v) <= high, f"must be a whole number, {low}-{high}")
        return int(value) if value.isdigit() and low <= int(value) <= high else low

    def _incidents(self) -> dict[str, Any]:
        hours = _split(self.raw("BACKUP_REMINDER_HOURS"))
        if not all(h.isdigit() and 0 < int(h) <= 8760 for h in hours) or [int(h) for h in hours] != sorted(
            int(h) for h in hours if h.isdigit()
        ):
            self.bad("BACKUP_REMINDER_HOURS", "must be increasing whole hours, comma-separated (or empty for no reminders)")
            hours = ()
        notices = self.raw("BACKUP_RECOVERY_NOTICES")
        workloads = {w.value for w in Workload}
        if notices.casefold() == "all":
            recovery = frozenset(workloads)
        elif notices.casefold() == "none":
            recovery = frozenset()
        else:
            named = {n.strip() for n in notices.split(",") if n.strip()}
            if unknown := sorted(named - workloads):
                self.bad("BACKUP_RECOVERY_NOTICES", f"unknown workload(s) {unknown}; known: {', '.join(sorted(workloads))}")
            recovery = frozenset(named & workloads)
        operations, unknown_kinds = parse_kinds(self.raw("BACKUP_TELL_OPERATIONS"))
        if unknown_kinds or not operations:
            kinds = ", ".join(k.value for k in OperationKind)
            self.bad(
                "BACKUP_TELL_OPERATIONS",
                f"unknown operation {unknown_kinds[0]!r}; known: all, {kinds}" if unknown_kinds else "names none",
            )
        return {
            "tell_operations": operations or frozenset(OperationKind),
            "reminder_hours": tuple(int(h) for h in hours),
            "recovery_workloads": recovery,
            "digest_threshold": self.whole_number("BACKUP_DIGEST_THRESHOLD", 1, 10_000),
            "emails_per_run": self.whole_number("BACKUP_EMAILS_PER_RUN", 1, 10_000),
            "retention_days": self.whole_number("BACKUP_RETENTION_DAYS", 1, 3650),
            "vault_concurrency": self.whole_number("BACKUP_VAULT_CONCURRENCY", 1, 32),
            "missed_grace_hours": None
            if self.raw("BACKUP_MISSED_BACKUP_GRACE_HOURS").casefold() == "off"
            else self.whole_number("BACKUP_MISSED_BACKUP_GRACE_HOURS", 0, 720),
        }

    def _cloud(self) -> dict[str, object]:
        cloud = self.raw("BACKUP_CLOUD")
        if cloud in CLOUDS:
            endpoint, scope, portal = CLOUDS[cloud]
        elif cloud.startswith("https://"):
            endpoint = cloud.rstrip("/")
            scope, portal = f"{endpoint}/.default", CLOUDS["AzureCloud"][2]
        else:
            self.bad("BACKUP_CLOUD", f"must be one of {', '.join(CLOUDS)} or an https:// Resource Manager URL")
            endpoint, scope, portal = CLOUDS["AzureCloud"]
        return {"arm_endpoint": endpoint, "arm_scope": scope, "portal_url": portal}

    def _table(self) -> dict[str, object]:
        endpoint = self.check("BACKUP_TABLE_ENDPOINT", lambda v: not v or v.startswith("https://"), "must be an https:// URL")
        connection = self.raw("BACKUP_TABLE_CONNECTION_STRING")
        if not endpoint and not connection:
            self.bad("BACKUP_TABLE_ENDPOINT", "set it (or BACKUP_TABLE_CONNECTION_STRING for Azurite)")
        name = self.check(
            "BACKUP_TABLE_NAME", lambda v: bool(_TABLE_NAME.match(v)), "must be 3-63 letters and digits, starting with a letter"
        )
        return {"table_endpoint": endpoint, "table_connection_string": connection, "table_name": name}

    def _mail(self) -> dict[str, object]:
        mailer = self.choice("BACKUP_MAILER", ("acs", "outbox"))
        outbox = self.raw("BACKUP_OUTBOX_DIR")
        endpoint = self.check("BACKUP_ACS_ENDPOINT", lambda v: not v or v.startswith("https://"), "must be an https:// URL")
        connection = self.raw("BACKUP_ACS_CONNECTION_STRING")
        if connection and not re.search(r"endpoint=https?://[^;]+;.*accesskey=", connection, re.IGNORECASE):
            self.problems.append(
                "BACKUP_ACS_CONNECTION_STRING: is not an ACS connection string; "
                "a valid value looks like 'endpoint=https://<resource>.communication.azure.com/;accesskey=<key>'"
            )
        if mailer == "acs" and not endpoint and not connection:
            self.bad("BACKUP_ACS_ENDPOINT", "set it when BACKUP_MAILER is acs")
        sender = self.raw("BACKUP_MAIL_SENDER")
        if mailer == "acs" and not _is_address(sender):
            self.bad("BACKUP_MAIL_SENDER", "must be one email address" if sender else "is missing")
        recipients = _split(self.raw("BACKUP_MAIL_RECIPIENTS"))
        if not recipients:
            self.bad("BACKUP_MAIL_RECIPIENTS", "is missing")
        elif bad := [r for r in recipients if not _is_address(r)]:
            self.bad("BACKUP_MAIL_RECIPIENTS", f"{len(bad)} entr(y/ies) are not email addresses")
        elif len(recipients) > 50:
            self.bad("BACKUP_MAIL_RECIPIENTS", "ACS takes at most 50 recipients per email")
        routes, route_problems = parse_routes(self.raw("BACKUP_ROUTES"))
        for problem in route_problems:
            self.bad("BACKUP_ROUTES", problem)
        route_tag = self.check(
            "BACKUP_ROUTE_TAG", lambda v: not v or re.fullmatch(r"[^<>%&\\?/]{1,512}", v) is not None, "must be a tag name"
        )
        return {
            "routes": routes,
            "route_tag": route_tag,
            "mailer": mailer,
            "outbox_dir": Path(outbox),
            "acs_endpoint": endpoint,
            "acs_connection_string": connection,
            "mail_sender": sender or "backup-events@localhost.invalid",
            "mail_recipients": recipients,
        }
