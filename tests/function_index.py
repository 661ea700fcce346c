"""The app's functions as the host indexes them. ``FunctionApp.get_functions()`` may run once per process."""

from __future__ import annotations

import functools
import json
from typing import Any

import function_app


@functools.cache
def bindings() -> dict[str, list[dict[str, Any]]]:
    """Function name -> its bindings, as in the function.json the host builds."""
    return {f.get_function_name(): json.loads(f.get_function_json())["bindings"] for f in function_app.app.get_functions()}
