"""``Mailer`` on Azure Communication Services Email (``azure-communication-email``).

Imported lazily (only when mail goes to ACS), so the SDK is imported at module level here.

``send`` hands the message to ACS with a deterministic ``Operation-Id`` (uuid5 of the message key, so a resend of
the same told job carries the same id), then waits at most ``confirm_seconds`` for the operation's final status:

* accepted and ``Succeeded``, or still running after the wait → the operation id (pending is logged);
* not accepted (401, 400, 5xx after the SDK's few retries, network) → ``DeliveryError``;
* 429 → ``DeliveryError`` with ``retry_after`` from the response: never waited out in-process (the managed
  domain allows 5 mails a minute, and a trigger has a deadline);
* the operation ended ``Failed``/``Canceled`` → ``DeliveryError`` with ACS's error code.

After the wait the SDK's poller thread (a daemon) may keep polling until the operation ends; that is harmless.
"""

from __future__ import annotations

import email.utils
import logging
import math
import uuid
from datetime import UTC, datetime
from typing import Any

from azure.communication.email import EmailClient
from azure.core.credentials import TokenCredential
from azure.core.exceptions import AzureError, ClientAuthenticationError, HttpResponseError, ServiceRequestError
from azure.core.pipeline import PipelineResponse
from azure.core.pipeline.policies import RetryPolicy
from azure.core.polling.base_polling import OperationFailed
from azure.core.rest import HttpRequest, HttpResponse

from backup_events.adapters.retries import retry_settings
from backup_events.domain.model import EmailMessage
from backup_events.errors import ConfigurationError, DeliveryError

log = logging.getLogger(__name__)

OPERATION_ID_NAMESPACE = uuid.UUID("6f0b7a4e-3c8d-5e21-9a47-b1d2c3e4f5a6")
"""Namespace of the uuid5 operation ids; fixed forever, or resends would get new ids."""
_FAILED_STATUSES = frozenset({"failed", "canceled", "cancelled"})
API_VERSION = "2025-09-01"
"""Pinned, so the status look-up below speaks the same version as the sends."""


def operation_id_for(message: EmailMessage) -> str:
    """The ``Operation-Id`` for a message: the same for the same ``key``."""
    return str(uuid.uuid5(OPERATION_ID_NAMESPACE, message.key))


def parse_retry_after(headers: Any) -> float | None:
    """Seconds to wait from ``Retry-After`` (seconds or HTTP-date), ``retry-after-ms`` or ``x-ms-retry-after-ms``."""
    if headers is None:
        return None
    for name, scale in (("retry-after-ms", 1000.0), ("x-ms-retry-after-ms", 1000.0)):
        value = headers.get(name)
        if value:
            try:
                return max(float(value) / scale, 0.0)
            except ValueError:
                pass
    value = headers.get("Retry-After")
    if not value:
        return None
    try:
        seconds = float(value)
        return max(seconds, 0.0) if math.isfinite(seconds) else None
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)


class _NoThrottleWaitRetryPolicy(RetryPolicy[HttpRequest, HttpResponse]):
    """azure-core's ``RetryPolicy`` minus waiting out a 429.

    Stock azure-core retries *any* response that carries ``Retry-After`` (even a POST) and sleeps for it, uncapped,
    up to ``retry_status`` times: a 429 with ``Retry-After: 60`` would hold a trigger for minutes. Here a 429 ends
    the retries at once, so ``send`` can raise ``DeliveryError(retry_after=…)`` and the caller decides. Connection
    errors and 5xx keep the stock handling (with small counts); a response about to be retried is closed.
    """

    def increment(self, settings: dict[str, Any], response: Any = None, error: Exception | None = None) -> bool:
        if isinstance(response, PipelineResponse) and response.http_response.status_code == 429:
            return False
        retrying: bool = super().increment(settings, response=response, error=error)
        if retrying and isinstance(response, PipelineResponse):
            # The send runs with stream=True and stock azure-core drops a retried response unread and unclosed,
            # leaking its socket; it is never used again, so close it.
            response.http_response.close()
        return retrying


