"""Template helpers for alert notifications (the alert page's notification table)."""

from __future__ import annotations

from django import template

from messaging.alerts import notify

register = template.Library()


@register.filter
def delivery_error(last_error: str) -> str:
    """A notification's last error as shown: for a failed webhook, its HTTP status and reason only.

    Rows written before the receiver's answer stopped being kept still hold its
    first 300 bytes after "HTTP nnn:"; those show the status only.
    """
    return notify.shown_error(last_error)
