"""``JobSource`` on the Recovery Services jobs API (``azure-mgmt-recoveryservicesbackup``).

Imported lazily (only when the jobs API is the source), so the Azure SDKs are imported at module level here.

* One ``RecoveryServicesBackupClient`` per subscription, built on first use and cached.
* ``jobs``: one ``BackupJobs_List`` call per status, ``$filter`` in the documented grammar with a locale-proof
  12-hour date format, every page followed; items returned as plain wire dicts (``as_dict()`` of the SDK's hybrid
  model keeps the camelCase wire keys and the raw values: TimeSpan durations, integer ``actionsInfo``, 7-digit
  fractions, ``/Subscriptions/`` ids).
* ``job_details``: ``JobDetails_Get`` for the id's vault (ids parsed case-insensitively).
* Vaults: the configured ids plus, once per instance, every Recovery Services vault of the configured
  subscriptions (``azure-mgmt-recoveryservices``, ``vaults.list_by_subscription_id``).
* Retries: azure-core's ``RetryPolicy`` with small counts, plus a per-vault time budget (``BudgetedRetryPolicy``).
* Every azure-core error becomes a ``SourceError`` naming the vault (or job), the HTTP status and ARM's error
  code and message, so the run can skip that vault and go on.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, Protocol, Self, TypeVar

from azure.core.credentials import AccessToken, TokenCredential
from azure.core.exceptions import AzureError, ClientAuthenticationError, HttpResponseError
from azure.core.pipeline import PipelineResponse
from azure.core.pipeline.policies import RetryPolicy
from azure.core.rest import HttpRequest, HttpResponse
from azure.mgmt.recoveryservices import RecoveryServicesClient
from azure.mgmt.recoveryservicesbackup import RecoveryServicesBackupClient

from backup_events.adapters.retries import retry_settings
from backup_events.domain import ids
from backup_events.domain.words import counted
from backup_events.errors import ConfigurationError, MalformedInputError, SourceError
from backup_events.ports import JobJson

log = logging.getLogger(__name__)

KNOWN_STATUSES = frozenset({"Invalid", "InProgress", "Completed", "Failed", "CompletedWithWarnings", "Cancelled", "Cancelling"})
_TAGS_API_VERSION = "2021-04-01"

DEADLINE_OPTION = "backup_events_retry_deadline"
"""Per-call keyword carrying a ``time.monotonic()`` deadline to ``BudgetedRetryPolicy`` (popped there, so it never
reaches the transport)."""


def filter_time(moment: datetime) -> str:
    """``yyyy-MM-dd hh:mm:ss tt`` in UTC, without ``%p`` (locale-dependent: AM/PM only under C/English locales).

    A naive datetime is taken as UTC.
    """
    utc = moment.astimezone(UTC) if moment.tzinfo is not None else moment
    return f"{utc:%Y-%m-%d} {(utc.hour % 12) or 12:02d}:{utc:%M:%S} {'AM' if utc.hour < 12 else 'PM'}"


def job_filter(status: str, since: datetime, until: datetime) -> str:
    """``status eq '<s>' and startTime eq '<since>' and endTime eq '<until>'``: the window, not equality.

    The filter has second resolution: ``since`` is rounded down and ``until`` up, so the window only widens.
    """
    start = since.replace(microsecond=0)
    end = until.replace(microsecond=0) + (timedelta(seconds=1) if until.microsecond else timedelta())
    return f"status eq '{status}' and startTime eq '{filter_time(start)}' and endTime eq '{filter_time(end)}'"


def parse_vault_id(vault_id: str) -> tuple[str, str, str]:
    """(subscription, resource group, vault name) of a vault id, as the SDK's calls take them."""
    parts = ids.parse_vault_id(vault_id)
    if parts["job_name"] or parts["kind"] != ids.RECOVERY_SERVICES:
        raise MalformedInputError(f"not a Recovery Services vault id: {vault_id!r}", field="id")
    return parts["subscription_id"], parts["resource_group"], parts["vault_name"]


def parse_job_id(job_id: str) -> tuple[str, str, str, str, str]:
    """(vault id, subscription, resource group, vault name, job name) of a backup job id, as the SDK's calls take them."""
    parts = ids.parse_vault_id(job_id)
    if not parts["job_name"] or parts["kind"] != ids.RECOVERY_SERVICES:
        raise MalformedInputError(f"not a Recovery Services backup job id: {job_id!r}", field="id")
    return parts["vault_id"], parts["subscription_id"], parts["resource_group"], parts["vault_name"], parts["job_name"]


