"""Sendwatch's tables. The reasons for each index are in docs/data-model.md."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from providers import Category, kind_choices


class ProviderStatus(models.TextChoices):
    OK = "ok", "OK"
    LOW = "low", "Low"
    CRITICAL = "critical", "Critical"
    BLOCKED = "blocked", "Blocked"
    DEGRADED = "degraded", "Degraded"
    CREDENTIAL_FAILED = "credential_failed", "Credential failed"
    UNREACHABLE = "unreachable", "Unreachable"
    UNKNOWN = "unknown", "Not checked yet"


class Channel(models.TextChoices):
    SMS = "sms", "SMS"
    WHATSAPP = "whatsapp", "WhatsApp"
    IMESSAGE = "imessage", "iMessage"
    EMAIL = "email", "Email"
    VOICE = "voice", "Voice"
    VERIFY = "verify", "Verify (OTP)"


ErrorCategory = models.TextChoices(
    "ErrorCategory", [(c.value, c.value.replace("_", " ").capitalize()) for c in Category]
)


class Provider(models.Model):
    """One configured account at a vendor. Several of the same kind are allowed."""

    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=50, unique=True)
    kind = models.CharField(max_length=20, choices=kind_choices)
    base_url = models.URLField(blank=True, help_text="Blank means the vendor's documented production URL.")
    # Vendor identifiers the adapter needs (8x8 account and sub-account ids). Never secrets.
    options = models.JSONField(default=dict, blank=True)
    currency = models.CharField(
        max_length=12, blank=True, help_text="ISO currency for money balances, or the quota unit (e.g. messages)."
    )
    default_sender = models.CharField(
        max_length=64,
        blank=True,
        help_text="Sender ID or number used when a send names none (texting.blue needs a number).",
    )
    enabled = models.BooleanField(default=True)

    # Thresholds: any that are blank are not checked.
    balance_warning = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    balance_critical = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    quota_warning_percent = models.PositiveSmallIntegerField(null=True, blank=True, default=80)
    quota_critical_percent = models.PositiveSmallIntegerField(null=True, blank=True, default=95)
    runway_warning_hours = models.PositiveIntegerField(null=True, blank=True, default=72)
    runway_critical_hours = models.PositiveIntegerField(null=True, blank=True, default=24)
    error_rate_ceiling_percent = models.DecimalField(max_digits=5, decimal_places=2, default=10)
    # Spike detection: the rate over the window against the same hour of the last 7 days.
    spike_window_minutes = models.PositiveSmallIntegerField(default=15)
    spike_min_sends = models.PositiveIntegerField(default=50, help_text="Below this volume no spike is reported.")
    spike_baseline_factor = models.DecimalField(
        max_digits=5, decimal_places=2, default=3, help_text="Alert when the rate is this many times the baseline."
    )
    poll_interval_seconds = models.PositiveIntegerField(default=300)
    last_polled_at = models.DateTimeField(null=True, blank=True)
    watchers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="watched_providers", help_text="Emailed about its alerts."
    )

    # Current state, kept by the balance poller and the send path.
    status = models.CharField(max_length=20, choices=ProviderStatus.choices, default=ProviderStatus.UNKNOWN)
    status_detail = models.CharField(max_length=300, blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)

    # Circuit breaker shared by every worker: consecutive server/network failures,
    # and until when calls to this vendor account are paused.
    breaker_failures = models.PositiveIntegerField(default=0)
    breaker_open_until = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        permissions = [
            ("edit_thresholds", "Can edit a provider's alert thresholds"),
            ("poll_provider", "Can poll a provider's balance now and test its connection"),
        ]

    def __str__(self) -> str:
        return self.name


class Credential(models.Model):
    """An API key (or key + secret) of a provider, stored encrypted.

    The plaintext is never stored: ``ciphertext`` is a Fernet token of the key
    material made with the master key named by ``key_id``.
    """

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        ACTIVE = "active", "Active"
        RETIRED = "retired", "Retired (grace period)"
        REVOKED = "revoked", "Revoked"

    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="credentials")
    label = models.CharField(max_length=100, blank=True)
    ciphertext = models.TextField(editable=False)
    key_id = models.CharField(max_length=40, editable=False, help_text="Which master key encrypted this row.")
    fingerprint = models.CharField(max_length=64, editable=False)
    hint = models.CharField(max_length=8, editable=False, help_text="Last characters of the key, for people.")
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    verify_ok = models.BooleanField(null=True, blank=True)
    verify_message = models.CharField(max_length=300, blank=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    retired_at = models.DateTimeField(null=True, blank=True)
    grace_until = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["provider", "-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider"], condition=Q(state="active"), name="one_active_credential_per_provider"
            ),
            # One rotation at a time: a single pending key per provider.
            models.UniqueConstraint(
                fields=["provider"], condition=Q(state="pending"), name="one_pending_credential_per_provider"
            ),
        ]
        permissions = [("manage_credentials", "Can add, verify, activate, roll back and revoke API keys")]
        indexes = [models.Index(fields=["state", "grace_until"], name="credential_grace_idx")]

    def __str__(self) -> str:
        return f"{self.provider} key …{self.hint} ({self.state})"


class SendStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    ACCEPTED = "accepted", "Accepted by vendor"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"
    UNKNOWN = "unknown", "Unknown (reconcile)"


class Send(models.Model):
    """One message to one recipient. Queued rows are the outbox."""

    class Source(models.TextChoices):
        SENDWATCH = "sendwatch", "Sent by Sendwatch"
        INGEST = "ingest", "Reported through the ingest API"

    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="sends")
    channel = models.CharField(max_length=12, choices=Channel.choices, default=Channel.SMS)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.SENDWATCH)
    recipient = models.CharField(max_length=320)
    sender = models.CharField(max_length=64, blank=True)
    body = models.TextField(blank=True, help_text="Cleared by retention; the hash stays.")
    body_sha256 = models.CharField(max_length=64, blank=True)
    idempotency_key = models.CharField(max_length=128, null=True, blank=True)  # noqa: DJ001 NULL never collides
    # Recipients split from one request share a batch id.
    batch_id = models.UUIDField(null=True, blank=True)

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

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="send_idempotency_key_per_provider",
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
            models.Index(fields=["vendor_message_id"], condition=~Q(vendor_message_id=""), name="send_vendor_msg_idx"),
            models.Index(fields=["request_id"], condition=~Q(request_id=""), name="send_request_id_idx"),
        ]

    def __str__(self) -> str:
        return f"Send {self.pk} to {self.recipient} via {self.provider_id} ({self.status})"


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
    """Sends per provider, channel and time bucket, kept by messaging.services.rollups.

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


