"""The Celery app. Tasks live in messaging/tasks.py and take ids only, never secrets."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("sendwatch")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
