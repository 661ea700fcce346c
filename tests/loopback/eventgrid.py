"""An Event Grid custom-topic stand-in: ``POST /api/events`` as a topic with CloudEvents input schema takes it.

Checks what the service checks: the bearer token (Entra auth; local auth is off on our topic), the api-version,
the CloudEvents batch content type, each event's required attributes and the 1 MB event limit.
"""

from __future__ import annotations

import threading
from typing import Any

from tests.loopback.tls import LoopbackHttpsServer, Request, Response

API_VERSION = "2018-01-01"
MAX_EVENT_BYTES = 1024 * 1024


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return Response(status, {"error": {"code": code, "message": message}}, headers or {})


class EventGridTopicStandIn(LoopbackHttpsServer):
    """Accepts CloudEvents; ``events`` holds what was accepted, in order."""

    def __init__(self, token: str = "eventgrid-token") -> None:
        super().__init__()
        self.token = token
        self.events: list[dict[str, Any]] = []
        self._failures: list[tuple[int, float | None]] = []
        self._guard = threading.Lock()

    @property
    def endpoint(self) -> str:
        return f"{self.url}/api/events"

    def fail(self, times: int, status: int = 503, retry_after: float | None = None) -> None:
        """The next ``times`` publishes answer ``status`` (with Retry-After when given)."""
        with self._guard:
            self._failures.extend([(status, retry_after)] * times)

    def handle(self, request: Request) -> Response:
        if request.method != "POST" or request.path != "/api/events":
            return super().handle(request)
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return _error(401, "Unauthorized", "The request authorization is missing or invalid")
        if request.param("api-version") != API_VERSION:
            return _error(400, "InvalidApiVersion", f"api-version {request.param('api-version')!r} is not supported")
        if not (request.headers.get("Content-Type") or "").startswith("application/cloudevents-batch+json"):
            return _error(400, "BadRequest", "this topic takes CloudEvents (application/cloudevents-batch+json)")
        with self._guard:
            if self._failures:
                status, retry_after = self._failures.pop(0)
                headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
                return _error(status, "ServiceUnavailable", "injected failure", headers)
        events = request.json()
        if not isinstance(events, list) or not events:
            return _error(400, "BadRequest", "body must be a non-empty JSON array")
        for event in events:
            missing = [a for a in ("id", "source", "type", "specversion") if not event.get(a)]
            if missing or event.get("specversion") != "1.0":
                return _error(400, "BadRequest", f"CloudEvent missing {missing or 'specversion 1.0'}")
        if len(request.body) > MAX_EVENT_BYTES:
            return _error(413, "RequestEntityTooLarge", "an event is limited to 1 MB")
        with self._guard:
            self.events.extend(events)
        return Response(200)
