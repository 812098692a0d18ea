"""Data migration: the Support, Account manager and Admin groups (docs/security.md).

The role table is frozen here on purpose (a migration must not change when
messaging/roles.py does); a test checks both agree. Permissions are created
first, because Django only creates them after the last migration has run.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ROLES = {
    "Support": (
        "messaging.view_provider",
        "messaging.view_send",
        "messaging.view_sendattempt",
        "messaging.view_errorevent",
        "messaging.view_alert",
        "messaging.send_message",
    ),
    "Account manager": (
        "messaging.view_provider",
        "messaging.view_balancesnapshot",
        "messaging.view_errorevent",
        "messaging.view_alert",
        "messaging.view_alertevent",
        "messaging.acknowledge_alert",
        "messaging.edit_thresholds",
        "messaging.poll_provider",
    ),
    "Admin": (
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


def create_roles(apps, schema_editor):
    using = schema_editor.connection.alias
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0, using=using, apps=apps)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, names in ROLES.items():
        permissions = []
        for name in names:
            app_label, _, codename = name.partition(".")
            rows = Permission.objects.using(using).filter(content_type__app_label=app_label)
            if codename != "*":
                rows = rows.filter(codename=codename)
            rows = list(rows)
            if not rows:
                raise LookupError(f"role {role!r}: permission {name!r} does not exist")
            permissions.extend(rows)
        group, _ = Group.objects.using(using).get_or_create(name=role)
        group.permissions.set(permissions)


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.using(schema_editor.connection.alias).filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0002_alerts_notifications_permissions"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
