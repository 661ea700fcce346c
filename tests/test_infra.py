"""The deployment (infra/, azure.yaml, scripts/) checked without Azure and without a Bicep compiler.

No Bicep compiler can be installed on the project's machines, so these tests stand in for what it would catch
cheaply: checkov parses every file and runs its security checks (a parse error does not fail checkov, so it is
asserted), module and parameter names are cross-checked, the app settings are compared with
``backup_events.settings``, and the files are searched for anything that looks like a key. The operator still runs
``az bicep build`` before deploying (infra/README.md).

checkov cannot share the project's virtualenv: it pins ``packaging<24`` while pytest 9 needs ``packaging>=24``. It
gets its own virtualenv, outside the repository (so ruff, git and the Functions package never see it), created on
first use; nothing here skips when it is missing.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from backup_events import settings

ROOT = Path(__file__).resolve().parent.parent
INFRA = ROOT / "infra"
SCRIPTS = ROOT / "scripts"
FUNCTION_APP_BICEP = INFRA / "app" / "function-app.bicep"
MAIN_BICEP = INFRA / "main.bicep"

CHECKOV_VERSION = "3.3.30"
CHECKOV_VENV = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "backup-events" / f"checkov-{CHECKOV_VERSION}"

# Built-in roles the deployment may assign, by id (https://learn.microsoft.com/azure/role-based-access-control/built-in-roles).
BUILT_IN_ROLES = {
    "a795c7a0-d4a2-40c1-ae25-d81f01202912": "Backup Reader",
    "b7e6dc6d-f1e8-4753-8033-0f276bb0955b": "Storage Blob Data Owner",
    "ba92f5b4-2d11-453d-a403-e96b0029c9fe": "Storage Blob Data Contributor",
    "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3": "Storage Table Data Contributor",
    "3913510d-42f4-4e42-8a64-420c390055eb": "Monitoring Metrics Publisher",
    "d5a91429-5739-47e2-a06b-3470a27159e7": "EventGrid Data Sender",
    "09976791-48a7-449e-bb21-39d1a415f350": "Communication and Email Service Owner",
}
# Broad roles that must never appear: Owner, Contributor, Reader, User Access Administrator, Storage Queue Data Contributor
# (no queue is used: HTTP, timer and Event Grid triggers need none).
FORBIDDEN_ROLES = {
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": "Owner",
    "b24988ac-6180-42a0-ab88-20f7382dd24c": "Contributor",
    "acdd72a7-4e5e-48ef-bd42-f606fba81ae7": "Reader",
    "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9": "User Access Administrator",
    "974c5e8b-45b9-4653-ba55-5f855dd0fb88": "Storage Queue Data Contributor",
}
# The email role is a parameter: the custom sender role or the built-in owner role (main.bicep, useCustomEmailSenderRole).
EMAIL_ROLE_NAMES = ("ACS email sender", "Communication and Email Service Owner")
# Backup vaults are read with a custom role (main.bicep, backupVaultReaderRole): Backup Reader cannot list their jobs.
BACKUP_VAULT_ROLE_NAME = "Backup vault reader"


# --- A small Bicep reader: comments and string contents blanked out, offsets kept --------------------------------


def _views(text: str) -> tuple[str, str]:
    """Two copies of ``text`` with the same offsets: comments blanked (``code``), and strings blanked too (``skeleton``).

    Handles ``//`` and ``/* */`` comments, ``'...'`` strings with ``\\'`` escapes and ``${...}`` interpolation (which may
    itself hold strings), so braces and ``//`` inside strings neither open blocks nor start comments.
    """
    code, skeleton = list(text), list(text)
    stack: list[str] = ["code"]  # "code" | "string"; an interpolation pushes "code" onto a string
    depth: list[int] = []  # brace depth inside each open interpolation
    i = 0
    while i < len(text):
        c, pair = text[i], text[i : i + 2]
        if stack[-1] == "code":
            if pair == "//":
                end = text.find("\n", i)
                end = len(text) if end < 0 else end
                for j in range(i, end):
                    code[j] = skeleton[j] = " "
                i = end
                continue
            if pair == "/*":
                end = text.find("*/", i + 2)
                end = len(text) if end < 0 else end + 2
                for j in range(i, end):
                    if text[j] != "\n":
                        code[j] = skeleton[j] = " "
                i = end
                continue
            if c == "'":
                stack.append("string")
            elif depth and c == "{":
                depth[-1] += 1
            elif depth and c == "}":
                if depth[-1] == 0:
                    depth.pop()
                    stack.pop()  # back into the string
                    skeleton[i] = " "
                else:
                    depth[-1] -= 1
            i += 1
            continue
        # inside a string
        if c == "\\":
            skeleton[i] = " "
            if i + 1 < len(text):
                skeleton[i + 1] = " "
            i += 2
            continue
        if pair == "${":
            skeleton[i] = skeleton[i + 1] = " "
            stack.append("code")
            depth.append(0)
            i += 2
            continue
        if c == "'":
            stack.pop()
        elif c != "\n":
            skeleton[i] = " "
        i += 1
    return "".join(code), "".join(skeleton)


class Bicep:
    """One Bicep file: its text, comment-free code, and a skeleton for matching brackets."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.text = path.read_text(encoding="utf-8")
        self.code, self.skeleton = _views(self.text)

    def block(self, start: int) -> tuple[int, int]:
        """The span of the bracketed block that opens at the first ``{`` or ``[`` at or after ``start``."""
        opening = re.compile(r"[{\[]").search(self.skeleton, start)
        assert opening is not None, f"{self.path.name}: no block after offset {start}"
        pairs = {"{": "}", "[": "]"}
        stack = []
        for i in range(opening.start(), len(self.skeleton)):
            c = self.skeleton[i]
            if c in pairs:
                stack.append(pairs[c])
            elif c in ("}", "]"):
                assert stack and stack.pop() == c, f"{self.path.name}: unbalanced {c!r} at offset {i}"
                if not stack:
                    return opening.start(), i + 1
        raise AssertionError(f"{self.path.name}: block at offset {opening.start()} never closes")

    def top_level_keys(self, span: tuple[int, int]) -> list[str]:
        """Keys of the object literal in ``span`` (not of objects nested in it)."""
        keys, level = [], 0
        start, end = span
        for match in re.finditer(r"[{}\[\]()]|^\s*('?[\w-]+'?)\s*:", self.skeleton[start:end], re.M):
            token = match.group(0)
            if token in "{[(":
                level += 1
            elif token in "}])":
                level -= 1
            elif level == 1:
                keys.append(self.code[start + match.start(1) : start + match.end(1)].strip("'"))
        return keys

    def params(self) -> dict[str, bool]:
        """Parameter names, each with whether it has a default."""
        return {m.group(1): m.group(2) is not None for m in re.finditer(r"^param (\w+) \w+( =.*)?$", self.code, re.M)}

    def outputs(self) -> set[str]:
        return set(re.findall(r"^output (\w+) ", self.code, re.M))

    def comment_above(self, offset: int) -> str:
        """The run of ``//`` comment lines right above the line at ``offset``."""
        lines = self.text[: self.text.rfind("\n", 0, offset) + 1].splitlines()
        comment: list[str] = []
        for line in reversed(lines):
            if not line.strip().startswith("//") or "checkov:skip" in line:
                break
            comment.insert(0, line.strip().lstrip("/").strip())
        return " ".join(comment)


