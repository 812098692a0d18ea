"""Sends, their attempts, error events and the rollups counted from them.

The reasons for each index are in docs/data-model.md.
"""

from __future__ import annotations

from django.db import models
from django.db.models import JSONField, Q, Value
from django.utils import timezone

from messaging.models.providers import Channel, ErrorCategory, Provider


class SendStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    ACCEPTED = "accepted", "Accepted by vendor"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"
    UNKNOWN = "unknown", "Unknown (reconcile)"


# The statuses that used credit or plan allowance at the vendor (runway, plan usage).
CONSUMING_STATUSES = (SendStatus.ACCEPTED, SendStatus.DELIVERED)

# An E.164 number has at most 15 digits; a few more leave room for extensions and odd input.
RECIPIENT_KEY_DIGITS = 20


def recipient_key(recipient: str) -> str:
    """The recipient's last digits, last first: "ends with 521501" becomes an indexed prefix search.

    A btree index serves ``LIKE '105125%'`` but not ``LIKE '%521501'``; reversing the digits
    turns the one into the other (docs/data-model.md). Every writer of Send rows sets it.
    """
    digits = [ch for ch in recipient if "0" <= ch <= "9"]
    return "".join(reversed(digits))[:RECIPIENT_KEY_DIGITS]


class SendQuerySet(models.QuerySet):
    def bulk_create(self, objs, *args, **kwargs):
        # bulk_create skips save(): keep the search key here too, for every caller.
        objs = list(objs)
        for send in objs:
            send.recipient_key = recipient_key(send.recipient)
        return super().bulk_create(objs, *args, **kwargs)


class Send(models.Model):
    """One message to one recipient. Queued rows are the outbox."""

    class Source(models.TextChoices):
        SENDWATCH = "sendwatch", "Sent by Sendwatch"
        INGEST = "ingest", "Reported through the ingest API"

    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="sends")
    channel = models.CharField(max_length=12, choices=Channel.choices, default=Channel.SMS)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.SENDWATCH)
    recipient = models.CharField(max_length=320)
    # recipient_key(recipient), kept by every writer (and save()): the index for "ends with" searches.
    recipient_key = models.CharField(max_length=RECIPIENT_KEY_DIGITS, blank=True, default="", editable=False)
    sender = models.CharField(max_length=64, blank=True)
    body = models.TextField(blank=True, help_text="Cleared by retention; the hash stays.")
    body_sha256 = models.CharField(max_length=64, blank=True)
    idempotency_key = models.CharField(max_length=128, null=True, blank=True)  # noqa: DJ001 NULL never collides
    # Recipients split from one request share a batch id.
    batch_id = models.UUIDField(null=True, blank=True)
    # The send API (messaging.api.messages): the route it asked for, each routing decision in
    # words, the token that sent it, its idempotency key and what it sent (to tell a replay from
    # a different request under the same key), and the caller's metadata.
    route = models.ForeignKey("messaging.Route", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # db_default too: the bulk loaders (COPY) name only the columns they fill.
    routing = models.JSONField(
        default=list, db_default=Value([], JSONField()), blank=True, help_text="Routing decisions, oldest first."
    )
    api_token = models.ForeignKey(
        "messaging.ApiToken", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    request_key = models.CharField(max_length=128, null=True, blank=True)  # noqa: DJ001 NULL never collides
    request_sha256 = models.CharField(max_length=64, blank=True, default="", db_default="")
    # How often the message moved to another provider of its route (the Overview counts these).
    failovers = models.PositiveSmallIntegerField(default=0, db_default=0)
    metadata = models.JSONField(default=dict, db_default=Value({}, JSONField()), blank=True)

    status = models.CharField(max_length=10, choices=SendStatus.choices, default=SendStatus.QUEUED)
    vendor_message_id = models.CharField(max_length=128, blank=True)
    request_id = models.CharField(max_length=128, blank=True)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # When a worker claimed the row (queued -> sending); a stale claim means a lost worker.
    claimed_at = models.DateTimeField(null=True, blank=True)
    # The last error, denormalized so the send log needs no join.
    error_code = models.CharField(max_length=100, blank=True)
    error_category = models.CharField(max_length=20, choices=ErrorCategory.choices, blank=True)
    status_reason = models.CharField(max_length=300, blank=True)

    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    objects = SendQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="send_idempotency_key_per_provider",
            ),
            models.UniqueConstraint(
                fields=["api_token", "request_key"],
                condition=Q(request_key__isnull=False),
                name="send_request_key_per_token",
            ),
        ]
        permissions = [("send_message", "Can send and resend messages")]
        indexes = [
            # Send log and keyset pagination: newest first, id breaks ties.
            models.Index(fields=["-created_at", "-id"], name="send_created_idx"),
            # Per-provider windows (breakdown denominators, runway burn).
            models.Index(fields=["provider", "created_at"], name="send_provider_created_idx"),
            # The outbox sweeper reads only queued rows that are due.
            models.Index(fields=["next_attempt_at"], condition=Q(status="queued"), name="send_outbox_idx"),
            models.Index(fields=["claimed_at"], condition=Q(status="sending"), name="send_claimed_idx"),
            models.Index(fields=["recipient", "-created_at"], name="send_recipient_idx"),
            # LIKE 'prefix%' on PostgreSQL needs the pattern operator class; created_at and id ride along so
            # the newest matches are found without reading the table (both ignored by other backends).
            models.Index(
                fields=["recipient_key"],
                opclasses=["varchar_pattern_ops"],
                include=["created_at", "id"],
                name="send_recipient_key_idx",
            ),
            models.Index(fields=["vendor_message_id"], condition=~Q(vendor_message_id=""), name="send_vendor_msg_idx"),
            models.Index(fields=["request_id"], condition=~Q(request_id=""), name="send_request_id_idx"),
            # "42 sends failed over in 24 h": a count over a tiny index, not a scan of the day's sends.
            models.Index(fields=["-created_at"], condition=Q(failovers__gt=0), name="send_failover_idx"),
        ]

    def __str__(self) -> str:
        return f"Send {self.pk} to {self.recipient} via {self.provider_id} ({self.status})"

    def save(self, *args, **kwargs) -> None:
        self.recipient_key = recipient_key(self.recipient)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "recipient" in update_fields:
            kwargs["update_fields"] = {*update_fields, "recipient_key"}
        super().save(*args, **kwargs)


