"""A stand-in for Azure Communication Services Email over loopback HTTPS.

* ``POST /emails:send?api-version=2025-09-01``: authenticates like the service (HMAC-SHA256 recomputed from the
  body and the signed headers with the decoded access key, or a bearer token), validates the message shape, and
  answers 202 with ``Operation-Location`` + ``retry-after: 0``; the operation id is the ``Operation-Id`` header
  when sent.
* ``GET /emails/operations/{id}?api-version=…``: ``Running`` for ``running_polls`` polls, then ``Succeeded``
  (or ``Failed`` when injected with :meth:`AcsEmailStandIn.fail_operation`).

Fault injection: :meth:`throttle` (429 + Retry-After on send), :meth:`fail_sends`, :meth:`fail_operation`.
``delivered`` lists every accepted message in order, so tests can assert exact counts.
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import hmac
import re
import secrets
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.loopback.tls import LoopbackHttpsServer, Request, Response, json_response

API_VERSION = "2025-09-01"
_HMAC_AUTH = re.compile(r"^HMAC-SHA256 SignedHeaders=(?P<signed>[^&]+)&Signature=(?P<sig>.+)$")
_OPERATION_PATH = re.compile(r"^/emails/operations/(?P<id>[^/]+)$")
_CLOCK_SKEW = timedelta(minutes=15)  # how stale x-ms-date may be; the service's exact window is unconfirmed


def acs_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return json_response(status, {"error": {"code": code, "message": message}}, headers)


@dataclass
class _Operation:
    id: str
    polls_left: int
    outcome: str  # "Succeeded" or "Failed"
    polls: int = 0


class AcsEmailStandIn(LoopbackHttpsServer):
    """ACS Email data plane. Default auth is HMAC with a random access key; pass ``token=`` for bearer mode."""

    def __init__(
        self,
        *,
        access_key: str | None = None,
        token: str | None = None,
        running_polls: int = 1,
        api_version: str = API_VERSION,
    ) -> None:
        super().__init__()
        self.token = token
        self.access_key = access_key or base64.b64encode(secrets.token_bytes(32)).decode()
        self.running_polls = running_polls
        self.api_version = api_version
        self.delivered: list[dict[str, Any]] = []
        self.send_attempts = 0
        self.poll_count = 0
        self._state = threading.Lock()
        self._operations: dict[str, _Operation] = {}
        self._throttles: list[tuple[int, float]] = []
        self._send_failures: list[tuple[int, int]] = []
        self._operation_failures = 0
        self._finished = threading.Condition(self._state)
        self._final_polls: set[str] = set()

    @property
    def connection_string(self) -> str:
        """What the ACS portal shows: ``endpoint=https://…/;accesskey=…``."""
        return f"endpoint={self.url}/;accesskey={self.access_key}"

    def wait_for_final_status(self, operation_id: str, timeout: float) -> bool:
        """Block until a poll of ``operation_id`` has been answered with its final status (no sleeping)."""
        with self._finished:
            return self._finished.wait_for(lambda: operation_id in self._final_polls, timeout=timeout)

    # ---- fault injection ---------------------------------------------------------------------------------------

    def throttle(self, times: int, retry_after: float = 0) -> None:
        """The next ``times`` sends answer 429 with ``Retry-After``."""
        with self._state:
            self._throttles.append((times, retry_after))

    def fail_sends(self, times: int, status: int = 500) -> None:
        """The next ``times`` sends answer ``status``."""
        with self._state:
            self._send_failures.append((times, status))

    def fail_operation(self, times: int = 1) -> None:
        """The next ``times`` accepted operations end ``Failed`` instead of ``Succeeded``."""
        with self._state:
            self._operation_failures += times

    # ---- auth --------------------------------------------------------------------------------------------------

    def _check_auth(self, request: Request) -> Response | None:
        header = request.headers.get("Authorization") or ""
        if self.token is not None:
            if header != f"Bearer {self.token}":
                return acs_error(401, "Denied", "Denied by the resource provider: invalid or missing bearer token.")
            return None
        match = _HMAC_AUTH.match(header)
        if not match:
            return acs_error(401, "Denied", "Denied by the resource provider: missing HMAC-SHA256 authorization.")
        if match["signed"].lower() != "x-ms-date;host;x-ms-content-sha256":
            return acs_error(401, "Denied", f"Unexpected SignedHeaders '{match['signed']}'.")
        date = request.headers.get("x-ms-date")
        content_hash = request.headers.get("x-ms-content-sha256")
        host = self.host  # the service signs with its own host name (with the port, when there is one)
        if not date or not content_hash:
            return acs_error(401, "Denied", "x-ms-date and x-ms-content-sha256 are required.")
        try:
            sent_at = email.utils.parsedate_to_datetime(date)
        except (TypeError, ValueError):
            return acs_error(401, "Denied", f"x-ms-date '{date}' is not an RFC 1123 date.")
        if sent_at.tzinfo is None or abs(datetime.now(UTC) - sent_at) > _CLOCK_SKEW:
            return acs_error(401, "Denied", "x-ms-date is too far from the server's clock.")
        actual_hash = base64.b64encode(hashlib.sha256(request.body).digest()).decode()
        if content_hash != actual_hash:
            return acs_error(401, "Denied", "x-ms-content-sha256 does not match the body.")
        string_to_sign = f"{request.method.upper()}\n{request.target}\n{date};{host};{content_hash}"
        key = base64.b64decode(self.access_key)
        expected = base64.b64encode(hmac.new(key, string_to_sign.encode(), hashlib.sha256).digest()).decode()
        if not hmac.compare_digest(expected, match["sig"]):
            return acs_error(401, "Denied", "Denied by the resource provider: the HMAC signature does not match.")
        return None

    # ---- routes ------------------------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        path = request.path
        if request.method == "POST" and path == "/emails:send":
            return self._send(request)
        operation = _OPERATION_PATH.match(path)
        if request.method == "GET" and operation:
            return self._poll(request, operation["id"])
        return acs_error(404, "NotFound", f"no route for {request.method} {path}")

    def _check_version(self, request: Request) -> Response | None:
        version = request.param("api-version")
        if version != self.api_version:
            return acs_error(
                400, "UnsupportedApiVersion", f"The api-version '{version}' is not supported; use '{self.api_version}'."
            )
        return None

    def _take(self, queue: list[tuple[int, Any]]) -> Any | None:
        while queue:
            times, value = queue[0]
            if times <= 0:
                queue.pop(0)
                continue
            if times == 1:
                queue.pop(0)
            else:
                queue[0] = (times - 1, value)
            return value
        return None

    def _send(self, request: Request) -> Response:
        with self._state:
            self.send_attempts += 1
        problem = self._check_auth(request) or self._check_version(request)
        if problem is not None:
            return problem
        with self._state:
            retry_after = self._take(self._throttles)
            failure = None if retry_after is not None else self._take(self._send_failures)
        if retry_after is not None:
            shown = str(int(retry_after)) if float(retry_after).is_integer() else str(retry_after)
            return acs_error(429, "TooManyRequests", "The request was throttled: too many emails sent.", {"Retry-After": shown})
        if failure is not None:
            return acs_error(failure, "InternalServerError", "Injected failure.")
        try:
            message = request.json()
        except ValueError:
            return acs_error(400, "InvalidRequest", "The body is not JSON.")
        invalid = self._validate(message)
        if invalid:
            return acs_error(400, "InvalidRequest", invalid)
        operation_id = request.headers.get("Operation-Id") or str(uuid.uuid4())
        with self._state:
            outcome = "Succeeded"
            if self._operation_failures > 0:
                self._operation_failures -= 1
                outcome = "Failed"
            self._operations[operation_id] = _Operation(operation_id, self.running_polls, outcome)
            self.delivered.append(
                {
                    "operation_id": operation_id,
                    "message": message,
                    "auth": "bearer" if self.token is not None else "hmac",
                    "outcome": outcome,
                }
            )
        location = f"{self.url}/emails/operations/{operation_id}?api-version={self.api_version}"
        return json_response(
            202,
            {"id": operation_id, "status": "Running"},
            {"Operation-Location": location, "retry-after": "0", "Operation-Id": operation_id},
        )

    @staticmethod
    def _validate(message: Any) -> str | None:
        if not isinstance(message, dict):
            return "The message must be a JSON object."
        if not isinstance(message.get("senderAddress"), str) or not message["senderAddress"]:
            return "senderAddress is required."
        recipients = message.get("recipients")
        to = recipients.get("to") if isinstance(recipients, dict) else None
        if not isinstance(to, list) or not to:
            return "recipients.to must hold at least one recipient."
        for entry in to:
            if not isinstance(entry, dict) or not isinstance(entry.get("address"), str) or "@" not in entry["address"]:
                return f"recipients.to entry {entry!r} has no valid address."
        content = message.get("content")
        if not isinstance(content, dict) or not isinstance(content.get("subject"), str) or not content["subject"]:
            return "content.subject is required."
        if not content.get("plainText") and not content.get("html"):
            return "content.plainText or content.html is required."
        return None

    def _poll(self, request: Request, operation_id: str) -> Response:
        problem = self._check_auth(request) or self._check_version(request)
        if problem is not None:
            return problem
        with self._state:
            self.poll_count += 1
            operation = self._operations.get(operation_id)
            if operation is None:
                return acs_error(404, "NotFound", f"Operation '{operation_id}' not found.")
            operation.polls += 1
            if operation.polls_left > 0:
                operation.polls_left -= 1
                status = "Running"
            else:
                status = operation.outcome
                self._final_polls.add(operation_id)
                self._finished.notify_all()
        body: dict[str, Any] = {"id": operation_id, "status": status}
        if status == "Failed":
            body["error"] = {"code": "EmailDroppedAllRecipientsSuppressed", "message": "Injected: the email was dropped."}
        return json_response(200, body, {"retry-after": "0"})
