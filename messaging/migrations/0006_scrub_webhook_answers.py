"""Failed webhook deliveries used to keep the first 300 bytes of the receiver's answer
("HTTP 500: <body>"); a receiver's body can hold anything (issue: security, item 2). Keep the
status only, as new failures do."""

import re

from django.db import migrations

STORED_BODY = re.compile(r"^(HTTP \d{3}):.*", re.DOTALL)


def drop_stored_answers(apps, schema_editor):
    Notification = apps.get_model("messaging", "Notification")
    for notification in Notification.objects.filter(last_error__startswith="HTTP ").only("pk", "last_error"):
        match = STORED_BODY.match(notification.last_error)
        if match:
            Notification.objects.filter(pk=notification.pk).update(last_error=match.group(1))


class Migration(migrations.Migration):
    dependencies = [("messaging", "0005_security_scopes_and_origins")]

    operations = [migrations.RunPython(drop_stored_answers, migrations.RunPython.noop)]
