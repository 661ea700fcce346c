"""Signing in to Azure once per run: ``DefaultAzureCredential``, proved with one token before any work.

When no credential in the chain works, ``sign_in`` raises one ``SignInError`` that names what was tried (read from the
chain's own report) and how to sign in; the chain's full report stays in the exception's cause (``--debug``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from backup_events.errors import SignInError

_PLAIN_NAMES = {
    "EnvironmentCredential": "environment variables (AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET)",
    "WorkloadIdentityCredential": "workload identity",
    "ManagedIdentityCredential": "managed identity",
    "SharedTokenCacheCredential": "shared token cache",
    "VisualStudioCodeCredential": "VS Code",
    "AzureCliCredential": "Azure CLI",
    "AzurePowerShellCredential": "Azure PowerShell",
    "AzureDeveloperCliCredential": "Azure Developer CLI",
    "InteractiveBrowserCredential": "browser sign-in",
    "BrokerCredential": "the system's broker",
}
_ATTEMPT = re.compile(r"^\s+(\w+Credential): (.*)$", re.MULTILINE)
HOW_TO_SIGN_IN = (
    "sign in with `az login` (or `azd auth login`) and run again; in Azure, give the app a managed identity and set "
    "AZURE_CLIENT_ID to its client id"
)


def _why(answer: str) -> str:
    """A credential's answer, shortened to what an operator acts on."""
    lowered = answer.casefold()
    if "refused" in lowered:
        return "connection refused"
    if "timed out" in lowered or "timeout" in lowered:
        return "timed out"
    if "not installed" in lowered or "not found on path" in lowered or "could not be found" in lowered:
        return "not installed"
    if "az login" in lowered or "azd auth login" in lowered or "connect-azaccount" in lowered or "not logged in" in lowered:
        return "not signed in"
    if "unavailable" in lowered or "not fully configured" in lowered or "missing required" in lowered:
        return "not set up"
    first = re.split(r"(?<=[.!?])\s", answer.strip(), maxsplit=1)[0]
    return first if len(first) <= 100 else first[:97] + "..."


def tried(report: str) -> list[str]:
    """``name: why`` for each credential the chain's report says it tried, in order."""
    return [f"{_PLAIN_NAMES.get(name, name)}: {_why(answer)}" for name, answer in _ATTEMPT.findall(report)]


def sign_in_error(report: str, environ: Mapping[str, str]) -> SignInError:
    """The one error for a chain that found no credential; ``environ`` says whether a managed identity is claimed."""
    attempts = tried(report)
    said = "; ".join(attempts) if attempts else _why(report)
    note = ""
    if environ.get("IDENTITY_ENDPOINT") or environ.get("MSI_ENDPOINT"):
        note = (
            " IDENTITY_ENDPOINT is set, so this machine claims a managed identity and the chain stops there: "
            "unset IDENTITY_ENDPOINT and IDENTITY_HEADER to use your own sign-in."
        )
    return SignInError(f"no Azure sign-in worked (tried {said}).{note} Fix: {HOW_TO_SIGN_IN}.")


def credential(client_id: str) -> Any:
    """The credential chain: managed identity in Azure (``client_id`` picks a user-assigned one), your login locally."""
    from azure.identity import DefaultAzureCredential  # noqa: PLC0415

    return DefaultAzureCredential(managed_identity_client_id=client_id or None)


def sign_in(client_id: str, scope: str, environ: Mapping[str, str]) -> tuple[Any, str]:
    """A credential proved by one token for ``scope``, and the name of the one that worked; ``SignInError`` if none."""
    from azure.core.exceptions import ClientAuthenticationError  # noqa: PLC0415

    chain = credential(client_id)
    try:
        chain.get_token(scope)
    except ClientAuthenticationError as exc:
        raise sign_in_error(str(exc.message or exc), environ) from exc
    used = getattr(chain, "_successful_credential", None)  # the chain keeps the one that worked; a name for doctor
    name = type(used).__name__ if used is not None else "DefaultAzureCredential"
    return chain, _PLAIN_NAMES.get(name, name)
