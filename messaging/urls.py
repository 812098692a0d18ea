from django.urls import path

from messaging.api import views as api
from messaging.dashboard import alerts as views_alerts
from messaging.dashboard import codes as views_codes
from messaging.dashboard import errors as views_errors
from messaging.dashboard import keys
from messaging.dashboard import overview as views
from messaging.dashboard import providers as views_providers
from messaging.dashboard import sends as views_sends

app_name = "messaging"
urlpatterns: list = [
    path("errors/", views_errors.errors, name="errors"),
    path("errors/code/", views_errors.error_code_events, name="error_code"),
    path("errors/export.csv", views_errors.errors_export, name="errors_export"),
    path("sends/", views_sends.sends, name="sends"),
    path("sends/<int:pk>/", views_sends.send_detail, name="send_detail"),
    path("sends/export.csv", views_sends.sends_export, name="sends_export"),
    path("codes/", views_codes.codes, name="codes"),
    path("codes/decode/", views_codes.decode, name="decode"),
    # Overview partials and "poll now" (see messaging/views.py).
    path("providers/<slug:slug>/poll/", views.provider_poll, name="provider_poll"),
    # Alerts.
    path("alerts/", views_alerts.alerts_page, name="alerts"),
    path("alerts/<int:pk>/", views_alerts.alert_detail, name="alert_detail"),
    path("alerts/<int:pk>/acknowledge/", views_alerts.alert_acknowledge, name="alert_acknowledge"),
    path("alerts/<int:pk>/resolve/", views_alerts.alert_resolve, name="alert_resolve"),
    # Providers: list, detail, create, edit, thresholds.
    path("providers/", views_providers.provider_list, name="providers"),
    path("providers/new/", views_providers.provider_create, name="provider_create"),
    path("providers/<slug:slug>/", views_providers.provider_detail, name="provider_detail"),
    path("providers/<slug:slug>/edit/", views_providers.provider_edit, name="provider_edit"),
    path("providers/<slug:slug>/thresholds/", views_providers.provider_thresholds, name="provider_thresholds"),
    path("providers/<slug:slug>/watch/", views_providers.provider_watch, name="provider_watch"),
    # API keys (admins): list, add, verify, activate, roll back, revoke; the re-authentication prompt.
    path("credentials/", keys.credential_index, name="credential_index"),
    path("providers/<slug:slug>/credentials/", keys.credential_list, name="credentials"),
    path("providers/<slug:slug>/credentials/add/", keys.credential_add, name="credential_add"),
    path("providers/<slug:slug>/credentials/rollback/", keys.credential_rollback, name="credential_rollback"),
    path("providers/<slug:slug>/credentials/<int:pk>/verify/", keys.credential_verify, name="credential_verify"),
    path("providers/<slug:slug>/credentials/<int:pk>/activate/", keys.credential_activate, name="credential_activate"),
    path("providers/<slug:slug>/credentials/<int:pk>/revoke/", keys.credential_revoke, name="credential_revoke"),
    path("reauth/", keys.reauth, name="reauth"),
    # The ingest API (bearer tokens, see docs/api.md) and its OpenAPI document.
    path("api/v1/events", api.ingest_events, name="ingest_events"),
    path("api/v1/openapi.json", api.openapi, name="openapi"),
]