BICEP = {path.relative_to(INFRA).as_posix(): Bicep(path) for path in sorted(INFRA.rglob("*.bicep"))}


def test_the_deployment_is_where_the_tests_look() -> None:
    assert set(BICEP) >= {
        "main.bicep",
        "app/function-app.bicep",
        "app/rbac.bicep",
        "app/vault-access.bicep",
        "app/event-subscription.bicep",
        "app/alert-routing.bicep",
    }
    assert (INFRA / "main.parameters.json").is_file() and (INFRA / "abbreviations.json").is_file()
    assert (SCRIPTS / "postdeploy.sh").is_file() and (ROOT / "azure.yaml").is_file()


# --- 1. checkov ---------------------------------------------------------------------------------------------------


# checkov reaches its vendor unless told not to: --skip-download (its policy mappings, also BC_SKIP_MAPPING) and
# CKV_SKIP_PACKAGE_UPDATE_CHECK (it otherwise asks PyPI for a newer checkov on every run).
CHECKOV_OFFLINE = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true"}


def _checkov() -> Path:
    """checkov in its own virtualenv, created on first use. Any failure here fails the test: nothing skips."""
    bindir = CHECKOV_VENV / ("Scripts" if os.name == "nt" else "bin")
    python, checkov = bindir / "python", bindir / "checkov"
    probe = [str(python), "-c", f"import checkov.version as v; assert v.version == {CHECKOV_VERSION!r}, v.version"]
    if not python.exists() or subprocess.run(probe, capture_output=True, check=False).returncode != 0:
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(CHECKOV_VENV)], check=True, timeout=300)
        install = subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", f"checkov=={CHECKOV_VERSION}"],
            capture_output=True,
            text=True,
            check=False,
            timeout=900,
        )
        assert install.returncode == 0, f"could not install checkov {CHECKOV_VERSION}:\n{install.stdout}{install.stderr}"
    imported = subprocess.run(probe, capture_output=True, text=True, check=False)
    assert imported.returncode == 0, f"checkov {CHECKOV_VERSION} is not importable in {CHECKOV_VENV}:\n{imported.stderr}"
    return checkov


# Files that use the Microsoft Graph Bicep extension. checkov's Bicep parser (pycep 0.5.1, pinned by checkov) predates
# the `extension` statement and counts such a file as a parsing error; checkov also has no check for Microsoft.Graph
# resources. They are passed to --skip-path, and only if they hold nothing but Graph resources, so that no Azure
# resource escapes checkov. tests/test_bicep_types.py still parses them (extension line blanked) and type-checks them.
_GRAPH_ONLY = re.compile(r"^resource \w+ '(?!Microsoft\.Graph/)", re.M)


def _graph_extension_files() -> list[str]:
    files = [name for name, bicep in BICEP.items() if re.search(r"^extension microsoftGraphV1$", bicep.code, re.M)]
    for name in files:
        assert not _GRAPH_ONLY.search(BICEP[name].code), f"{name}: keep Azure resources out of the Graph-extension file"
        assert not re.search(r"^module ", BICEP[name].code, re.M), f"{name}: no modules in the Graph-extension file"
    return files