class BalanceSnapshot(models.Model):
    """One balance or plan-usage reading of a provider."""

    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="balance_snapshots")
    fetched_at = models.DateTimeField()
    amount = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    currency = models.CharField(max_length=12, blank=True)
    used = models.BigIntegerField(null=True, blank=True)
    limit = models.BigIntegerField(null=True, blank=True)
    blocked = models.BooleanField(default=False, help_text="Vendor blocks sending (23 Telecom credit_blocked).")
    unavailable = models.BooleanField(default=False, help_text="Degraded answer: the amount is not real.")
    ok = models.BooleanField(default=True, help_text="False when the poll itself failed.")
    error_code = models.CharField(max_length=100, blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        get_latest_by = "fetched_at"
        indexes = [models.Index(fields=["provider", "-fetched_at"], name="balance_provider_time_idx")]

    def __str__(self) -> str:
        return f"{self.provider_id} balance at {self.fetched_at:%Y-%m-%d %H:%M}"


class Alert(models.Model):
    """A condition someone should act on. One open alert per condition (dedupe_key)."""

    class Kind(models.TextChoices):
        LOW_BALANCE = "low_balance", "Low balance"
        BALANCE_BLOCKED = "balance_blocked", "Sending blocked (no credit)"
        QUOTA_NEAR = "quota_near", "Plan quota nearly used"
        CREDENTIAL_FAILED = "credential_failed", "Credential failed"
        CREDENTIAL_AGE = "credential_age", "Credential too old"
        ERROR_SPIKE = "error_spike", "Error spike"
        UNREACHABLE = "unreachable", "Provider unreachable"

    class Severity(models.TextChoices):
        WARNING = "warning", "Warning"
        CRITICAL = "critical", "Critical"

    class State(models.TextChoices):
        OPEN = "open", "Open"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        RESOLVED = "resolved", "Resolved"

    provider = models.ForeignKey(Provider, null=True, blank=True, on_delete=models.CASCADE, related_name="alerts")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.WARNING)
    state = models.CharField(max_length=12, choices=State.choices, default=State.OPEN)
    dedupe_key = models.CharField(max_length=200)
    title = models.CharField(max_length=200)
    details = models.JSONField(default=dict, blank=True)

    opened_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    escalated_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    acknowledge_note = models.TextField(blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolve_note = models.TextField(blank=True)
    # The severity people were last told about: an escalation past it notifies again.
    notified_severity = models.CharField(max_length=10, choices=Severity.choices, blank=True)

    class Meta:
        ordering = ["-opened_at"]
        permissions = [("acknowledge_alert", "Can acknowledge and resolve alerts")]
        constraints = [
            models.UniqueConstraint(
                fields=["dedupe_key"], condition=~Q(state="resolved"), name="one_unresolved_alert_per_condition"
            ),
        ]
        indexes = [models.Index(fields=["state", "-opened_at"], name="alert_state_idx")]

    def __str__(self) -> str:
        return f"{self.get_severity_display()}: {self.title}"


class AlertEvent(models.Model):
    """One change in an alert's life: its history."""

    class Kind(models.TextChoices):
        OPENED = "opened", "Opened"
        ESCALATED = "escalated", "Escalated"
        DE_ESCALATED = "de_escalated", "Eased"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        RESOLVED = "resolved", "Resolved"

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=14, choices=Kind.choices)
    severity = models.CharField(max_length=10, choices=Alert.Severity.choices)
    at = models.DateTimeField()
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    note = models.TextField(blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["alert", "at", "id"]

    def __str__(self) -> str:
        return f"{self.alert_id} {self.kind} at {self.at:%Y-%m-%d %H:%M}"


class WebhookEndpoint(models.Model):
    """Where alert notifications are POSTed (Slack-compatible JSON, HMAC-SHA256 signed).

    With no provider it receives every provider's alerts. The signing secret is
    encrypted like a credential and shown once.
    """

    provider = models.ForeignKey(Provider, null=True, blank=True, on_delete=models.CASCADE, related_name="webhooks")
    url = models.URLField(max_length=500)
    secret_ciphertext = models.TextField(editable=False)
    secret_key_id = models.CharField(max_length=40, editable=False)
    secret_hint = models.CharField(max_length=8, editable=False)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.url} ({self.provider or 'all providers'})"


