from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "messaging"
    verbose_name = "Sendwatch"

    def ready(self) -> None:
        # Imported for their side effects, in Django's documented place for them:
        # - alerts.receivers connects the signal receivers (traffic and vault announce, alerts listen);
        # - vault.checks registers the master key ring's system checks, sendwatch.E001-E005;
        # - tasks registers the Celery tasks in every process, not only in workers, so work started
        #   by name (messaging.background) runs through the task's own options and eager mode.
        from messaging import tasks  # noqa: F401
        from messaging.alerts import receivers  # noqa: F401
        from messaging.vault import checks  # noqa: F401