class SendAttempt(models.Model):
    """One call to the vendor for a send: latency and HTTP status of every try."""

    send = models.ForeignKey(Send, on_delete=models.CASCADE, related_name="attempt_rows")
    number = models.PositiveSmallIntegerField()
    started_at = models.DateTimeField()
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    outcome = models.CharField(max_length=10, choices=SendStatus.choices)
    error_code = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["send", "number"]
        constraints = [models.UniqueConstraint(fields=["send", "number"], name="one_row_per_attempt")]

    def __str__(self) -> str:
        return f"Attempt {self.number} of send {self.send_id}"


class ErrorEvent(models.Model):
    """One vendor error, normalized; ``error_code`` exactly as the vendor sent it."""

    class Source(models.TextChoices):
        SEND = "send", "Send"
        BALANCE = "balance", "Balance poll"
        INGEST = "ingest", "Ingest API"
        VERIFY = "verify", "Credential check"

    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="error_events")
    send = models.ForeignKey(Send, null=True, blank=True, on_delete=models.SET_NULL, related_name="error_events")
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.SEND)
    channel = models.CharField(max_length=12, choices=Channel.choices, default=Channel.SMS)
    occurred_at = models.DateTimeField()
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    error_code = models.CharField(max_length=100)
    category = models.CharField(max_length=20, choices=ErrorCategory.choices)
    retryable = models.BooleanField(default=False)
    known = models.BooleanField(default=True, help_text="Whether the code is in the vendor's catalogue.")
    message = models.TextField(blank=True)
    param = models.CharField(max_length=100, blank=True)
    request_id = models.CharField(max_length=200, blank=True)
    details = models.JSONField(default=dict, blank=True)
    raw_body = models.TextField(blank=True, help_text="Capped in size, credentials scrubbed.")

    class Meta:
        indexes = [
            models.Index(fields=["provider", "occurred_at"], name="error_provider_time_idx"),
            models.Index(fields=["provider", "error_code", "occurred_at"], name="error_code_time_idx"),
            models.Index(fields=["-occurred_at"], name="error_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.error_code} ({self.http_status}) at {self.occurred_at:%Y-%m-%d %H:%M}"


class SendRollup(models.Model):
    """Sends per provider, channel and time bucket, kept by messaging.traffic.rollups.

    Each send is counted once per grain (5 minutes, 1 hour, 1 day) so a window
    reads few rows whatever its length; raw rows can be pruned and these stay.
    """

    grain = models.PositiveIntegerField(help_text="Bucket length in seconds: 300, 3600 or 86400.")
    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="+")
    bucket = models.DateTimeField(help_text="Start of the bucket, UTC.")
    channel = models.CharField(max_length=12, choices=Channel.choices)
    sends = models.BigIntegerField(default=0)

    class Meta:
        default_permissions = ()  # internal counters: no one views or edits them as objects
        constraints = [
            models.UniqueConstraint(fields=["grain", "provider", "bucket", "channel"], name="send_rollup_key"),
        ]
        # The unique index serves one provider's window; this one all providers'.
        indexes = [models.Index(fields=["grain", "bucket"], name="send_rollup_time_idx")]

    def __str__(self) -> str:
        return f"{self.sends} sends of {self.provider_id} at {self.bucket:%Y-%m-%d %H:%M} ({self.grain}s)"


class ErrorRollup(models.Model):
    """Errors of sends (source send or ingest) per provider, channel, code, category and bucket."""

    grain = models.PositiveIntegerField(help_text="Bucket length in seconds: 300, 3600 or 86400.")
    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="+")
    bucket = models.DateTimeField(help_text="Start of the bucket, UTC.")
    channel = models.CharField(max_length=12, choices=Channel.choices)
    error_code = models.CharField(max_length=100)
    category = models.CharField(max_length=20, choices=ErrorCategory.choices)
    errors = models.BigIntegerField(default=0)

    class Meta:
        default_permissions = ()
        constraints = [
            models.UniqueConstraint(
                fields=["grain", "provider", "bucket", "channel", "error_code", "category"], name="error_rollup_key"
            ),
        ]
        indexes = [models.Index(fields=["grain", "bucket"], name="error_rollup_time_idx")]

    def __str__(self) -> str:
        return f"{self.errors} x {self.error_code} of {self.provider_id} at {self.bucket:%Y-%m-%d %H:%M}"
