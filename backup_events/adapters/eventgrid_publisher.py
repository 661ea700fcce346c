"""Publishes relayed alerts to the Event Grid custom topic as CloudEvents (``azure-eventgrid``), by identity."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from backup_events.errors import PublishError


class EventGridPublisher:
    """Implements ``ports.Publisher`` on one custom topic (CloudEvents input schema, local auth off)."""

    def __init__(self, *, endpoint: str, credential: Any, connection_verify: str | bool = True) -> None:
        # The public EventGridPublisherClient of azure-eventgrid 4.22 drops transport keywords (retries,
        # connection_verify) for basic topics and hands them to this very class without them; use it directly.
        from azure.eventgrid._legacy import EventGridPublisherClient  # noqa: PLC0415

        # Few, quick retries: the action group waits on the relay, and retries the whole call itself.
        self._client = EventGridPublisherClient(
            endpoint,
            credential,
            connection_verify=connection_verify,
            retry_total=2,
            retry_backoff_factor=0.2,
            retry_backoff_max=2,
        )

    def publish(self, *, event_id: str, event_type: str, source: str, subject: str, data: Mapping[str, Any]) -> None:
        from azure.core.exceptions import AzureError  # noqa: PLC0415
        from azure.core.messaging import CloudEvent  # noqa: PLC0415

        event = CloudEvent(source=source, type=event_type, data=dict(data), subject=subject, id=event_id)
        try:
            self._client.send([event])
        except AzureError as exc:
            status = getattr(exc, "status_code", None)
            raise PublishError(f"Event Grid did not take event {event_id}: {status or type(exc).__name__} {exc.message}") from exc
