from django.apps import AppConfig
from django.db.models.signals import post_migrate


class MessagingConfig(AppConfig):
    name = "messaging"
    verbose_name = "Sendwatch"

    def ready(self) -> None:
        # Imported for their side effects, in Django's documented place for them:
        # - alerts.receivers connects the signal receivers (traffic and vault announce, alerts listen);
        # - vault.checks registers the master key ring's system checks, sendwatch.E001-E005;
        # - vault.sessions marks a session renewed when its user logs in;
        # - tasks registers the Celery tasks in every process, not only in workers, so work started
        #   by name (messaging.background) runs through the task's own options and eager mode.
        from messaging import tasks  # noqa: F401
        from messaging.alerts import receivers  # noqa: F401
        from messaging.vault import checks, sessions  # noqa: F401
        from messaging.vault.roles import create_missing_roles

        # After the permissions exist (auth's own post_migrate receiver is connected first).
        post_migrate.connect(create_missing_roles, sender=self, dispatch_uid="sendwatch-roles")
