"""What a user sees when a command fails: a few lines saying what is wrong, what was tried and the fix; never a
traceback (``--debug`` shows it). The exit codes, documented in docs/operations.md:

- 0: done (and for ``doctor``: every check passed);
- 1: the run could not do its work: a service refused or could not be reached, no sign-in worked, jobs were left for
  the next run, ``catalog check`` found a broken entry, ``doctor`` found a failing part, or an unexpected error;
- 2: bad input or settings: a file that is missing or not what it should be, a setting missing or invalid, a bad
  argument (argparse's own exit code).
"""

from __future__ import annotations

from backup_events.errors import (
    AzuriteUnavailable,
    BackupEventsError,
    CatalogError,
    ConfigurationError,
    DeliveryError,
    MalformedInputError,
)

OK, RUN_PROBLEM, BAD_INPUT = 0, 1, 2
INTERRUPTED = 130  # what shells report for Ctrl-C

_DEBUG_HINT = "(--debug shows the traceback)"


def _service_text(exc: BaseException) -> tuple[str, int] | None:
    """An Azure SDK error that escaped the adapters, told as a line: can't reach / refused / denied."""
    try:
        from azure.core.exceptions import (  # noqa: PLC0415
            ClientAuthenticationError,
            HttpResponseError,
            ServiceRequestError,
            ServiceResponseError,
        )
    except ImportError:  # pragma: no cover - azure-core is a runtime dependency
        return None
    if isinstance(exc, ClientAuthenticationError) and getattr(exc, "status_code", None) is None:
        return (
            "no Azure sign-in worked. Fix: sign in with `az login` (or `azd auth login`) and run again; in Azure, "
            f"set AZURE_CLIENT_ID to the app's managed identity {_DEBUG_HINT}",
            RUN_PROBLEM,
        )
    if isinstance(exc, ServiceRequestError | ServiceResponseError):
        return (
            f"could not reach a service: {_short(str(exc.message or exc))}. Fix: check the endpoint in the settings and "
            f"that it is up (for Azurite: `npx azurite --silent --location .azurite`, or use `demo`) {_DEBUG_HINT}",
            RUN_PROBLEM,
        )
    if isinstance(exc, HttpResponseError):
        status = exc.status_code
        fix = "check the role assignments of the identity in use" if status in (401, 403) else "try again later"
        return f"a service answered HTTP {status}: {_short(str(exc.message or exc))}. Fix: {fix} {_DEBUG_HINT}", RUN_PROBLEM
    return None


def _short(text: str) -> str:
    first = " ".join(text.split())
    if "Connection refused" in first:
        host = first.split("(host=", 1)[1].split(")", 1)[0] if "(host=" in first else ""
        return f"connection refused ({host})" if host else "connection refused"
    return first if len(first) <= 200 else first[:197] + "..."


def describe(exc: BaseException, command: str) -> tuple[str, int]:
    """The message (without the program name) and exit code for an error that ended ``command``."""
    if isinstance(exc, ConfigurationError):
        return f"settings: {exc}", BAD_INPUT
    if isinstance(exc, CatalogError):
        return f"{command}: {exc}", RUN_PROBLEM
    if isinstance(exc, MalformedInputError):
        return f"{command}: {exc}", BAD_INPUT
    if isinstance(exc, AzuriteUnavailable):
        return f"{command}: {exc}", RUN_PROBLEM
    if isinstance(exc, DeliveryError) and any(f"HTTP {status}" in str(exc) for status in (401, 403)):
        return (
            f"{command}: {exc}. Fix: with BACKUP_ACS_ENDPOINT, give the identity in use the email sender role on the "
            "Communication Services resource (docs/deploy.md); with BACKUP_ACS_CONNECTION_STRING, check its access key",
            RUN_PROBLEM,
        )
    if isinstance(exc, BackupEventsError):
        return f"{command}: {exc}", RUN_PROBLEM
    if (service := _service_text(exc)) is not None:
        return f"{command}: {service[0]}", service[1]
    if isinstance(exc, FileNotFoundError | PermissionError | IsADirectoryError | NotADirectoryError):
        where = f" {exc.filename}" if exc.filename else ""
        return f"{command}: cannot use{where}: {exc.strerror}. Fix: check the path and its permissions", BAD_INPUT
    if isinstance(exc, OSError):
        return f"{command}: {exc.strerror or exc} {_DEBUG_HINT}", RUN_PROBLEM
    return (
        f"{command}: unexpected error {type(exc).__name__}: {_short(str(exc))}. This is a bug in backup-events: "
        f"rerun with --debug and report the traceback",
        RUN_PROBLEM,
    )
