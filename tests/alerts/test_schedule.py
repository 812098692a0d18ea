"""The beat schedule names real tasks at the documented intervals."""

from __future__ import annotations

from django.conf import settings

from config.celery import app
from messaging import tasks


def test_the_beat_schedule_runs_polls_spikes_notifications_and_the_sweeper():
    by_task = {entry["task"]: entry["schedule"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert by_task["messaging.tasks.poll_due_providers"] == 60
    assert by_task["messaging.tasks.evaluate_spikes"] == 60
    assert by_task["messaging.tasks.deliver_notifications"] == 30
    assert by_task["messaging.tasks.sweep_outbox"] == 30
    assert tasks.poll_provider.name in app.tasks
    assert set(by_task) <= set(app.tasks), set(by_task) - set(app.tasks)