def _is_vault_id(value: str) -> bool:
    try:
        parse_vault_id(value)
    except MalformedInputError:
        return False
    return True


def describe_error(exc: AzureError) -> str:
    """``HTTP <status> <ARM code>: <message>`` for a response error, else the error's type and message."""
    if isinstance(exc, HttpResponseError) and exc.status_code is not None:
        code = exc.error.code if exc.error is not None else None
        message = exc.error.message if exc.error is not None else None
        text = f"HTTP {exc.status_code}"
        if code:
            text += f" {code}"
        text += f": {message or exc.reason or exc.message}"
        headers: Mapping[str, str] = getattr(exc.response, "headers", None) or {}
        retry_after = headers.get("Retry-After")
        if retry_after:
            text += f" (Retry-After: {retry_after}s)"
        return text
    return f"{type(exc).__name__}: {exc.message}"


class _SignIn:
    """The app's credential, whose failures say they are sign-in failures.

    A managed identity endpoint that does not answer surfaces from the SDK as a ``ServiceRequestError`` naming the
    endpoint's host, which reads like Resource Manager being down; a blind spot's email must say "sign-in failed".
    """

    def __init__(self, credential: TokenCredential) -> None:
        self._credential = credential

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        try:
            return self._credential.get_token(*scopes, **kwargs)
        except ClientAuthenticationError:
            raise
        except AzureError as exc:
            raise ClientAuthenticationError(message=f"sign-in failed: {describe_error(exc)}") from exc


class BudgetedRetryPolicy(RetryPolicy[HttpRequest, HttpResponse]):
    """azure-core's ``RetryPolicy`` that also respects a per-call deadline.

    Why a subclass: azure-core sleeps for whatever ``Retry-After`` says, uncapped (ARM may answer 429 with tens of
    seconds, and a Function has a timeout); its ``timeout`` setting only raises *after* sleeping, as a
    ``ServiceResponseTimeoutError`` that has lost the status and ARM's error code. Overriding just the
    "retry or not" decision (``increment``) keeps everything else stock (counts, backoff, Retry-After parsing):
    when the wait it is about to do would end past the deadline it says "no more retries", so the last response
    (the 429 or 5xx) surfaces at once as the SDK's usual ``HttpResponseError``.
    """

    def configure_retries(self, options: dict[str, Any]) -> dict[str, Any]:
        settings: dict[str, Any] = super().configure_retries(options)
        settings[DEADLINE_OPTION] = options.pop(DEADLINE_OPTION, None)
        return settings

    def increment(
        self,
        settings: dict[str, Any],
        response: Any = None,  # PipelineRequest | PipelineResponse | None, as in RetryPolicyBase
        error: Exception | None = None,
    ) -> bool:
        if not super().increment(settings, response=response, error=error):
            return False
        deadline: float | None = settings.get(DEADLINE_OPTION)
        if deadline is None:
            return True
        wait: float | None = None
        if isinstance(response, PipelineResponse):
            wait = self.get_retry_after(response)
        if not wait:  # as RetryPolicy.sleep does: an absent or zero Retry-After falls back to the backoff
            wait = self.get_backoff_time(settings)
        if time.monotonic() + wait > deadline:
            log.info("giving up retrying: waiting %.1fs would pass the retry budget", wait)
            return False
        return True


class _Client(Protocol):
    def close(self) -> None: ...


ClientT = TypeVar("ClientT", bound=_Client)


