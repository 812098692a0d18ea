"""Create the demo login and print it. The password is generated once and kept in var/."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand

from config.env import local_secret
from messaging.vault.roles import ACCOUNT_MANAGER, ADMIN, SUPPORT, ensure_roles

# One demo login per role; all share the generated password.
ROLE_USERS = (("support", SUPPORT), ("manager", ACCOUNT_MANAGER))


class Command(BaseCommand):
    help = "Create (or reset) the demo logins (admin, support, manager) for the embedded default and print them."

    def handle(self, *args, **options):
        password = local_secret(settings.VAR_DIR / "demo-password", lambda: secrets.token_urlsafe(12))
        user_model = get_user_model()
        user, _ = user_model.objects.get_or_create(username="admin", defaults={"email": "admin@example.com"})
        user.is_staff = user.is_superuser = user.is_active = True
        user.set_password(password)
        user.save()
        ensure_roles()
        groups = {group.name: group for group in Group.objects.filter(name__in=[ADMIN, SUPPORT, ACCOUNT_MANAGER])}
        user.groups.add(groups[ADMIN])
        logins = [("admin", ADMIN)]
        for username, role in ROLE_USERS:
            member, _ = user_model.objects.get_or_create(
                username=username, defaults={"email": f"{username}@example.com"}
            )
            member.is_staff = member.is_superuser = False
            member.is_active = True
            member.set_password(password)
            member.save()
            member.groups.set([groups[role]])
            logins.append((username, role))
        if options.get("verbosity", 1) < 1:
            return  # bin/run prints the logins itself, once, when the server answers
        for username, role in logins:
            self.stdout.write(self.style.SUCCESS(f"Demo login ({role}): username '{username}', password '{password}'"))