class Notification(models.Model):
    """One notification of one alert event to one recipient; failures stay visible."""

    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        WEBHOOK = "webhook", "Webhook"

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    alert_event = models.ForeignKey(AlertEvent, on_delete=models.CASCADE, related_name="notifications")
    channel = models.CharField(max_length=8, choices=Channel.choices)
    webhook = models.ForeignKey(WebhookEndpoint, null=True, blank=True, on_delete=models.SET_NULL)
    recipient = models.CharField(max_length=500, help_text="Email address or webhook URL.")
    state = models.CharField(max_length=8, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["next_attempt_at"], condition=Q(state="pending"), name="notification_due_idx")]

    def __str__(self) -> str:
        return f"{self.channel} to {self.recipient} ({self.state})"


class AuditEntry(models.Model):
    """Who did what to which object, from where. Never holds a secret."""

    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    actor_name = models.CharField(max_length=150, blank=True, help_text="Kept if the user is deleted.")
    action = models.CharField(max_length=60)
    target_type = models.CharField(max_length=60, blank=True)
    target_id = models.CharField(max_length=60, blank=True)
    target_repr = models.CharField(max_length=200, blank=True)
    at = models.DateTimeField(auto_now_add=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at"]
        verbose_name_plural = "audit entries"
        indexes = [models.Index(fields=["-at"], name="audit_time_idx")]

    def __str__(self) -> str:
        return f"{self.actor_name} {self.action} {self.target_repr}"


class ApiToken(models.Model):
    """A bearer token for the ingest API. Only a hash is stored; the token is shown once."""

    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, help_text="The token's first characters, to tell tokens apart.")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def active(self) -> bool:
        return self.revoked_at is None