class ArmJobSource(Generic[ClientT]):
    """What the Recovery Services and the Backup vault sources share: the settings checked once, one SDK client per
    subscription built on first use, the retry budget per call, the vaults configured plus discovered, and a
    credential whose failures say "sign-in failed" (a blind spot's email must not read as ARM being down).

    A subclass names its vault id's shape (``VAULT_SHAPE``, ``is_vault_id``), its known statuses, how to build its
    client (``new_client``) and how to discover its vaults (``_discover``).
    """

    VAULT_SHAPE = ""
    KNOWN_STATUSES: frozenset[str] = frozenset()

    def __init__(
        self,
        *,
        credential: TokenCredential,
        vault_ids: Sequence[str] = (),
        subscription_ids: Sequence[str] = (),
        arm_endpoint: str = "https://management.azure.com",
        credential_scope: str = "https://management.azure.com/.default",
        statuses: tuple[str, ...] = ("Failed",),
        retry_budget_seconds: float = 60.0,
        connection_verify: str | bool = True,
        max_retries: int = 3,
        retry_backoff_factor: float = 0.8,
        request_timeout_seconds: float = 60.0,
    ) -> None:
        problems = [f"vault id {v!r} is not {self.VAULT_SHAPE}" for v in vault_ids if not self.is_vault_id(v)]
        known = self.KNOWN_STATUSES
        problems += [f"status {s!r} is not one of {', '.join(sorted(known))}" for s in statuses if s not in known]
        if not statuses:
            problems.append("statuses is empty: give at least one job status to read, e.g. ('Failed',)")
        if retry_budget_seconds < 0 or max_retries < 0:
            problems.append("retry_budget_seconds and max_retries must not be negative")
        if problems:
            raise ConfigurationError(problems)
        self._credential = _SignIn(credential)
        self._explicit = [v.strip() for v in vault_ids]
        self._subscriptions = list(subscription_ids)
        self._endpoint = arm_endpoint.rstrip("/")
        self._scope = credential_scope
        self._statuses = statuses
        self._budget = retry_budget_seconds
        self._verify = connection_verify
        self._max_retries = max_retries
        self._backoff = retry_backoff_factor
        self._timeout = request_timeout_seconds
        self._lock = threading.Lock()
        self._clients: dict[str, ClientT] = {}
        self._discovered: list[str] | None = None

    @staticmethod
    def is_vault_id(value: str) -> bool:
        """Is ``value`` a vault id of this source's kind?"""
        raise NotImplementedError

    def new_client(self, subscription_id: str) -> ClientT:
        """A new SDK client for ``subscription_id`` (``self._client_kwargs()`` holds the shared options)."""
        raise NotImplementedError

    def _discover(self, subscription_id: str) -> list[str]:
        raise NotImplementedError

    # ---- plumbing ----------------------------------------------------------------------------------------------

    def _client_kwargs(self) -> dict[str, Any]:
        return {
            "base_url": self._endpoint,
            "credential_scopes": [self._scope],
            "connection_verify": self._verify,
            "connection_timeout": self._timeout,
            "read_timeout": self._timeout,
            "retry_policy": BudgetedRetryPolicy(**retry_settings(self._max_retries, self._backoff, self._budget)),
        }

    def _client(self, subscription_id: str) -> ClientT:
        key = subscription_id.lower()
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                client = self.new_client(subscription_id)
                self._clients[key] = client
            return client

    def _deadline(self) -> dict[str, Any]:
        """Per-call keywords giving the retry policy this call's deadline."""
        return {DEADLINE_OPTION: time.monotonic() + self._budget}

    def close(self) -> None:
        """Close the cached clients' sessions."""
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ---- JobSource ---------------------------------------------------------------------------------------------

    def vault_ids(self) -> list[str]:
        """Configured vaults, then those discovered in the subscriptions (once per instance); no duplicates.

        Raises ``SourceError`` naming the subscription when discovery fails (nothing is cached then).
        """
        with self._lock:
            discovered = self._discovered
        if discovered is None:
            discovered = [v for subscription in self._subscriptions for v in self._discover(subscription)]
            with self._lock:
                self._discovered = discovered
        result: list[str] = []
        seen: set[str] = set()
        for vault_id in [*self._explicit, *discovered]:
            if vault_id.lower() not in seen:
                seen.add(vault_id.lower())
                result.append(vault_id)
        return result


