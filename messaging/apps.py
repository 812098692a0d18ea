from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "messaging"
    verbose_name = "Sendwatch"

    def ready(self) -> None:
        # Signal receivers connect on import (Django's documented place for it); so do
        # the master key ring's system checks, sendwatch.E001-E005 (messaging/vault/checks.py).
        from messaging.alerts import receivers  # noqa: F401
        from messaging.vault import checks  # noqa: F401

        # Register the Celery tasks in every process, not only in workers: work started by
        # name (messaging.background) then runs through the task's own apply_async, so
        # eager mode and the task's options apply wherever it is started.
        from messaging import tasks  # noqa: F401