def _error_text(exc: AzureError) -> str:
    if isinstance(exc, HttpResponseError) and exc.status_code is not None:
        code = exc.error.code if exc.error is not None else None
        message = exc.error.message if exc.error is not None else None
        return f"HTTP {exc.status_code}{' ' + code if code else ''}: {message or exc.reason or exc.message}"
    return f"{type(exc).__name__}: {exc.message}"


def _operation_body(exc: HttpResponseError) -> dict[str, Any]:
    """The status monitor's body carried by a poller error (``{id, status, error}``), or ``{}``."""
    read_json = getattr(exc.response, "json", None)
    if read_json is None:
        return {}
    try:
        body = read_json()
    except (ValueError, AzureError):
        return {}
    return body if isinstance(body, dict) else {}


class AcsMailer:
    """Implements ``ports.Mailer`` with ACS Email.

    Auth: ``endpoint`` + ``credential`` (managed identity; bearer token for ``https://communication.azure.com``),
    else ``connection_string`` (HMAC; a local-development fallback, never logged nor put in an error).
    """

    def __init__(
        self,
        *,
        endpoint: str | None = None,
        credential: TokenCredential | None = None,
        connection_string: str | None = None,
        connection_verify: str | bool = True,
        confirm_seconds: float = 5.0,
        poll_interval: float = 0.5,
        max_retries: int = 2,
        retry_backoff_factor: float = 0.5,
    ) -> None:
        problems: list[str] = []
        if credential is not None and not endpoint:
            problems.append("ACS endpoint is required with a credential, e.g. https://<resource>.communication.azure.com")
        if credential is None and not connection_string:
            problems.append(
                "ACS needs an endpoint and a credential (managed identity), or a connection string "
                "(endpoint=https://<resource>.communication.azure.com/;accesskey=<key>) for local use"
            )
        if confirm_seconds < 0 or poll_interval <= 0 or max_retries < 0:
            problems.append("confirm_seconds must be >= 0, poll_interval > 0 and max_retries >= 0")
        if problems:
            raise ConfigurationError(problems)
        self._endpoint = endpoint
        self._credential = credential
        self._verify = connection_verify
        self._confirm_seconds = confirm_seconds
        self._poll_interval = poll_interval
        self._max_retries = max_retries
        self._backoff = retry_backoff_factor
        self._client = self._build_client(connection_string)  # no I/O; a malformed connection string fails here, not at send

    def __repr__(self) -> str:  # never show the connection string
        mode = "token" if self._credential is not None else "connection string"
        return f"AcsMailer(endpoint={self._endpoint!r}, auth={mode})"

    def close(self) -> None:
        self._client.close()

    def _build_client(self, connection_string: str | None) -> EmailClient:
        kwargs: dict[str, Any] = {
            "api_version": API_VERSION,
            "connection_verify": self._verify,
            "retry_policy": _NoThrottleWaitRetryPolicy(**retry_settings(self._max_retries, self._backoff, self._confirm_seconds)),
        }
        if self._credential is not None:
            assert self._endpoint is not None
            return EmailClient(self._endpoint, self._credential, **kwargs)
        try:
            return EmailClient.from_connection_string(str(connection_string), **kwargs)
        except (ValueError, TypeError):
            raise ConfigurationError(
                ["ACS connection string is malformed: expected endpoint=https://<host>/;accesskey=<base64 key>"]
            ) from None  # no chaining: the original may quote the string

    @staticmethod
    def acs_message(message: EmailMessage) -> dict[str, Any]:
        """The ``begin_send`` payload for a message."""
        if not message.recipients:
            raise DeliveryError(f"email {message.key!r} has no recipients")
        content: dict[str, str] = {"subject": message.subject, "plainText": message.text}
        if message.html:
            content["html"] = message.html
        body: dict[str, Any] = {
            "senderAddress": message.sender,
            "recipients": {"to": [{"address": address} for address in message.recipients]},
            "content": content,
            "userEngagementTrackingDisabled": True,
        }
        if message.headers:
            body["headers"] = dict(message.headers)
        return body

    def delivered(self, message: EmailMessage) -> bool | None:
        """Has ACS already taken ``message`` (its operation id derives from the message key)?

        True when the operation exists and did not fail, False when ACS does not know it, None when it can't
        tell (then the caller sends: a repeat beats a loss). Used before re-sending a claim an instance left
        half-done, so a crash between sending and recording does not mean a second email.
        """
        from azure.core.rest import HttpRequest  # noqa: PLC0415

        operation_id = operation_id_for(message)
        request = HttpRequest("GET", f"{{endpoint}}/emails/operations/{operation_id}", params={"api-version": API_VERSION})
        try:
            response = self._client.send_request(request)
        except AzureError as exc:
            log.warning("Could not ask ACS about email %s: %s", operation_id, _error_text(exc))
            return None
        if response.status_code == 404:
            return False
        if response.status_code != 200:
            return None
        status = str(response.json().get("status", "")).lower()
        return status not in _FAILED_STATUSES

    def reachable(self) -> None:
        """Ask ACS about an email operation that cannot exist: its 404 proves the endpoint answers and accepts our
        sign-in or key, and sends nothing. Raises ``DeliveryError`` with what ACS (or the network) said otherwise."""
        request = HttpRequest(
            "GET", "{endpoint}/emails/operations/backup-events-doctor-probe", params={"api-version": API_VERSION}
        )
        try:
            response = self._client.send_request(request)
        except AzureError as exc:
            raise DeliveryError(f"ACS could not be reached: {_error_text(exc)}") from exc
        if response.status_code not in (200, 404):
            detail = response.text()[:200] if response.text() else ""
            raise DeliveryError(f"ACS answered HTTP {response.status_code}: {detail}".rstrip(": "))

    def send(self, message: EmailMessage) -> str:
        """Hand ``message`` to ACS; return its operation id. Raises ``DeliveryError`` (see the module docs)."""
        operation_id = operation_id_for(message)
        payload = self.acs_message(message)
        try:
            poller = self._client.begin_send(payload, operation_id=operation_id, polling_interval=self._poll_interval)
        except HttpResponseError as exc:
            retry_after = parse_retry_after(getattr(exc.response, "headers", None))
            raise DeliveryError(
                f"ACS did not accept email {operation_id}: {_error_text(exc)}",
                retry_after=retry_after if exc.status_code == 429 else None,
            ) from exc
        except ClientAuthenticationError as exc:  # no token: the request never left, ACS never saw it
            raise DeliveryError(f"email {operation_id} not sent: no token for ACS (sign-in failed)") from exc
        except ServiceRequestError as exc:  # could not connect: ACS never saw it either
            raise DeliveryError(f"email {operation_id} not sent: ACS could not be reached ({_error_text(exc)})") from exc
        except (AzureError, ValueError) as exc:  # ValueError: e.g. an access key that is not base64
            detail = _error_text(exc) if isinstance(exc, AzureError) else type(exc).__name__
            raise DeliveryError(f"ACS did not accept email {operation_id}: {detail}") from exc

        try:
            body = poller.result(timeout=self._confirm_seconds)
        except HttpResponseError as exc:
            final = _operation_body(exc)
            if isinstance(exc.inner_exception, OperationFailed) or str(final.get("status", "")).lower() in _FAILED_STATUSES:
                error = final.get("error") or {}
                raise DeliveryError(
                    f"ACS email {operation_id} ended {final.get('status', 'Failed')}: "
                    f"{error.get('code', 'unknown')}: {error.get('message', '')}".rstrip(": ")
                ) from exc
            log.warning("ACS accepted email %s; its status is unknown (%s)", operation_id, _error_text(exc))
            return operation_id
        except AzureError as exc:
            log.warning("ACS accepted email %s; its status is unknown (%s)", operation_id, _error_text(exc))
            return operation_id

        latest: dict[str, Any] = body if isinstance(body, dict) else {}
        status = str(latest.get("status") or "")
        service_id = str(latest.get("id") or operation_id)
        if not poller.done():
            log.info("ACS accepted email %s; confirmation pending (status %s)", service_id, status or "unknown")
            return service_id
        if status.lower() in _FAILED_STATUSES:
            raise DeliveryError(f"ACS email {service_id} ended {status}")
        log.info("ACS email %s: %s", service_id, status or "done")
        return service_id