class RecoveryServicesJobSource(ArmJobSource[RecoveryServicesBackupClient]):
    """Implements ``ports.JobSource`` on ARM's Recovery Services jobs API."""

    VAULT_SHAPE = "/subscriptions/<id>/resourceGroups/<rg>/providers/Microsoft.RecoveryServices/vaults/<name>"
    KNOWN_STATUSES = KNOWN_STATUSES

    @staticmethod
    def is_vault_id(value: str) -> bool:
        return _is_vault_id(value)

    def new_client(self, subscription_id: str) -> RecoveryServicesBackupClient:
        return RecoveryServicesBackupClient(self._credential, subscription_id, **self._client_kwargs())

    def _discover(self, subscription_id: str) -> list[str]:
        kwargs = self._client_kwargs()
        try:
            with RecoveryServicesClient(self._credential, subscription_id, **kwargs) as client:
                ids = [vault.id for vault in client.vaults.list_by_subscription_id(**self._deadline()) if vault.id]
        except AzureError as exc:
            raise SourceError(
                f"could not list the Recovery Services vaults of subscription {subscription_id}: {describe_error(exc)}"
            ) from exc
        log.info("discovered %s in subscription %s", counted(len(ids), "Recovery Services vault"), subscription_id)
        return ids

    def jobs(
        self, vault_id: str, *, since: datetime, until: datetime, statuses: Sequence[str] | None = None
    ) -> Iterable[JobJson]:
        """Jobs of one vault started in ``[since, until]`` with one of ``statuses`` (default: the configured ones).

        Each list call and page shares one retry budget. The service's 30-day window limit (if any) is
        unconfirmed; keep windows shorter. Raises ``SourceError`` naming the vault.
        """
        if until < since:
            raise ValueError(f"until ({until}) is before since ({since})")
        try:
            subscription, group, vault = parse_vault_id(vault_id)
        except MalformedInputError as exc:
            raise SourceError(str(exc)) from None
        client = self._client(subscription)
        deadline = self._deadline()  # one budget for every status and page of this vault
        found: dict[str, dict[str, Any]] = {}
        try:
            for status in statuses or self._statuses:
                pager = client.backup_jobs.list(vault, group, filter=job_filter(status, since, until), **deadline)
                for job in pager:
                    wire = job.as_dict()
                    key = str(wire.get("id") or wire.get("name") or len(found)).lower()
                    found.setdefault(key, wire)
        except AzureError as exc:
            raise SourceError(f"could not read the jobs of vault {vault_id}: {describe_error(exc)}") from exc
        return list(found.values())

    def job_details(self, job_id: str) -> JobJson:
        """The job with ``extendedInfo`` (``JobDetails_Get``), as a wire dict. Raises ``SourceError``."""
        try:
            vault_id, subscription, group, vault, name = parse_job_id(job_id)
        except MalformedInputError as exc:
            raise SourceError(str(exc)) from None
        try:
            job = self._client(subscription).job_details.get(vault, group, name, **self._deadline())
        except AzureError as exc:
            raise SourceError(f"could not read job {name} of vault {vault_id}: {describe_error(exc)}") from exc
        return job.as_dict()

    def protected_items(self, vault_id: str) -> list[JobJson]:
        """The vault's protected items as wire dicts (``lastRecoveryPoint``, ``policyName``, …), every page."""
        try:
            subscription, group, vault = parse_vault_id(vault_id)
        except MalformedInputError as exc:
            raise SourceError(str(exc)) from None
        try:
            pager = self._client(subscription).backup_protected_items.list(vault, group, **self._deadline())
            return [item.as_dict() for item in pager]
        except AzureError as exc:
            raise SourceError(f"could not read the protected items of vault {vault_id}: {describe_error(exc)}") from exc

    def resource_tags(self, resource_id: str) -> Mapping[str, str]:
        """Tags of any resource, through the Tags API at its scope (one api-version for every resource type).

        Needs ``Microsoft.Resources/tags/read`` on the resource (Reader has it; Backup Reader does not).
        """
        match = re.match(r"^/subscriptions/([^/]+)/", resource_id, re.IGNORECASE)
        if not match:
            raise SourceError(f"not a resource id: {resource_id!r}")
        request = HttpRequest(
            "GET",
            f"{resource_id.rstrip('/')}/providers/Microsoft.Resources/tags/default",
            params={"api-version": _TAGS_API_VERSION},
        )
        try:
            response = self._client(match.group(1)).send_request(request, **self._deadline())
            response.raise_for_status()
        except AzureError as exc:
            raise SourceError(f"could not read the tags of {resource_id}: {describe_error(exc)}") from exc
        tags = (response.json().get("properties") or {}).get("tags") or {}
        return {str(k): str(v) for k, v in tags.items()}

    def policy(self, vault_id: str, name: str) -> JobJson:
        """One backup policy of the vault, as a wire dict."""
        try:
            subscription, group, vault = parse_vault_id(vault_id)
        except MalformedInputError as exc:
            raise SourceError(str(exc)) from None
        try:
            policy = self._client(subscription).protection_policies.get(vault, group, name, **self._deadline())
            return policy.as_dict()
        except AzureError as exc:
            raise SourceError(f"could not read policy {name} of vault {vault_id}: {describe_error(exc)}") from exc


__all__ = [
    "DEADLINE_OPTION",
    "BudgetedRetryPolicy",
    "RecoveryServicesJobSource",
    "describe_error",
    "filter_time",
    "job_filter",
    "parse_job_id",
    "parse_vault_id",
]
