"""Providers, their vendor API keys and balance readings.

The reasons for each index are in docs/data-model.md.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from providers import BaseAdapter, Category, UnknownKind, get_adapter_class, kind_choices
from providers.outbound import origin


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


ErrorCategory: type[models.TextChoices] = models.TextChoices(  # type: ignore[call-overload]  # functional API, untyped in django-stubs
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

    @property
    def adapter_class(self) -> type[BaseAdapter]:
        """The vendor adapter of this provider's kind (providers.registry); UnknownKind if it has none."""
        return get_adapter_class(self.kind)

    @property
    def is_plan_based(self) -> bool:
        """A message allowance per plan (texting.blue, Telnxo) rather than a money balance."""
        return self.adapter_class.balance_kind == "quota"

    @property
    def api_url(self) -> str:
        """The URL the adapter calls: ``base_url``, or the vendor's documented one when it is blank."""
        return self.base_url or self.adapter_class.default_base_url

    @property
    def api_origin(self) -> str:
        """``scheme://host:port`` of :attr:`api_url`: a key is only ever sent to the origin it was verified for."""
        return origin(self.api_url)

    @property
    def default_origin(self) -> str:
        """The origin of the vendor's documented production URL ("" for an unknown kind)."""
        try:
            return origin(self.adapter_class.default_base_url)
        except UnknownKind:
            return ""

    @property
    def uses_custom_host(self) -> bool:
        """The API is called somewhere other than the vendor's documented host (a proxy, a sandbox, a simulator)."""
        if not self.base_url:
            return False
        return origin(self.base_url) != self.default_origin


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
    verified_origin = models.CharField(
        max_length=300,
        blank=True,
        help_text="scheme://host:port the key was verified against; it is never sent to another origin.",
    )

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
