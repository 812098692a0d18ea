"""Send.recipient_key: the recipient's digits reversed, so "ends with 521501" is an index prefix scan.

Existing rows are filled in one UPDATE on PostgreSQL and in batches elsewhere (SQLite has no
regexp_replace); the index comes after the fill so it is built once.
"""

from django.db import migrations, models

KEY_DIGITS = 20  # messaging.models.traffic.RECIPIENT_KEY_DIGITS when this was written


def key(recipient: str) -> str:
    return "".join(reversed([ch for ch in recipient if "0" <= ch <= "9"]))[:KEY_DIGITS]


def fill(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "UPDATE messaging_send SET recipient_key = left(reverse(regexp_replace(recipient, '[^0-9]', '', 'g')), %s) "
            "WHERE recipient ~ '[0-9]'",
            [KEY_DIGITS],
        )
        return
    Send = apps.get_model("messaging", "Send")
    batch = []
    for pk, recipient in Send.objects.exclude(recipient="").values_list("pk", "recipient").iterator(chunk_size=5000):
        batch.append(Send(pk=pk, recipient_key=key(recipient)))
        if len(batch) >= 5000:
            Send.objects.bulk_update(batch, ["recipient_key"])
            batch = []
    if batch:
        Send.objects.bulk_update(batch, ["recipient_key"])


class Migration(migrations.Migration):
    dependencies = [("messaging", "0006_scrub_webhook_answers")]

    operations = [
        migrations.AddField(
            model_name="send",
            name="recipient_key",
            field=models.CharField(blank=True, default="", editable=False, max_length=20),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop, elidable=True),
        migrations.AddIndex(
            model_name="send",
            index=models.Index(
                fields=["recipient_key"],
                include=["created_at", "id"],
                name="send_recipient_key_idx",
                opclasses=["varchar_pattern_ops"],
            ),
        ),
    ]
