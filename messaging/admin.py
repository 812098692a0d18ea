"""The Django admin: for superusers only, and a read-only window onto Sendwatch's tables.

Every change to Sendwatch's own data goes through the app's pages and management
commands, which check roles, ask for the password again where it matters and write
the audit log (docs/security.md, "The Django admin"). Here:

- only active superusers get in (``admin.site.has_permission``): an Admin-group
  member with ``is_staff`` gets the admin's "not authorized" login page, so nobody
  but a superuser can change a user's flags, groups or permissions;
- every ``messaging`` table is view-only (no add, change or delete), with two audited
  exceptions: an API token can be renamed or revoked (``api_token.rename``,
  ``api_token.revoke``) and a webhook endpoint switched on or off
  (``webhook.enable`` / ``webhook.disable``). Its URL and scope are fixed: make a new
  endpoint with ``manage.py create_webhook`` instead;
- credentials show only their hint and fingerprint (the ciphertext is never shown).

Users, groups and django-axes' access attempts stay with the stock admin classes,
which superusers use as Django ships them.
"""

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
from messaging.vault.actor import Actor


def superusers_only(request) -> bool:
    """``AdminSite.has_permission``: the admin is for active superusers, not for every ``is_staff`` user."""
    user = request.user
    return bool(user.is_active and user.is_superuser)


# The default site serves /admin/ (config/urls.py); its stock check is is_active and is_staff.
admin.site.has_permission = superusers_only  # type: ignore[method-assign]  # replaces the stock check on purpose
admin.site.site_header = "Sendwatch administration (superusers)"


class ReadOnlyAdmin(admin.ModelAdmin):
    """View only: Sendwatch's rows change through the app's audited pages and commands, never here."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Provider)
class ProviderAdmin(ReadOnlyAdmin):
    # Added and edited on the app's provider pages (options checked for secrets, audited).
    list_display = ["name", "slug", "kind", "status", "enabled", "currency", "updated_at"]
    list_filter = ["kind", "status", "enabled"]
    search_fields = ["name", "slug"]


@admin.register(Credential)
class CredentialAdmin(ReadOnlyAdmin):
    # Key material is added and rotated through the vault flow (re-authenticated, audited), never here.
    list_display = ["provider", "label", "hint", "state", "created_at", "activated_at", "grace_until", "last_used_at"]
    list_filter = ["state", "provider__kind"]
    search_fields = ["provider__name", "label", "hint", "fingerprint"]
    exclude = ["ciphertext"]


class SendAttemptInline(ReadOnlyInline):
    model = SendAttempt


@admin.register(Send)
class SendAdmin(ReadOnlyAdmin):
    list_display = ["id", "created_at", "provider", "channel", "recipient", "status", "error_code", "http_status"]
    list_filter = ["status", "channel", "source", "provider"]
    search_fields = ["=recipient", "=vendor_message_id", "=request_id", "=idempotency_key"]
    date_hierarchy = "created_at"
    list_select_related = ["provider"]
    show_full_result_count = False
    raw_id_fields = ["provider"]
    inlines = [SendAttemptInline]


@admin.register(SendAttempt)
class SendAttemptAdmin(ReadOnlyAdmin):
    list_display = ["send", "number", "started_at", "outcome", "http_status", "latency_ms", "error_code"]
    list_filter = ["outcome"]
    search_fields = ["=send__id", "=error_code"]
    date_hierarchy = "started_at"
    show_full_result_count = False
    raw_id_fields = ["send"]


@admin.register(ErrorEvent)
class ErrorEventAdmin(ReadOnlyAdmin):
    list_display = ["occurred_at", "provider", "error_code", "category", "http_status", "retryable", "source"]
    list_filter = ["category", "source", "retryable", "known", "provider"]
    search_fields = ["=error_code", "=request_id", "message"]
    date_hierarchy = "occurred_at"
    list_select_related = ["provider"]
    show_full_result_count = False
    raw_id_fields = ["send", "provider"]


@admin.register(BalanceSnapshot)
class BalanceSnapshotAdmin(ReadOnlyAdmin):
    list_display = ["fetched_at", "provider", "amount", "currency", "used", "limit", "blocked", "unavailable", "ok"]
    list_filter = ["provider", "blocked", "unavailable", "ok"]
    date_hierarchy = "fetched_at"
    list_select_related = ["provider"]


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdmin):
    # Acknowledged and resolved on the app's alert pages, which keep the history (AlertEvent).
    list_display = ["opened_at", "provider", "kind", "severity", "state", "title"]
    list_filter = ["state", "severity", "kind", "provider"]
    search_fields = ["title", "dedupe_key"]
    list_select_related = ["provider"]


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    """The audit log is append-only."""

    list_display = ["at", "actor_name", "action", "target_repr", "ip"]
    list_filter = ["action"]
    search_fields = ["actor_name", "action", "target_repr"]
    date_hierarchy = "at"


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Ingest API tokens. Created with ``manage.py create_api_token`` (shown once); only a hash is stored.

    A superuser may rename a token or revoke it here, both audited; nothing can be added or deleted.
    """

    list_display = ["name", "prefix", "created_at", "last_used_at", "revoked_at", "active"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "=prefix"]
    # token_hash is never shown: it is not editable and not listed here.
    # What a token may do and for which providers is fixed when it is made (create_api_token).
    readonly_fields = (
        "prefix",
        "scopes",
        "all_providers",
        "providers",
        "created_by",
        "created_at",
        "last_used_at",
        "revoked_at",
    )
    fields = ("name", *readonly_fields)
    actions = ["revoke_tokens"]

    @admin.display(boolean=True, description="Active")
    def active(self, obj):
        return obj.active

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        before = ApiToken.objects.filter(pk=obj.pk).values_list("name", flat=True).first() if change else None
        super().save_model(request, obj, form, change)
        if change and before != obj.name:
            audit.record(
                Actor.from_request(request), "api_token.rename", obj, prefix=obj.prefix, old_name=before, name=obj.name
            )

    @admin.action(description="Revoke selected tokens", permissions=["change"])
    def revoke_tokens(self, request, queryset):
        revoked = list(queryset.filter(revoked_at__isnull=True))
        count = tokens.revoke_queryset(queryset.filter(pk__in=[row.pk for row in revoked]))
        for row in revoked:
            audit.record(Actor.from_request(request), "api_token.revoke", row, prefix=row.prefix)
        self.message_user(request, f"Revoked {count} token(s).")


