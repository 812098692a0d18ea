"""Django admin for every table. Credentials show only their hint and fingerprint."""

from django.contrib import admin

from messaging.models import (
    Alert,
    AlertEvent,
    ApiToken,
    AuditEntry,
    BalanceSnapshot,
    Credential,
    ErrorEvent,
    Notification,
    Provider,
    Send,
    SendAttempt,
    WebhookEndpoint,
)
from messaging.vault import audit, tokens


@admin.register(Provider)
class ProviderAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "kind", "status", "enabled", "currency", "updated_at"]
    list_filter = ["kind", "status", "enabled"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["status", "status_detail", "status_changed_at", "created_at", "updated_at"]


@admin.register(Credential)
class CredentialAdmin(admin.ModelAdmin):
    # Key material is added and rotated through the vault flow, never typed here.
    list_display = ["provider", "label", "hint", "state", "created_at", "activated_at", "grace_until", "last_used_at"]
    list_filter = ["state", "provider__kind"]
    search_fields = ["provider__name", "label", "hint", "fingerprint"]
    exclude = ["ciphertext"]
    readonly_fields = [
        "provider",
        "hint",
        "fingerprint",
        "key_id",
        "state",
        "created_by",
        "created_at",
        "verified_at",
        "verify_ok",
        "verify_message",
        "activated_at",
        "retired_at",
        "grace_until",
        "revoked_at",
        "last_used_at",
    ]

    def has_add_permission(self, request):
        return False


class SendAttemptInline(admin.TabularInline):
    model = SendAttempt
    extra = 0
    can_delete = False
    readonly_fields = ["number", "started_at", "latency_ms", "http_status", "outcome", "error_code"]


@admin.register(Send)
class SendAdmin(admin.ModelAdmin):
    list_display = ["id", "created_at", "provider", "channel", "recipient", "status", "error_code", "http_status"]
    list_filter = ["status", "channel", "source", "provider"]
    search_fields = ["=recipient", "=vendor_message_id", "=request_id", "=idempotency_key"]
    date_hierarchy = "created_at"
    list_select_related = ["provider"]
    show_full_result_count = False
    raw_id_fields = ["provider"]
    inlines = [SendAttemptInline]


@admin.register(SendAttempt)
class SendAttemptAdmin(admin.ModelAdmin):
    list_display = ["send", "number", "started_at", "outcome", "http_status", "latency_ms", "error_code"]
    list_filter = ["outcome"]
    search_fields = ["=send__id", "=error_code"]
    date_hierarchy = "started_at"
    show_full_result_count = False
    raw_id_fields = ["send"]


@admin.register(ErrorEvent)
class ErrorEventAdmin(admin.ModelAdmin):
    list_display = ["occurred_at", "provider", "error_code", "category", "http_status", "retryable", "source"]
    list_filter = ["category", "source", "retryable", "known", "provider"]
    search_fields = ["=error_code", "=request_id", "message"]
    date_hierarchy = "occurred_at"
    list_select_related = ["provider"]
    show_full_result_count = False
    raw_id_fields = ["send", "provider"]


@admin.register(BalanceSnapshot)
class BalanceSnapshotAdmin(admin.ModelAdmin):
    list_display = ["fetched_at", "provider", "amount", "currency", "used", "limit", "blocked", "unavailable", "ok"]
    list_filter = ["provider", "blocked", "unavailable", "ok"]
    date_hierarchy = "fetched_at"
    list_select_related = ["provider"]


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ["opened_at", "provider", "kind", "severity", "state", "title"]
    list_filter = ["state", "severity", "kind", "provider"]
    search_fields = ["title", "dedupe_key"]
    list_select_related = ["provider"]


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ["at", "actor_name", "action", "target_repr", "ip"]
    list_filter = ["action"]
    search_fields = ["actor_name", "action", "target_repr"]
    date_hierarchy = "at"

    # The audit log is append-only.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Ingest API tokens. Created with ``manage.py create_api_token`` (shown once); only a hash is stored."""

    list_display = ["name", "prefix", "created_at", "last_used_at", "revoked_at", "active"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "=prefix"]
    # token_hash is never shown: it is not editable and not listed here.
    fields = ["name", "prefix", "created_by", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["prefix", "created_by", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke_tokens"]

    @admin.display(boolean=True, description="Active")
    def active(self, obj):
        return obj.active

    def has_add_permission(self, request):
        return False

    @admin.action(description="Revoke selected tokens", permissions=["change"])
    def revoke_tokens(self, request, queryset):
        revoked = list(queryset.filter(revoked_at__isnull=True))
        count = tokens.revoke_queryset(queryset.filter(pk__in=[row.pk for row in revoked]))
        for row in revoked:
            audit.record(request, "api_token.revoke", row, prefix=row.prefix)
        self.message_user(request, f"Revoked {count} token(s).")


# -- alerts and notifications -----------------------------------------------------------


@admin.register(AlertEvent)
class AlertEventAdmin(admin.ModelAdmin):
    list_display = ["at", "alert", "kind", "severity", "actor"]
    list_filter = ["kind", "severity"]
    search_fields = ["alert__title", "=alert__id", "note"]
    date_hierarchy = "at"
    list_select_related = ["alert", "actor"]
    raw_id_fields = ["alert", "actor"]


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    """Created with ``manage.py create_webhook`` (the secret is shown once); only URL, scope and on/off edit here."""

    list_display = ["url", "provider", "secret_hint", "enabled", "created_at"]
    list_filter = ["enabled", "provider"]
    search_fields = ["url"]
    fields = ["url", "provider", "enabled", "secret_hint", "created_at"]
    readonly_fields = ["secret_hint", "created_at"]

    def has_add_permission(self, request):
        return False


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["created_at", "state", "channel", "recipient", "attempts", "next_attempt_at", "last_error"]
    list_filter = ["state", "channel"]
    search_fields = ["recipient", "last_error"]
    date_hierarchy = "created_at"
    raw_id_fields = ["alert_event", "webhook"]
