"""The three roles (Django groups) and their permissions. docs/security.md explains them.

Migration 0003_roles creates the groups with a frozen copy of this table;
``ensure_roles()`` brings an existing database in line with it (the demo users
command and the tests call it; a test checks the migration and this table agree).
"""

from __future__ import annotations

SUPPORT = "Support"
ACCOUNT_MANAGER = "Account manager"
ADMIN = "Admin"

# "app_label.*" means every permission of that app's models.
ROLE_PERMISSIONS: dict[str, tuple[str, ...]] = {
    SUPPORT: (
        "messaging.view_provider",
        "messaging.view_send",
        "messaging.view_sendattempt",
        "messaging.view_errorevent",
        "messaging.view_alert",
        "messaging.send_message",
    ),
    ACCOUNT_MANAGER: (
        "messaging.view_provider",
        "messaging.view_balancesnapshot",
        "messaging.view_errorevent",
        "messaging.view_alert",
        "messaging.view_alertevent",
        "messaging.acknowledge_alert",
        "messaging.edit_thresholds",
        "messaging.poll_provider",
    ),
    ADMIN: (
        "messaging.*",
        "auth.view_user",
        "auth.add_user",
        "auth.change_user",
        "auth.delete_user",
        "auth.view_group",
        "auth.add_group",
        "auth.change_group",
        "auth.delete_group",
        "auth.view_permission",
    ),
}


def resolve(permission_model, names: tuple[str, ...]) -> list:
    """Permission rows for ``names``; raise LookupError naming any that do not exist."""
    found, missing = [], []
    for name in names:
        app_label, _, codename = name.partition(".")
        if codename == "*":
            rows = list(permission_model.objects.filter(content_type__app_label=app_label))
        else:
            rows = list(permission_model.objects.filter(content_type__app_label=app_label, codename=codename))
        if not rows:
            missing.append(name)
        found.extend(rows)
    if missing:
        raise LookupError(f"unknown permissions: {', '.join(missing)}")
    return found


def ensure_roles() -> dict[str, int]:
    """Create the groups if needed and set each one's permissions to exactly the table's."""
    from django.contrib.auth.models import Group, Permission

    counts = {}
    for role, names in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        permissions = resolve(Permission, names)
        group.permissions.set(permissions)
        counts[role] = len(permissions)
    return counts


def create_missing_roles(**kwargs: object) -> None:
    """post_migrate: a role that is gone (``manage.py flush``, a test that empties the tables) comes back.

    Only missing groups are made, with the table's permissions; a group an admin has changed
    is left as it is (``ensure_roles()`` is the explicit reset).
    """
    from django.contrib.auth.models import Group, Permission

    for role, names in ROLE_PERMISSIONS.items():
        if Group.objects.filter(name=role).exists():
            continue
        try:
            permissions = resolve(Permission, names)
        except LookupError:  # migrated backwards: the permissions are gone too, and so should the role be
            continue
        Group.objects.create(name=role).permissions.set(permissions)


def roles_with(*perms: str) -> list[str]:
    """The roles whose permissions include every one of ``perms`` (for "this page is for …")."""

    def grants(granted: tuple[str, ...], perm: str) -> bool:
        app_label = perm.split(".", 1)[0]
        return perm in granted or f"{app_label}.*" in granted

    return [role for role, granted in ROLE_PERMISSIONS.items() if all(grants(granted, p) for p in perms)]


def page_is_for(*perms: str) -> str:
    """One sentence for a refused page: which roles may open it."""
    roles = roles_with(*perms)
    if not roles:
        return "This page is for administrators only."
    names = roles[0] if len(roles) == 1 else ", ".join(roles[:-1]) + " and " + roles[-1]
    return f"This page is for the {names} role{'s' if len(roles) > 1 else ''}."
