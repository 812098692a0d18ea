"""Sendwatch's pages and API, one view module per page (messaging.dashboard) and the API (messaging.api)."""

from django.urls import path

from messaging.api import messages as send_api
from messaging.api import views as api
from messaging.dashboard import alerts, codes, errors, keys, overview, providers, routes, sends
from messaging.demo import controls

app_name = "messaging"
urlpatterns: list = [
    path("errors/", errors.errors, name="errors"),
    path("errors/code/", errors.error_code_events, name="error_code"),
    path("errors/export.csv", errors.errors_export, name="errors_export"),
    path("sends/", sends.sends, name="sends"),
    path("sends/<int:pk>/", sends.send_detail, name="send_detail"),
    path("sends/export.csv", sends.sends_export, name="sends_export"),
    path("codes/", codes.codes, name="codes"),
    path("codes/decode/", codes.decode, name="decode"),
    # Overview partials and "poll now" (see messaging/dashboard/overview.py).
    path("providers/<slug:slug>/poll/", overview.provider_poll, name="provider_poll"),
    path("providers/<slug:slug>/poll/status/", overview.provider_poll_status, name="provider_poll_status"),
    # Alerts.
    path("alerts/", alerts.alerts_page, name="alerts"),
    path("alerts/<int:pk>/", alerts.alert_detail, name="alert_detail"),
    path("alerts/<int:pk>/acknowledge/", alerts.alert_acknowledge, name="alert_acknowledge"),
    path("alerts/<int:pk>/resolve/", alerts.alert_resolve, name="alert_resolve"),
    # Providers: list, detail, create, edit, thresholds.
    path("providers/", providers.provider_list, name="providers"),
    path("providers/new/", providers.provider_create, name="provider_create"),
    path("providers/<slug:slug>/", providers.provider_detail, name="provider_detail"),
    path("providers/<slug:slug>/edit/", providers.provider_edit, name="provider_edit"),
    path("providers/<slug:slug>/thresholds/", providers.provider_thresholds, name="provider_thresholds"),
    path("providers/<slug:slug>/watch/", providers.provider_watch, name="provider_watch"),
    # Routes (admins): list with live state, create, edit, delete.
    path("routes/", routes.route_list, name="routes"),
    path("routes/new/", routes.route_create, name="route_create"),
    path("routes/<slug:slug>/edit/", routes.route_edit, name="route_edit"),
    path("routes/<slug:slug>/delete/", routes.route_delete, name="route_delete"),
    # Demo only (SENDWATCH_SIMULATOR): make a failover happen (messaging/demo/controls.py).
    path("routes/<slug:slug>/test-messages/", controls.send_test_messages, name="route_test_messages"),
    path("providers/<slug:slug>/simulator/<str:action>/", controls.vendor_action, name="simulator_action"),
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
    # The send API (bearer tokens with messages:send, see docs/api.md "Send API").
    path("api/v1/messages", send_api.send_messages, name="messages"),
    path("api/v1/messages/<int:pk>", send_api.message_detail, name="message_detail"),
    path("api/v1/openapi.json", api.openapi, name="openapi"),
]
