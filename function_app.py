"""Azure Functions entry points: each trigger parses its input and hands it to one backup_events function.

Only ``azure.functions`` is imported here; the SDKs load on first use (cold start).
"""

import azure.functions as func

from backup_events import bootstrap, service

app = func.FunctionApp()


@app.timer_trigger(arg_name="timer", schedule="%BACKUP_POLL_SCHEDULE%", run_on_startup=False, use_monitor=True)
def poll_backup_jobs(timer: func.TimerRequest) -> None:
    """Every few minutes: tell each failed job of every watched vault, once."""
    service.on_timer(bootstrap.services(), past_due=timer.past_due)