# -- alerts and notifications -----------------------------------------------------------


@admin.register(AlertEvent)
class AlertEventAdmin(ReadOnlyAdmin):
    list_display = ["at", "alert", "kind", "severity", "actor"]
    list_filter = ["kind", "severity"]
    search_fields = ["alert__title", "=alert__id", "note"]
    date_hierarchy = "at"
    list_select_related = ["alert", "actor"]
    raw_id_fields = ["alert", "actor"]


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    """Created with ``manage.py create_webhook`` (the secret is shown once).

    Only *enabled* changes here, audited. The URL and the provider scope are fixed: an
    unaudited URL change would send signed alerts elsewhere. For a new URL, create a new
    endpoint and disable this one.
    """

    list_display = ["url", "provider", "secret_hint", "enabled", "created_at"]
    list_filter = ["enabled", "provider"]
    search_fields = ["url"]
    fields = ["url", "provider", "enabled", "secret_hint", "created_at"]
    readonly_fields = ["url", "provider", "secret_hint", "created_at"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        before = WebhookEndpoint.objects.filter(pk=obj.pk).values_list("enabled", flat=True).first()
        super().save_model(request, obj, form, change)
        if change and before is not None and before != obj.enabled:
            audit.record(
                Actor.from_request(request),
                "webhook.enable" if obj.enabled else "webhook.disable",
                obj,
                provider=obj.provider.slug if obj.provider else None,
                hint=obj.secret_hint,
            )


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "state", "channel", "recipient", "attempts", "next_attempt_at", "last_error"]
    list_filter = ["state", "channel"]
    search_fields = ["recipient", "last_error"]
    date_hierarchy = "created_at"
    raw_id_fields = ["alert_event", "webhook"]
