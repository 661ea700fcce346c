"""Azure Functions entry points: each trigger parses its input and hands it to one backup_events function.

Only ``azure.functions`` is imported at module level. The package (and through it the Azure SDKs) loads on a
function's first call: indexing stays fast on a cold instance, and a broken import or setting shows up as that
invocation's error instead of "0 functions found".
"""

import logging

import azure.functions as func

app = func.FunctionApp()


@app.timer_trigger(arg_name="timer", schedule="%BACKUP_POLL_SCHEDULE%", run_on_startup=False, use_monitor=True)
def poll_backup_jobs(timer: func.TimerRequest) -> None:
    """Every few minutes: record every watched vault's failed jobs into incidents and send what is owed."""
    from backup_events import bootstrap
    from backup_events.app import poll

    poll.on_timer(bootstrap.services(), past_due=timer.past_due)


@app.timer_trigger(arg_name="timer", schedule="0 */15 * * * *", run_on_startup=False, use_monitor=True)
def send_daily_summary(timer: func.TimerRequest) -> None:
    """Every quarter hour: at BACKUP_SUMMARY_SCHEDULE in BACKUP_TIMEZONE, the daily summary to each recipient group."""
    from backup_events import bootstrap
    from backup_events.app import summary

    summary.on_timer(bootstrap.services(), past_due=timer.past_due)


@app.route(route="alerts", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
def relay_backup_alert(req: func.HttpRequest) -> func.HttpResponse:
    """The action group's secure webhook: check its Entra token, then the built-in Backup alert, and publish it."""
    from backup_events import bootstrap
    from backup_events.app import relay

    tokens = bootstrap.relay_token_validator()
    answer = relay.relay_webhook(
        tokens, req.headers.get("Authorization"), bootstrap.relay_publisher(), req.get_body(), watches=bootstrap.relay_watches()
    )
    return func.HttpResponse(answer.message, status_code=answer.status, headers=dict(answer.headers), mimetype="text/plain")


@app.event_grid_trigger(arg_name="event")
def on_backup_alert(event: func.EventGridEvent) -> None:
    """A relayed alert: record its job once, enriched from the jobs API, and send what its incident is owed.

    The annotation must be one type; the host hands a ``func.CloudEvent`` when the topic speaks CloudEvents 1.0.
    """
    from backup_events import bootstrap
    from backup_events.app import alert_path, services

    event_type = event.type if isinstance(event, func.CloudEvent) else event.event_type
    try:
        data = event.get_json()
    except ValueError:
        data = None  # not JSON: the service rejects it with the reason, and the event is acknowledged
    outcome = alert_path.handle_alert_event(bootstrap.services(), services.EventEnvelope(id=event.id, type=event_type, data=data))
    logging.getLogger(__name__).info("Event %s: %s", event.id, outcome)
