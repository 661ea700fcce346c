"""The Functions entry points, indexed and called as the host would, with real azure.functions objects."""

from __future__ import annotations

import os
from pathlib import Path

import azure.functions as func
import pytest
from azure.functions.timer import TimerRequest

import function_app
from backup_events import bootstrap
from backup_events.errors import ConfigurationError
from tests.function_index import bindings


@pytest.fixture(autouse=True)
def fresh_services() -> None:
    bootstrap.services.cache_clear()


def test_timer_is_indexed_with_the_schedule_from_an_app_setting() -> None:
    timer = bindings()["poll_backup_jobs"][0]
    assert timer["type"] == "timerTrigger"
    assert timer["schedule"] == "%BACKUP_POLL_SCHEDULE%"
    assert timer["runOnStartup"] is False


def test_timer_tells_the_sample_failures_into_the_outbox(app_settings: Path) -> None:
    tmp_path = app_settings
    function_app.poll_backup_jobs(TimerRequest(past_due=True))
    written = len(list(tmp_path.glob("*.eml")))
    assert written > 0
    function_app.poll_backup_jobs(TimerRequest(past_due=False))
    assert len(list(tmp_path.glob("*.eml"))) == written


def test_missing_settings_fail_the_invocation_with_every_problem_named() -> None:
    assert not any(name.startswith("BACKUP_") for name in os.environ)
    with pytest.raises(ConfigurationError) as caught:
        function_app.poll_backup_jobs(TimerRequest(past_due=False))
    assert "BACKUP_VAULT_IDS" in str(caught.value) and "BACKUP_MAIL_RECIPIENTS" in str(caught.value)


def test_indexing_function_app_loads_neither_the_sdks_nor_the_package() -> None:
    import subprocess
    import sys

    probe = (
        "import sys, function_app; "
        "heavy = [m for m in sys.modules if m.startswith(('azure.identity', 'azure.mgmt', 'azure.data', "
        "'azure.communication', 'azure.eventgrid', 'azure.core', 'jinja2', 'backup_events'))]; "
        "print(','.join(sorted(heavy)))"
    )
    root = Path(function_app.__file__).parent
    loaded = subprocess.run([sys.executable, "-c", probe], cwd=root, capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == ""


def test_function_app_is_a_functions_app() -> None:
    assert isinstance(function_app.app, func.FunctionApp)
