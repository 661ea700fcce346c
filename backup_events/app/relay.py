"""The alert relay: built-in alert (action group webhook, common schema) in, CloudEvent to our topic out.

Azure Backup and Azure Monitor publish no Event Grid events of their own; this is the bridge. It checks the
alert and publishes it as it came; all enrichment happens in the Event Grid trigger, so the relay answers fast.

The HTTP function calls ``relay_webhook``: the caller's Entra token is checked first (the action group's secure
webhook, https://learn.microsoft.com/azure/azure-monitor/alerts/action-groups), and only then is the body read by
``relay_alert``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from backup_events.errors import MalformedInputError, PublishError, UnauthorizedError
from backup_events.ports import Publisher, TokenValidator
from backup_events.wire.alerts import parse_alert, read_body

log = logging.getLogger(__name__)

EVENT_TYPE_PREFIX = "BackupEvents.AzureMonitorAlert."
NOT_CONFIGURED = "relay auth not configured"


@dataclass(frozen=True)
class RelayAnswer:
    """What the HTTP function answers the action group."""

    status: int
    message: str
    headers: tuple[tuple[str, str], ...] = ()


def relay_webhook(
    tokens: TokenValidator | None,
    authorization: str | None,
    publisher: Publisher | None,
    body: bytes,
    *,
    watches: Callable[[str], bool] | None = None,
) -> RelayAnswer:
    """One call of the action group's webhook: its bearer token first, then the alert (``relay_alert``).

    ``tokens`` None (BACKUP_RELAY_AUDIENCE or BACKUP_RELAY_TENANT_ID unset) refuses every call with 503: the relay is
    never open. A bad or missing token is 401 with the reason; the body is neither read nor logged, nothing is published.
    """
    if tokens is None:
        log.error("Alert call refused: %s (set BACKUP_RELAY_AUDIENCE and BACKUP_RELAY_TENANT_ID)", NOT_CONFIGURED)
        return RelayAnswer(503, NOT_CONFIGURED)
    try:
        tokens.check(authorization)
    except UnauthorizedError as exc:
        if exc.retryable:
            log.error("Alert call not checked: %s", exc)
            return RelayAnswer(503, f"could not check the token: {exc}; retry later")
        log.warning("Alert call refused: %s", exc)
        return RelayAnswer(401, f"unauthorized: {exc}", (("WWW-Authenticate", 'Bearer error="invalid_token"'),))
    return relay_alert(publisher, body, watches=watches)


def relay_alert(publisher: Publisher | None, body: bytes, *, watches: Callable[[str], bool] | None = None) -> RelayAnswer:
    """Check one alert and publish it; 202 when published, 400 naming the problem, 403 for a vault we do not watch,
    503 to be retried.

    Only for a caller already authenticated (``relay_webhook``); the HTTP function never calls it directly.
    """
    try:
        payload = read_body(body)
        alert = parse_alert(payload)
    except MalformedInputError as exc:
        log.warning("Alert rejected: %s", exc)
        return RelayAnswer(400, f"rejected: {exc}")
    if watches is not None and not watches(alert.vault_id):
        log.warning("Alert %s refused: vault %s is not watched", alert.short_id, alert.vault_name)
        return RelayAnswer(403, "refused: the alert's vault is not one this app watches")
    if publisher is None:
        return RelayAnswer(503, "the relay is off: BACKUP_EVENTGRID_TOPIC_ENDPOINT is not set")
    condition = alert.condition.capitalize()
    try:
        publisher.publish(
            # Fired and Resolved of one alert are two events; redeliveries of either keep their id.
            event_id=f"{alert.short_id}-{condition.casefold()}",
            event_type=f"{EVENT_TYPE_PREFIX}{condition}",
            source=alert.vault_id,
            subject=alert.job_name or alert.short_id,
            data=payload,
        )
    except PublishError as exc:
        log.error("Alert %s not relayed: %s", alert.short_id, exc)
        return RelayAnswer(503, "could not publish the alert; retry later")
    log.info("Relayed alert %s (%s) of vault %s", alert.short_id, condition, alert.vault_name)
    return RelayAnswer(202, f"accepted: alert {alert.short_id} ({condition})")
