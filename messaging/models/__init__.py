"""Sendwatch's tables, one module per job; the app label stays ``messaging`` (no schema change).

Import models from here (``from messaging.models import Send``): the modules are a filing order.
"""

from messaging.models.access import ApiToken, AuditEntry
from messaging.models.alerts import Alert, AlertEvent, Notification, WebhookEndpoint
from messaging.models.providers import BalanceSnapshot, Channel, Credential, ErrorCategory, Provider, ProviderStatus
from messaging.models.routing import Route, RouteStep
from messaging.models.traffic import (
    CONSUMING_STATUSES,
    RECIPIENT_KEY_DIGITS,
    ErrorEvent,
    ErrorRollup,
    Send,
    SendAttempt,
    SendRollup,
    SendStatus,
    recipient_key,
)

__all__ = [
    "CONSUMING_STATUSES",
    "RECIPIENT_KEY_DIGITS",
    "Alert",
    "AlertEvent",
    "ApiToken",
    "AuditEntry",
    "BalanceSnapshot",
    "Channel",
    "Credential",
    "ErrorCategory",
    "ErrorEvent",
    "ErrorRollup",
    "Notification",
    "Provider",
    "ProviderStatus",
    "Route",
    "RouteStep",
    "Send",
    "SendAttempt",
    "SendRollup",
    "SendStatus",
    "WebhookEndpoint",
    "recipient_key",
]
