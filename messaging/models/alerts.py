"""Alerts, their history, webhook endpoints and notifications.

The reasons for each index are in docs/data-model.md.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from messaging.models.providers import Provider


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