def test_checkov_parses_every_bicep_file_and_finds_nothing() -> None:
    skip_paths = [arg for name in _graph_extension_files() for arg in ("--skip-path", re.escape(f"infra/{name}") + "$")]
    assert skip_paths == ["--skip-path", r"infra/app/relay\-app\-registration\.bicep$"], skip_paths
    result = subprocess.run(
        [str(_checkov()), "-d", "infra", "--framework", "bicep", "--compact", "--quiet", "--skip-download", *skip_paths],
        cwd=ROOT,
        env=CHECKOV_OFFLINE,
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    summary = re.search(r"Passed checks: (\d+), Failed checks: (\d+), Skipped checks: (\d+)(?:, Parsing errors: (\d+))?", output)
    assert summary is not None, f"no checkov summary in:\n{output}"
    passed, failed, skipped, parsing_errors = (int(n or 0) for n in summary.groups())
    # A Bicep syntax error does not fail checkov: it only counts it here.
    assert parsing_errors == 0, output
    assert failed == 0, output
    assert passed > 0, f"checkov scanned nothing:\n{output}"
    assert skipped == len(_checkov_skips()), output


def _checkov_skips() -> list[tuple[str, str, str]]:
    return [
        (name, m.group(1), m.group(2).strip())
        for name, bicep in BICEP.items()
        for m in re.finditer(r"//\s*checkov:skip=(CKV\d?_[A-Z]+_\d+)(?::(.*))?$", bicep.text, re.M)
        if m.group(2) is not None
    ] + [
        (name, m.group(1), "")
        for name, bicep in BICEP.items()
        for m in re.finditer(r"//\s*checkov:skip=(CKV\d?_[A-Z]+_\d+)\s*$", bicep.text, re.M)
    ]


def test_every_checkov_skip_says_why() -> None:
    skips = _checkov_skips()
    assert skips, "expected the documented skips (no VNet, LRS, ...)"
    for name, check, reason in skips:
        assert len(reason.split()) >= 8, f"{name}: skip of {check} needs a reason that says why: {reason!r}"


# --- 2. App settings against backup_events.settings --------------------------------------------------------------


def _app_settings() -> dict[str, str]:
    """The site's app settings as name -> Bicep value expression, from the one ``appSettings: [...]`` block."""
    owners = [name for name, b in BICEP.items() if re.search(r"\bappSettings\s*:", b.code)]
    assert owners == ["app/function-app.bicep"], f"app settings must be set in one place only, found in {owners}"
    assert not any("Microsoft.Web/sites/config" in b.code for b in BICEP.values()), "settings also set by a config resource"
    bicep = BICEP["app/function-app.bicep"]
    opening = re.search(r"\bappSettings\s*:", bicep.code)
    assert opening is not None
    start, end = bicep.block(opening.end())
    pairs, cursor = [], start + 1
    while (entry := re.compile(r"\{").search(bicep.skeleton, cursor, end)) is not None:
        entry_start, entry_end = bicep.block(entry.start())
        text = bicep.code[entry_start + 1 : entry_end - 1].strip()
        setting = re.fullmatch(r"name:\s*'([^']+)'\s+value:\s*(.+)", text, re.S)
        assert setting is not None, f"an app setting the regex did not read: {text!r}"
        pairs.append((setting.group(1), setting.group(2).strip()))
        cursor = entry_end
    assert len(pairs) == bicep.code[start:end].count("name:"), "an app setting outside a { name, value } entry"
    names = [name for name, _ in pairs]
    assert len(names) == len(set(names)), f"duplicate app settings: {names}"
    return dict(pairs)


# Settings read by the Functions host or the Python worker, not by backup_events (each documented by Microsoft).
HOST_SETTINGS = {
    "AzureWebJobsStorage__credential",
    "AzureWebJobsStorage__clientId",
    "AzureWebJobsStorage__blobServiceUri",
    "AzureWebJobsStorage__queueServiceUri",
    "AzureWebJobsStorage__tableServiceUri",
    "APPLICATIONINSIGHTS_CONNECTION_STRING",
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
    "PYTHON_ISOLATE_WORKER_DEPENDENCIES",
}


def test_app_settings_are_the_ones_the_code_reads() -> None:
    app = _app_settings()
    unknown = set(app) - set(settings.NAMES) - HOST_SETTINGS
    assert not unknown, f"set in Bicep but unknown to backup_events.settings and to the host: {unknown}"
    ours = {name for name in app if name.startswith("BACKUP_") or name == "AZURE_CLIENT_ID"}
    assert ours <= set(settings.NAMES), f"set in Bicep but unknown to backup_events.settings: {ours - set(settings.NAMES)}"
    required = {
        "BACKUP_TABLE_ENDPOINT",
        "BACKUP_ACS_ENDPOINT",
        "BACKUP_MAIL_SENDER",
        "BACKUP_MAIL_RECIPIENTS",
        "BACKUP_EVENTGRID_TOPIC_ENDPOINT",
        "BACKUP_RELAY_AUDIENCE",
        "BACKUP_RELAY_TENANT_ID",
        "AZURE_CLIENT_ID",
    }
    assert required <= set(app), f"missing: {required - set(app)}"
    assert "BACKUP_VAULT_IDS" in app or "BACKUP_SUBSCRIPTION_IDS" in app
    assert app["BACKUP_JOBS_SOURCE"] == "'arm'"
    assert app["BACKUP_MAILER"] == "'acs'"
    # The relay's audience and issuer: the identifier URI of the app registration main.bicep creates, and tenant().
    assert app["BACKUP_RELAY_AUDIENCE"] == "relayAudience"
    assert app["BACKUP_RELAY_TENANT_ID"] == "relayTenantId"
    assert "param relayTenantId string = tenant().tenantId" in BICEP["app/function-app.bicep"].code
    main = BICEP["main.bicep"].code
    assert "relayAudience: relayApp.outputs.identifierUri" in main and "relayTenantId: tenant().tenantId" in main


def test_local_only_settings_are_never_deployed() -> None:
    app = _app_settings()
    for name in ("BACKUP_TABLE_CONNECTION_STRING", "BACKUP_ACS_CONNECTION_STRING", "BACKUP_OUTBOX_DIR"):
        assert name not in app
        for path, bicep in BICEP.items():
            assert name not in bicep.code, f"{path} sets {name}"


def test_host_storage_and_telemetry_use_the_managed_identity() -> None:
    app = _app_settings()
    assert app["AzureWebJobsStorage__credential"] == "'managedidentity'"
    assert app["AzureWebJobsStorage__clientId"] == app["AZURE_CLIENT_ID"] == "identityClientId"
    assert "AzureWebJobsStorage__blobServiceUri" in app
    assert "AzureWebJobsStorage" not in app, "a plain AzureWebJobsStorage is a connection string"
    assert app["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"] == "'ClientId=${identityClientId};Authorization=AAD'"
    assert app["PYTHON_ISOLATE_WORKER_DEPENDENCIES"] == "'1'"
    # Flex Consumption takes the runtime from functionAppConfig and rejects these.
    assert not {"FUNCTIONS_WORKER_RUNTIME", "FUNCTIONS_EXTENSION_VERSION", "WEBSITE_RUN_FROM_PACKAGE"} & set(app)


@pytest.mark.parametrize(
    ("path", "settings_that_must_be_there"),
    [
        (
            "app/storage.bicep",
            (
                "allowSharedKeyAccess: false",
                "allowBlobPublicAccess: false",
                "minimumTlsVersion: 'TLS1_2'",
                "supportsHttpsTrafficOnly: true",
                "defaultToOAuthAuthentication: true",
            ),
        ),
        ("app/monitoring.bicep", ("DisableLocalAuth: true",)),
        (
            "app/eventgrid-topic.bicep",
            ("disableLocalAuth: true", "inputSchema: 'CloudEventSchemaV1_0'", "minimumTlsVersionAllowed: '1.2'"),
        ),
        (
            "app/function-app.bicep",
            (
                "httpsOnly: true",
                "minTlsVersion: '1.2'",
                "scmMinTlsVersion: '1.2'",
                "ftpsState: 'Disabled'",
                "kind: 'functionapp,linux'",
                "name: 'FC1'",
                "tier: 'FlexConsumption'",
                "type: 'UserAssignedIdentity'",
                "name: 'python'",
                "version: '3.11'",
            ),
        ),
        (
            "app/event-subscription.bicep",
            (
                "endpointType: 'AzureFunction'",
                "resourceId: '${site.id}/functions/on_backup_alert'",
                "maxEventsPerBatch: 1",
                "maxDeliveryAttempts: 30",
                "eventTimeToLiveInMinutes: 1440",
                "deadLetterWithResourceIdentity: {",
            ),
        ),
        (
            "app/alert-routing.bicep",
            (
                "useCommonAlertSchema: true",
                "actionType: 'AddActionGroups'",
                "useAadAuth: true",
                "objectId: relayAppObjectId",
                "identifierUri: relayIdentifierUri",
                "tenantId: tenant().tenantId",
            ),
        ),
    ],
)
def test_secure_defaults_checkov_does_not_check(path: str, settings_that_must_be_there: tuple[str, ...]) -> None:
    code = BICEP[path].code
    for setting in settings_that_must_be_there:
        assert setting in code, f"{path}: {setting}"


# --- 3. No secrets -----------------------------------------------------------------------------------------------

SECRET_PATTERNS = {
    "storage account key (connection string)": (r"AccountKey\s*=", "DefaultEndpointsProtocol=https;AccountKey=abc"),
    "storage connection string": (r"DefaultEndpointsProtocol\s*=", "DefaultEndpointsProtocol=https;AccountName=x"),
    "ACS access key (connection string)": (r"accesskey\s*=", "endpoint=https://x.communication.azure.com/;accesskey=abc"),
    "Service Bus / Event Hubs key": (r"SharedAccessKey", "Endpoint=sb://x/;SharedAccessKeyName=a;SharedAccessKey=b"),
    "Event Grid access key header": (r"aeg-sas-(key|token)", "aeg-sas-key: abc"),
    "SAS signature": (r"[?&]sig=", "https://x.blob.core.windows.net/c?sv=1&sig=abc"),
    "instrumentation-key setting": (r"APPINSIGHTS_INSTRUMENTATIONKEY", "APPINSIGHTS_INSTRUMENTATIONKEY"),
    "key or SAS listing": (r"\b(listConnectionStrings|listAccountSas|listServiceSas|regenerateKey)\s*\(", "listAccountSas("),
    "literal function key in a URL": (r"[?&]code=(?![$<{])", "https://x.azurewebsites.net/api/alerts?code=abc123"),
}
# The hook never handles a key itself: alert-routing.bicep reads it inside Resource Manager.
SCRIPT_PATTERNS = {
    "function key fetched by the hook": (
        r"keys\s+list|listKeys|functionKeys|masterKey|/host/default",
        "az functionapp keys list",
    ),
}
_BASE64_RUN = re.compile(r"[A-Za-z0-9+/]{40,}={0,2}")


def _key_like(text: str) -> list[str]:
    """Runs of 40+ base64 characters mixing upper case, lower case and digits: what a key or a token looks like."""
    return [
        run
        for run in _BASE64_RUN.findall(text)
        if re.search(r"[A-Z]", run) and re.search(r"[a-z]", run) and len(re.findall(r"\d", run)) >= 3
    ]


def _scanned_files() -> list[Path]:
    files = [p for p in INFRA.rglob("*") if p.is_file()] + [p for p in SCRIPTS.rglob("*") if p.is_file()]
    return sorted(files) + [ROOT / "azure.yaml", ROOT / "local.settings.sample.json"]


@pytest.mark.parametrize("label", sorted(SECRET_PATTERNS | SCRIPT_PATTERNS))
def test_each_secret_pattern_catches_what_it_is_for(label: str) -> None:
    pattern, example = (SECRET_PATTERNS | SCRIPT_PATTERNS)[label]
    assert re.search(pattern, example, re.I), label


def test_key_detector_catches_a_key() -> None:
    assert _key_like(base64.b64encode(bytes(range(7, 71))).decode())
    assert not _key_like("Microsoft.RecoveryServices/Vaults/backupJobs/operationResults/read")


def test_no_secret_looking_value_in_the_deployment() -> None:
    found = []
    for path in _scanned_files():
        text = path.read_text(encoding="utf-8")
        name = path.relative_to(ROOT).as_posix()
        found += [f"{name}: {label}" for label, (pattern, _) in SECRET_PATTERNS.items() if re.search(pattern, text, re.I)]
        found += [f"{name}: key-like literal {run[:8]}..." for run in _key_like(text)]
        if name.startswith("scripts/") or name == "azure.yaml":
            found += [f"{name}: {label}" for label, (pattern, _) in SCRIPT_PATTERNS.items() if re.search(pattern, text, re.I)]
    assert not found, "\n".join(found)


def test_list_keys_is_used_only_for_the_relay_function_key() -> None:
    calls = []
    for path, bicep in BICEP.items():
        for match in re.finditer(r"listKeys\s*\(", bicep.code, re.I):
            start, end = _call_span(bicep, match.end() - 1)
            calls.append((path, bicep.code[start:end]))
    assert calls, "expected the relay key to be read with listKeys in alert-routing.bicep"
    for path, arguments in calls:
        assert path == "app/alert-routing.bicep", f"listKeys in {path}: {arguments}"
        assert "resourceId('Microsoft.Web/sites/functions', functionAppName, 'relay_backup_alert')" in arguments, arguments
    for path, bicep in BICEP.items():
        assert not re.search(r"\.\s*listKeys\s*\(", bicep.code), f"{path} lists the keys of a resource symbol"
        for line in bicep.code.splitlines():
            if re.search(r"connection_?string", line, re.I):
                assert not re.search(r"key|secret|password", line, re.I), f"{path}: {line.strip()}"


def _call_span(bicep: Bicep, open_paren: int) -> tuple[int, int]:
    level = 0
    for i in range(open_paren, len(bicep.skeleton)):
        level += {"(": 1, ")": -1}.get(bicep.skeleton[i], 0)
        if level == 0:
            return open_paren, i + 1
    raise AssertionError(f"{bicep.path.name}: call at {open_paren} never closes")


def test_no_output_carries_a_secret() -> None:
    for path, bicep in BICEP.items():
        for line in re.findall(r"^output .*$", bicep.code, re.M):
            assert not re.search(r"key|secret|password|connectionstring|list\w*\(", line, re.I), f"{path}: {line}"


# --- 4. Role assignments -----------------------------------------------------------------------------------------

_ASSIGNMENT = re.compile(r"^resource (\w+) 'Microsoft\.Authorization/roleAssignments@([\w-]+)' = (if \((.+?)\) )?\{", re.M)
_ROLE_VAR = re.compile(
    r"^var (\w+) = subscriptionResourceId\('Microsoft\.Authorization/roleDefinitions', '([0-9a-f-]{36})'\)$", re.M
)


def _assignments() -> list[tuple[str, Bicep, re.Match[str], str]]:
    found = []
    for path, bicep in BICEP.items():
        for match in _ASSIGNMENT.finditer(bicep.code):
            start, end = bicep.block(match.end() - 1)
            found.append((path, bicep, match, bicep.code[start:end]))
    return found


def test_role_ids_are_named_and_linked() -> None:
    for path, bicep in BICEP.items():
        for match in _ROLE_VAR.finditer(bicep.code):
            role = match.group(2)
            assert role not in FORBIDDEN_ROLES, f"{path}: {FORBIDDEN_ROLES.get(role)} is too broad"
            assert role in BUILT_IN_ROLES, f"{path}: unknown role id {role}"
            comment = bicep.comment_above(match.start())
            assert comment.startswith(BUILT_IN_ROLES[role] + ":"), f"{path}: {match.group(1)} needs '// <role name>: <link>'"
            assert "https://learn.microsoft.com/azure/role-based-access-control/built-in-roles" in comment
        for role, name in FORBIDDEN_ROLES.items():
            assert role not in bicep.code, f"{path} uses {name}"


def test_every_role_assignment_is_narrow_named_and_explained() -> None:
    assignments = _assignments()
    assert len(assignments) >= 8
    for path, bicep, match, block in assignments:
        symbol, api, condition = match.group(1), match.group(2), match.group(4)
        where = f"{path}: {symbol}"
        assert not api.endswith("-preview"), f"{where} uses a preview API ({api})"
        principal_type = re.search(r"principalType: '(\w+)'", block)
        assert principal_type is not None, f"{where} has no principalType"
        role = re.search(r"roleDefinitionId: (\w+)", block)
        principal = re.search(r"principalId: (\w+)", block)
        scope = re.search(r"scope: (\w+)", block)
        assert role and principal, f"{where}: roleDefinitionId and principalId must be plain names"
        scope_id = f"{scope.group(1)}.id" if scope else "subscription().id"
        if not scope:
            assert re.search(r"^targetScope = 'subscription'$", bicep.code, re.M), f"{where} has no scope"
        expected_name = f"name: guid({scope_id}, {principal.group(1)}, {role.group(1)})"
        assert expected_name in block, f"{where}: name must be guid(scope, principal, role): {expected_name}"
        comment = bicep.comment_above(match.start())
        role_vars = {m.group(1): m.group(2) for m in _ROLE_VAR.finditer(bicep.code)}
        if role.group(1) in role_vars:
            role_name = BUILT_IN_ROLES[role_vars[role.group(1)]]
            assert role_name in comment, f"{where}: the comment above must name {role_name!r}: {comment!r}"
        elif BACKUP_VAULT_ROLE_NAME in comment:  # the custom Backup vault reader role, passed in from main.bicep
            assert role.group(1) in bicep.params(), f"{where}: {role.group(1)} is neither a named role nor a parameter"
        else:  # the email role is a parameter: either role may be in use
            assert role.group(1) in bicep.params(), f"{where}: {role.group(1)} is neither a named role nor a parameter"
            assert all(name in comment for name in EMAIL_ROLE_NAMES), f"{where}: name both email roles: {comment!r}"
        if principal_type.group(1) == "ServicePrincipal":
            assert condition is None, f"{where}: app roles are unconditional"
        else:
            assert principal_type.group(1) == "User", where
            expected_condition = f"assignDeveloperRoles && !empty({principal.group(1)})"
            assert condition == expected_condition, f"{where}: a user role must be gated on the bool and the principal id"
            assert comment.startswith("DEV ONLY."), f"{where}: a user role must be documented as dev-only"


def test_backup_reader_is_granted_per_vault_and_per_watched_subscription() -> None:
    main = BICEP["main.bicep"]
    assert re.search(r"module \w+ 'app/vault-access\.bicep' = \[\s*for \(vaultId, i\) in vaultIds:", main.code)
    assert re.search(
        r"module \w+ 'app/subscription-access\.bicep' = \[\s*for \(subscriptionId, i\) in watchedSubscriptions:", main.code
    )
    for path in ("app/vault-access.bicep", "app/subscription-access.bicep"):
        assert "a795c7a0-d4a2-40c1-ae25-d81f01202912" in BICEP[path].code


def test_backup_vaults_are_read_with_a_custom_role_of_reads_only() -> None:
    main = BICEP["main.bicep"].code
    role = re.search(r"resource backupVaultReaderRole 'Microsoft\.Authorization/roleDefinitions@[^']+' = \{(.*?)\n\}", main, re.S)
    assert role is not None
    actions = re.findall(r"'(Microsoft\.DataProtection/[^']+)'", role.group(1))
    assert "Microsoft.DataProtection/backupVaults/backupJobs/read" in actions
    assert actions and all(action.endswith("/read") for action in actions), "the Backup vault role only reads"
    assert "assignableScopes: backupVaultRoleScopes" in role.group(1)
    assert re.search(r"module \w+ 'app/backup-vault-access\.bicep' = \[\s*for \(backupVaultId, i\) in backupVaultIds:", main)
    assert "backupVaultReaderRoleId: backupVaultReaderRole.id" in main
    access = BICEP["app/backup-vault-access.bicep"].code
    assert "scope: vault" in access and "resource vault 'Microsoft.DataProtection/backupVaults@" in access
    assert "roleDefinitionId: backupVaultReaderRoleId" in BICEP["app/subscription-access.bicep"].code
    # Both kinds of vault reach the app in one setting (BACKUP_VAULT_IDS).
    assert "vaultIds: join(concat(vaultIds, backupVaultIds), ',')" in main


def test_subscriptions_get_backup_reader_only_when_their_vaults_are_discovered() -> None:
    main = BICEP["main.bicep"].code
    # vaultIds given: only the listed vaults, plus any subscription the operator names; neither given: this subscription.
    assert (
        "var watchedSubscriptions = empty(vaultIds) && empty(backupVaultIds) && empty(watchedSubscriptionIds)"
        " ? [subscription().subscriptionId] : watchedSubscriptionIds" in main
    )
    vault = BICEP["app/vault-access.bicep"].code
    assert "scope: vault" in vault and "resource vault 'Microsoft.RecoveryServices/vaults@" in vault
    assert "targetScope = 'subscription'" in BICEP["app/subscription-access.bicep"].code


# Where each storage role may be assigned: a container or the table, never the storage account.
STORAGE_ROLE_SCOPES = {
    "storageBlobDataOwner": {"hostsContainer", "secretsContainer"},
    "storageBlobDataContributor": {"deploymentContainer", "deadLetterContainer"},
    "storageTableDataContributor": {"table"},
}


def test_storage_roles_are_scoped_to_containers_and_the_table() -> None:
    seen: dict[str, set[str]] = {role: set() for role in STORAGE_ROLE_SCOPES}
    for path, _bicep, match, block in _assignments():
        role = re.search(r"roleDefinitionId: (\w+)", block)
        scope = re.search(r"scope: (\w+)", block)
        assert role is not None
        if role.group(1) in STORAGE_ROLE_SCOPES:
            assert path == "app/rbac.bicep", f"{path}: storage roles belong in rbac.bicep"
            assert scope is not None and scope.group(1) in STORAGE_ROLE_SCOPES[role.group(1)], f"{match.group(1)}: {block}"
            seen[role.group(1)].add(scope.group(1))
        assert not (scope and scope.group(1) == "storage"), f"{path}: {match.group(1)} is assigned on the whole account"
    assert seen == STORAGE_ROLE_SCOPES, seen
    rbac, storage = BICEP["app/rbac.bicep"].code, BICEP["app/storage.bicep"].code
    for symbol, parent, name in (
        ("hostsContainer", "blobService", "'azure-webjobs-hosts'"),
        ("secretsContainer", "blobService", "'azure-webjobs-secrets'"),
        ("deploymentContainer", "blobService", "deploymentContainerName"),
        ("deadLetterContainer", "blobService", "deadLetterContainerName"),
        ("table", "tableService", "tableName"),
    ):
        kind = "tableServices/tables" if symbol == "table" else "blobServices/containers"
        declared = (
            rf"resource {symbol} 'Microsoft\.Storage/storageAccounts/{kind}@[\w-]+' existing = "
            rf"\{{\s*parent: {parent}\s*name: {name}\s*\}}"
        )
        assert re.search(declared, rbac), f"rbac.bicep: {symbol} must be the existing {name}"
        if name.startswith("'"):  # the host's fixed names: storage.bicep creates them
            assert f"name: {name}" in storage, f"storage.bicep must create {name}"


def test_the_email_role_only_sends() -> None:
    main = BICEP["main.bicep"]
    start, end = main.block(main.code.index("resource emailSenderRole 'Microsoft.Authorization/roleDefinitions@"))
    role = main.code[start:end]
    actions = re.findall(r"'(Microsoft\.[^']+)'", role[role.index("actions: [") : role.index("notActions")])
    # The actions Microsoft documents for sending with Entra ID (SMTP authentication guide): no list or regenerate keys,
    # no delete, no wildcard, no data action.
    assert actions == [
        "Microsoft.Communication/CommunicationServices/Read",
        "Microsoft.Communication/CommunicationServices/Write",
        "Microsoft.Communication/EmailServices/write",
    ], actions
    assert "dataActions: []" in role and "notDataActions: []" in role
    assert not re.search(r"\*|ListKeys|RegenerateKey|delete", role, re.I), role
    assert "assignableScopes: [\n      rg.id\n    ]" in role


def test_developer_roles_are_off_unless_asked_for() -> None:
    main = BICEP["main.bicep"].code
    assert re.search(r"^param assignDeveloperRoles bool = false$", main, re.M)
    assert "developerPrincipalId: assignDeveloperRoles ? principalId : ''" in main
    assert "assignDeveloperRoles: assignDeveloperRoles" in main
    assert re.search(r"^param assignDeveloperRoles bool = false$", BICEP["app/rbac.bicep"].code, re.M)
    parameters = json.loads((INFRA / "main.parameters.json").read_text(encoding="utf-8"))["parameters"]
    assert parameters.get("assignDeveloperRoles", {"value": False})["value"] is False


# --- Entra-authenticated webhook ---------------------------------------------------------------------------------

ACTION_GROUPS_APP_ID = "461e8683-5575-4561-ac7f-899cc907d62a"  # Azure Monitor action groups' first-party app


def test_the_relay_app_registration_lets_only_action_groups_in() -> None:
    registration = BICEP["app/relay-app-registration.bicep"].code
    assert re.search(r"^extension microsoftGraphV1$", registration, re.M)
    config = json.loads(re.sub(r"^\s*//.*$", "", (INFRA / "bicepconfig.json").read_text(encoding="utf-8"), flags=re.M))
    assert config["extensions"]["microsoftGraphV1"] == "br:mcr.microsoft.com/bicep/extensions/microsoftgraph/v1.0:1.0.0"
    assert f"var actionGroupsAppId = '{ACTION_GROUPS_APP_ID}'" in BICEP["app/relay-app-registration.bicep"].text
    assert "var appRoleValue = 'ActionGroupsSecureWebhook'" in registration
    app = registration[slice(*BICEP["app/relay-app-registration.bicep"].block(registration.index("resource relayApp ")))]
    assert "signInAudience: 'AzureADMyOrg'" in app and "identifierUris: [\n    identifierUri\n  ]" in app
    assert re.search(r"appRoles: \[\s*\{\s*id: appRoleId\s*value: appRoleValue", app)
    assert re.search(r"allowedMemberTypes: \[\s*'Application'\s*\]", app), "the role is for applications only"
    assert not re.search(r"passwordCredentials|keyCredentials|redirectUris|requiredResourceAccess", registration)
    service_principal = r"'Microsoft\.Graph/servicePrincipals@v1\.0'"
    assert re.search(rf"resource relayServicePrincipal {service_principal} = \{{\s*appId: relayApp\.appId", registration)
    assert re.search(
        rf"resource actionGroupsServicePrincipal {service_principal} existing = \{{\s*appId: actionGroupsAppId", registration
    )
    assert re.search(
        r"resource \w+ 'Microsoft\.Graph/appRoleAssignedTo@v1\.0' = \{\s*appRoleId: appRoleId\s*"
        r"principalId: actionGroupsServicePrincipal\.id\s*resourceId: relayServicePrincipal\.id\s*\}",
        registration,
    )
    assert "var identifierUri = 'api://${tenant().tenantId}/${uniqueName}'" in registration


def test_the_webhook_is_authenticated_with_the_relay_registration() -> None:
    routing, main = BICEP["app/alert-routing.bicep"].code, BICEP["main.bicep"].code
    receivers = routing[slice(*BICEP["app/alert-routing.bicep"].block(routing.index("webhookReceivers:")))]
    assert receivers.count("name:") == 1, "one webhook receiver"
    for setting in (
        "useAadAuth: true",
        "objectId: relayAppObjectId",
        "identifierUri: relayIdentifierUri",
        "tenantId: tenant().tenantId",
        "useCommonAlertSchema: true",
    ):
        assert setting in receivers, setting
    assert "output BACKUP_RELAY_APP_OBJECT_ID string = relayApp.outputs.objectId" in main
    assert "output BACKUP_RELAY_AUDIENCE string = relayApp.outputs.identifierUri" in main
    script = (SCRIPTS / "postdeploy.sh").read_text(encoding="utf-8")
    assert 'relayAppObjectId="$BACKUP_RELAY_APP_OBJECT_ID" relayIdentifierUri="$BACKUP_RELAY_AUDIENCE"' in script
    assert '"BACKUP_RELAY_APP_OBJECT_ID", "BACKUP_RELAY_AUDIENCE"' in script, "read from a plain az deployment too"


def test_the_vaults_and_their_built_in_alerts_are_only_read() -> None:
    for path, bicep in BICEP.items():
        assert "alertsForAllJobFailures" not in bicep.code, f"{path} changes the vaults' built-in alert settings"
        for match in re.finditer(r"^resource \w+ 'Microsoft\.RecoveryServices/vaults[^']*' (\w+)", bicep.code, re.M):
            assert match.group(1) == "existing", f"{path} deploys a Recovery Services resource"


# --- Stand-ins for the compiler: names that must line up ---------------------------------------------------------


def test_module_params_and_outputs_line_up() -> None:
    for path, bicep in BICEP.items():
        modules = {}
        for match in re.finditer(r"^module (\w+) '([^']+)' = ", bicep.code, re.M):
            target = (bicep.path.parent / match.group(2)).resolve().relative_to(INFRA).as_posix()
            assert target in BICEP, f"{path}: module {match.group(1)} points at a missing {match.group(2)}"
            modules[match.group(1)] = BICEP[target]
            body = bicep.block(bicep.code.index("{", match.end()))
            params = re.search(r"^\s*params:\s*\{", bicep.code[body[0] : body[1]], re.M)
            passed = set(bicep.top_level_keys(bicep.block(body[0] + params.end() - 1))) if params else set()
            declared = BICEP[target].params()
            assert passed <= set(declared), f"{path}: {match.group(1)} passes unknown params {passed - set(declared)}"
            missing = {name for name, has_default in declared.items() if not has_default} - passed
            assert not missing, f"{path}: {match.group(1)} does not pass {missing}"
        for symbol, output in re.findall(r"\b(\w+)\.outputs\.(\w+)", bicep.code):
            assert symbol in modules, f"{path}: {symbol}.outputs used but {symbol} is not a module"
            assert output in modules[symbol].outputs(), f"{path}: {modules[symbol].path.name} has no output {output}"


def test_parameters_file_matches_main_bicep() -> None:
    parameters = json.loads((INFRA / "main.parameters.json").read_text(encoding="utf-8"))["parameters"]
    declared = BICEP["main.bicep"].params()
    assert set(parameters) <= set(declared), set(parameters) - set(declared)
    assert {name for name, has_default in declared.items() if not has_default} <= set(parameters)
    assert parameters["environmentName"]["value"] == "${AZURE_ENV_NAME}"
    assert parameters["location"]["value"] == "${AZURE_LOCATION}"
    assert parameters["principalId"]["value"] == "${AZURE_PRINCIPAL_ID}"
    assert parameters["pollSchedule"]["value"] == settings.SETTINGS[0].default


def test_names_come_from_the_abbreviations_and_the_resource_token() -> None:
    main = BICEP["main.bicep"]
    abbreviations = json.loads((INFRA / "abbreviations.json").read_text(encoding="utf-8"))
    used = set(re.findall(r"\$\{abbrs\.(\w+)\}", main.code))
    assert used and used <= set(abbreviations), used - set(abbreviations)
    assert "var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))" in main.code
    for path, bicep in BICEP.items():
        for match in re.finditer(r"^resource \w+ '([^']+)' = (?!.*existing)", bicep.code, re.M):
            body = bicep.code[slice(*bicep.block(match.end() - 1))]
            if re.search(r"^\s{2}location:", body, re.M):
                assert re.search(r"^\s{2}tags: ", body, re.M), f"{path}: {match.group(1)} has no tags"
    assert re.search(r"tags: union\(tags, \{\s*'azd-service-name': 'app'\s*\}\)", BICEP["app/function-app.bicep"].code)


def test_postdeploy_passes_what_the_stage_two_templates_declare() -> None:
    script = (SCRIPTS / "postdeploy.sh").read_text(encoding="utf-8")
    assert os.access(SCRIPTS / "postdeploy.sh", os.X_OK)
    commands = re.findall(r"az deployment group create(.+?)--only-show-errors", script, re.S)
    templates = [re.search(r"--template-file (\S+)", command) for command in commands]
    assert [t.group(1) for t in templates if t] == ["infra/app/event-subscription.bicep", "infra/app/alert-routing.bicep"]
    for command, template in zip(commands, templates, strict=True):
        assert template is not None
        declared = BICEP[template.group(1).removeprefix("infra/")].params()
        passed = set(re.findall(r"(\w+)=\"\$", command))
        assert passed <= set(declared), passed - set(declared)
        assert {name for name, has_default in declared.items() if not has_default} <= passed
    needed = set(re.findall(r'"\$\{(\w+):\?', script)) - {"AZURE_ENV_NAME"}
    assert needed <= BICEP["main.bicep"].outputs(), needed - BICEP["main.bicep"].outputs()


def test_azure_yaml_deploys_the_app_and_runs_the_hook() -> None:
    text = (ROOT / "azure.yaml").read_text(encoding="utf-8")
    assert re.search(r"^name: backup-events$", text, re.M)
    service = re.search(r"^services:\n  app:\n((?:    .*\n)+)", text, re.M)
    assert service is not None
    assert {"project: .", "language: python", "host: function"} <= {line.strip() for line in service.group(1).splitlines()}
    assert re.search(r"^hooks:\n  postdeploy:\n    posix:\n(?:      .*\n)*      run: scripts/postdeploy\.sh$", text, re.M)


def test_the_watchdog_alerts_on_the_apps_own_telemetry_and_emails_the_on_call_addresses_itself() -> None:
    from tests.function_index import bindings

    watchdog = BICEP["app/watchdog.bicep"].code
    main = BICEP["main.bicep"].code
    # Its own action group, emailing every address of the app's recipients (not through the app's mailer).
    assert "emailReceivers: [\n      for (address, i) in split(recipients, ','):" in watchdog
    assert "emailAddress: trim(address)" in watchdog
    module = main[main.index("module watchdog 'app/watchdog.bicep'") :].split("\nmodule ", 1)[0]
    assert "recipients: recipients" in module and "monitoring.outputs.applicationInsightsName" in module
    # Two log alert rules on the app's Application Insights, both sending to that action group, stateful.
    rules = re.findall(r"resource (\w+) 'Microsoft.Insights/scheduledQueryRules@[^']+' = \{", watchdog)
    assert rules == ["noSuccessfulPoll", "failedRuns"]
    assert watchdog.count("applicationInsights.id") == 2 and watchdog.count("        onCall.id") == 2  # in each rule
    assert watchdog.count("autoMitigate: true") == 2
    # No successful poll in one hour: the poll function's name is the one the host indexes.
    assert "poll_backup_jobs" in bindings()
    assert "query: 'requests | where name == \"poll_backup_jobs\" and success == true'" in watchdog
    assert re.search(
        r"windowSize: 'PT1H'\s+criteria: \{\s+allOf: \[\s+\{\s+query: '[^']+'\s+timeAggregation: 'Count'\s+"
        r"operator: 'LessThan'\s+threshold: 1",
        watchdog,
    )
    # Any failed invocation in the last quarter hour.
    assert re.search(
        r"query: 'requests \| where success == false'\s+timeAggregation: 'Count'\s+operator: 'GreaterThan'\s+"
        r"threshold: 0",
        watchdog,
    )
