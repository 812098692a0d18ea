"""Start Celery work by task name, so no package has to import messaging.tasks (the top layer).

Tasks take ids only, never secrets (docs/security.md). When the task is registered in this
process, its own apply_async runs (eager mode and test hooks apply); otherwise the name is
sent to the broker. Callers decide what a broker outage means for them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from celery import current_app


def start(task_name: str, args: Sequence[object] = (), *, countdown: float | None = None, retry: bool = True) -> None:
    """``retry=False`` for a web request: one publish attempt, so a broker that is away fails fast
    (within the broker connection timeout) instead of holding the worker through Celery's retries."""
    options: dict[str, Any] = {"retry": retry}
    if countdown is not None:
        options["countdown"] = countdown
    current_app.signature(task_name, args=list(args)).apply_async(**options)
