"""Create the demo login and print it. The password is generated once and kept in var/."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from config.env import local_secret


class Command(BaseCommand):
    help = "Create (or reset) the demo admin login for the embedded default and print it."

    def handle(self, *args, **options):
        password = local_secret(settings.VAR_DIR / "demo-password", lambda: secrets.token_urlsafe(12))
        user_model = get_user_model()
        user, _ = user_model.objects.get_or_create(username="admin", defaults={"email": "admin@example.com"})
        user.is_staff = user.is_superuser = user.is_active = True
        user.set_password(password)
        user.save()
        self.stdout.write(self.style.SUCCESS(f"Demo login: username 'admin', password '{password}'"))
