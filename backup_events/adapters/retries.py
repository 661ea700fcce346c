"""The retry settings every adapter gives azure-core's ``RetryPolicy``: one count for every kind of failure."""

from __future__ import annotations


def retry_settings(retries: int, backoff_factor: float, backoff_max: float) -> dict[str, float]:
    """Keyword arguments for a ``RetryPolicy``: small, equal counts; a backoff capped at ``backoff_max`` seconds."""
    return {
        "retry_total": retries,
        "retry_connect": retries,
        "retry_read": retries,
        "retry_status": retries,
        "retry_backoff_factor": backoff_factor,
        "retry_backoff_max": max(backoff_max, 1.0),
    }
