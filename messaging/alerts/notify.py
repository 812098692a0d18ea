"""Alert notifications: an email to each watcher, a signed POST to each webhook.

``queue(event)`` writes one Notification per recipient in the alert's own
transaction and asks for delivery once it commits. Delivery
(``deliver_due``, the ``deliver_notifications`` task, also run by beat every
30 s) happens outside any alert transaction: a notification is *claimed* by
counting the attempt and pushing ``next_attempt_at`` past a lease, the call is
made with no transaction open, and the outcome is written alone. A failure is
retried after 30 s, 2 min, 10 min, 30 min and 2 h; after
``SENDWATCH_NOTIFY_MAX_ATTEMPTS`` (6) attempts it is ``failed`` with its last
error kept. Nothing here ever changes the alert.

What a notification says is fixed when its event happens: ``queue`` builds the email
(subject, body) and the webhook body once and stores them on the AlertEvent; every
attempt sends those stored bytes (only the signing timestamp is the attempt's own).

Webhooks get JSON with a Slack-compatible ``text`` and structured fields,
signed with HMAC-SHA256 of ``f"{timestamp}.{body}"`` under the endpoint's
secret (sealed with messaging.vault.crypto): headers ``X-Sendwatch-Timestamp`` and
``X-Sendwatch-Signature: sha256=<hex>``. docs/alerts.md shows how to verify.
Every value put into ``text`` is escaped as Slack asks (``&`` ``<`` ``>``), so an
alert title carrying a vendor's error code cannot ping ``<!channel>`` or add links;
the structured fields stay plain JSON.

Outbound guard (providers/outbound.py, docs/security.md): a webhook URL must not
point at a private, loopback, link-local or cloud metadata address unless its
host is in ``SENDWATCH_ALLOW_PRIVATE_HOSTS`` (metadata never): checked when the
endpoint is created and again at every delivery, at connect time. Redirects are
not followed. A failed delivery keeps the HTTP status and its standard reason
phrase, never the receiver's answer.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from http import HTTPStatus

import requests
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from messaging import background
from messaging.models import Alert, AlertEvent, Notification, Provider, WebhookEndpoint
from messaging.vault.crypto import seal, unseal
from providers import ApiCredential
from providers.outbound import OutboundRefused, check_url, guarded_session

log = logging.getLogger(__name__)

# Waits after the 1st, 2nd, ... failed attempt.
BACKOFF_SECONDS = (30, 2 * 60, 10 * 60, 30 * 60, 2 * 3600)
# A claimed notification is retried after this if its worker died mid-delivery.
LEASE_SECONDS = 120
# last_error of deliveries made before receivers' answers stopped being kept: "HTTP 500: <their body>".
_LEGACY_HTTP_ERROR = re.compile(r"HTTP (\d{3}):")
NOTIFIED_EVENTS = (AlertEvent.Kind.OPENED, AlertEvent.Kind.ESCALATED, AlertEvent.Kind.RESOLVED)
EVENT_STATE: dict[str, str] = {
    AlertEvent.Kind.OPENED: Alert.State.OPEN,
    AlertEvent.Kind.ESCALATED: Alert.State.OPEN,
    AlertEvent.Kind.RESOLVED: Alert.State.RESOLVED,
}
# AlertEvent.details[NOTIFICATION_KEY]: the event's notification, fixed when it happened (MESSAGE_PARTS).
NOTIFICATION_KEY = "notification"
MESSAGE_PARTS = ("subject", "email", "webhook")
EVENT_VERB: dict[str, str] = {
    AlertEvent.Kind.OPENED: "opened",
    AlertEvent.Kind.ESCALATED: "escalated to critical",
    AlertEvent.Kind.RESOLVED: "resolved",
}


class DeliveryError(Exception):
    """A delivery attempt failed; the message is kept as last_error."""


class PermanentFailure(DeliveryError):
    """Retrying cannot help (the endpoint was deleted or disabled, or its address is refused)."""


def max_attempts() -> int:
    return max(1, settings.SENDWATCH_NOTIFY_MAX_ATTEMPTS)


# -- queueing -------------------------------------------------------------------------


def queue(event: AlertEvent) -> list[Notification]:
    """One pending Notification per watcher email and per enabled webhook; delivery is asked for on commit."""
    if event.kind not in NOTIFIED_EVENTS:
        return []
    alert = event.alert
    now = timezone.now()
    rows: list[Notification] = []
    if alert.provider is not None:
        emails = (
            alert.provider.watchers.filter(is_active=True)
            .exclude(email="")
            .values_list("email", flat=True)
            .order_by("email")
            .distinct()
        )
        rows += [
            Notification(alert_event=event, channel=Notification.Channel.EMAIL, recipient=email, next_attempt_at=now)
            for email in emails
        ]
    hooks = WebhookEndpoint.objects.filter(enabled=True)
    hooks = hooks.filter(Q(provider__isnull=True) | Q(provider_id=alert.provider_id)) if alert.provider_id else hooks
    rows += [
        Notification(
            alert_event=event,
            channel=Notification.Channel.WEBHOOK,
            webhook=hook,
            recipient=hook.url[:500],
            next_attempt_at=now,
        )
        for hook in hooks.order_by("pk")
    ]
    if not rows:
        return []
    store_message(event)  # what every attempt will send, fixed now
    created = Notification.objects.bulk_create(rows)
    ids = [n.pk for n in created]
    transaction.on_commit(lambda: enqueue(ids), robust=True)
    return created


def enqueue(ids: Sequence[int]) -> None:
    """Ask a worker to deliver now; if the broker is away, the beat task picks them up."""
    try:
        background.start("messaging.tasks.deliver_notifications", [list(ids)])
    except Exception:  # kombu raises several types when the broker is away
        log.warning("broker unavailable; notifications %s wait for the beat task", list(ids), exc_info=True)


# -- delivering -----------------------------------------------------------------------


@dataclass
class DeliveryReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0


def deliver_due(ids: Sequence[int] | None = None, *, now: datetime | None = None, limit: int = 200) -> DeliveryReport:
    """Deliver pending notifications that are due (only ``ids`` when given)."""
    report = DeliveryReport()
    for notification in _claim(ids, now or timezone.now(), limit):
        state = attempt(notification)
        if state == Notification.State.SENT:
            report.sent += 1
        elif state == Notification.State.FAILED:
            report.failed += 1
        else:
            report.retrying += 1
    return report


def _claim(ids: Sequence[int] | None, now: datetime, limit: int) -> list[Notification]:
    with transaction.atomic():
        due = (
            Notification.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(state=Notification.State.PENDING, next_attempt_at__lte=now)
            .order_by("next_attempt_at", "pk")
        )
        if ids is not None:
            due = due.filter(pk__in=list(ids))
        claimed = list(due.select_related("alert_event__alert__provider", "webhook")[:limit])
        for notification in claimed:
            notification.attempts += 1
            notification.next_attempt_at = now + timedelta(seconds=LEASE_SECONDS)
        Notification.objects.bulk_update(claimed, ["attempts", "next_attempt_at"])
    return claimed


def attempt(notification: Notification) -> str:
    """One delivery attempt (the attempt is already counted); writes and returns the new state."""
    try:
        if notification.channel == Notification.Channel.EMAIL:
            _send_email(notification)
        else:
            _post_webhook(notification)
    except Exception as exc:
        error = str(exc) if isinstance(exc, DeliveryError) else f"{type(exc).__name__}: {exc}"
        return _failed_attempt(notification, error, permanent=isinstance(exc, PermanentFailure))
    now = timezone.now()
    Notification.objects.filter(pk=notification.pk).update(
        state=Notification.State.SENT, sent_at=now, next_attempt_at=None, last_error=""
    )
    notification.state, notification.sent_at, notification.next_attempt_at = Notification.State.SENT, now, None
    return Notification.State.SENT


def _failed_attempt(notification: Notification, error: str, *, permanent: bool = False) -> str:
    now = timezone.now()
    error = error[:500]
    if permanent or notification.attempts >= max_attempts():
        state, next_at = Notification.State.FAILED, None
        log.warning("notification %s failed for good after %s attempts: %s", notification.pk, notification.attempts,
                    error)  # fmt: skip
    else:
        wait = BACKOFF_SECONDS[min(notification.attempts, len(BACKOFF_SECONDS)) - 1]
        state, next_at = Notification.State.PENDING, now + timedelta(seconds=wait)
    Notification.objects.filter(pk=notification.pk).update(state=state, next_attempt_at=next_at, last_error=error)
    notification.state, notification.next_attempt_at, notification.last_error = state, next_at, error
    return state


# -- content -----------------------------------------------------------------------------
#
# What an event's notifications say is fixed when the event happens: ``queue`` builds the email's
# subject and body and the webhook's JSON body once, from the event and the alert as they are then
# (links start with settings.SENDWATCH_BASE_URL as it is then), and stores them on the AlertEvent
# (``details["notification"]``). Every attempt, the first and each retry, sends those stored bytes,
# so a retry after the alert escalated still says what the event said.


def alert_url(alert: Alert) -> str:
    """The alert's page, with its history and notifications."""
    return settings.SENDWATCH_BASE_URL + reverse("messaging:alert_detail", args=[alert.pk])


def public_details(details: dict) -> dict:
    return {k: v for k, v in (details or {}).items() if k not in ("easing_since", NOTIFICATION_KEY)}


def linked(details: dict) -> dict:
    """Details with their Sendwatch paths (``credential_url``, ``errors_url``) as full links."""
    return {
        key: settings.SENDWATCH_BASE_URL + value
        if key.endswith("_url") and isinstance(value, str) and value.startswith("/")
        else value
        for key, value in details.items()
    }


def event_details(event: AlertEvent) -> dict:
    """The alert's details at the event (a resolution keeps the last ones seen while it was open)."""
    details = public_details(event.details)
    return linked(details or public_details(event.alert.details))


def slack_escape(value: object) -> str:
    """``&``, ``<`` and ``>`` as Slack's message text wants them (&amp; &lt; &gt;), and nothing else.

    Unescaped, a vendor's error code or a note could write ``<!channel>`` or a
    ``<https://…|label>`` link into the channel.
    """
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def headline(event: AlertEvent) -> str:
    """The event in one line: the alert's title (the reason for its severity), or what resolved it.

    Resolved automatically, the note is the fact that resolved it ("Balance 250.00 EUR, above 247.50");
    resolved by someone, who did and their note.
    """
    alert = event.alert
    if event.kind != AlertEvent.Kind.RESOLVED:
        return alert.title
    prefix = f"{alert.provider.name}: " if alert.provider else ""
    if event.actor is not None:
        who = event.actor.get_username()
        return f"{prefix}{alert.get_kind_display()} resolved by {who}" + (f": {event.note}" if event.note else "")
    return f"{prefix}{event.note or alert.get_kind_display()}: resolved"


def payload(event: AlertEvent) -> dict:
    """The webhook JSON: Slack's ``text`` (every value in it escaped) plus the structured fields (plain JSON).

    Built from the event as it happened; ``queue`` stores it (``message``) and every attempt sends that.
    """
    alert = event.alert
    provider = alert.provider
    url = alert_url(alert)
    link = f"<{slack_escape(url)}|Open in Sendwatch>"
    summary = headline(event)
    if event.kind == AlertEvent.Kind.RESOLVED:
        text = f"[RESOLVED] {slack_escape(summary)} {link}"
    else:
        severity = slack_escape(event.severity.upper())
        verb = slack_escape(EVENT_VERB.get(event.kind, event.kind))
        text = f"[{severity}] {slack_escape(alert.title)} ({verb}) {link}"
    return {
        "text": text,
        "event": event.kind,
        "alert_id": alert.pk,
        "kind": alert.kind,
        "severity": event.severity,
        "state": EVENT_STATE.get(event.kind, alert.state),
        "provider": provider.slug if provider else None,
        "provider_name": provider.name if provider else None,
        "title": alert.title,
        "summary": summary,
        "url": url,
        "at": event.at.isoformat(),
        "note": event.note,
        "details": event_details(event),
    }


def email_content(event: AlertEvent, data: dict | None = None) -> tuple[str, str]:
    """The email's subject and body, from the event's payload (``data``, built when left out)."""
    alert = event.alert
    data = data if data is not None else payload(event)
    resolved = event.kind == AlertEvent.Kind.RESOLVED
    label = "RESOLVED" if resolved else event.severity.upper()
    if event.kind == AlertEvent.Kind.ESCALATED:
        label = "ESCALATED to CRITICAL"
    subject = f"[Sendwatch] {label}: {data['summary']}"[:250]
    at = timezone.localtime(event.at, timezone.get_default_timezone())
    lines = [
        data["summary"],
        "",
        f"Provider:  {data['provider_name'] or 'all providers'}",
        f"Condition: {alert.get_kind_display()}",
        f"Severity:  {event.severity}",
        f"Event:     {EVENT_VERB.get(event.kind, event.kind)} at {at:%Y-%m-%d %H:%M %Z}",
    ]
    if event.note:
        lines.append(f"Note:      {event.note}")
    details = dict(data["details"])
    reasons = details.pop("reasons", None)
    if not resolved and isinstance(reasons, list) and reasons:
        lines += ["", "Why:", *(f"  - {reason}" for reason in reasons)]
    if details:
        lines += ["", "Details:" if not resolved else "Last seen while open:"]
    for key, value in details.items():
        if isinstance(value, (dict, list)):
            value = json.dumps(value, cls=DjangoJSONEncoder)
        lines.append(f"  {key}: {value}")
    lines += ["", f"Open in Sendwatch: {data['url']}", "", "You get this because you watch this provider."]
    return subject, "\n".join(lines)


def build_message(event: AlertEvent) -> dict[str, str]:
    """The event's notification as every attempt sends it: email subject and body, webhook body (JSON text)."""
    data = payload(event)
    subject, body = email_content(event, data)
    webhook = json.dumps(data, cls=DjangoJSONEncoder, separators=(",", ":"))
    return {"subject": subject, "email": body, "webhook": webhook}


def store_message(event: AlertEvent) -> dict[str, str]:
    """Build the event's message now and keep it on the event."""
    built = build_message(event)
    event.details = {**(event.details or {}), NOTIFICATION_KEY: built}
    AlertEvent.objects.filter(pk=event.pk).update(details=event.details)
    return built


def message(event: AlertEvent) -> dict[str, str]:
    """The event's stored message; an event queued before messages were stored gets its own now, once."""
    stored = (event.details or {}).get(NOTIFICATION_KEY)
    if isinstance(stored, dict) and all(isinstance(stored.get(part), str) for part in MESSAGE_PARTS):
        return stored
    return store_message(event)


def _send_email(notification: Notification) -> None:
    stored = message(notification.alert_event)
    sent = EmailMessage(
        stored["subject"], stored["email"], settings.DEFAULT_FROM_EMAIL, [notification.recipient]
    ).send()
    if not sent:
        raise DeliveryError("the mail backend accepted no message")


# -- webhooks --------------------------------------------------------------------------------


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=`` + hex HMAC-SHA256 of ``f"{timestamp}.{body}"``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


@sensitive_variables("secret")
def _post_webhook(notification: Notification) -> None:
    hook = notification.webhook
    if hook is None:
        raise PermanentFailure("the webhook endpoint was deleted")
    if not hook.enabled:
        raise PermanentFailure("the webhook endpoint is disabled")
    secret = unseal(hook.secret_key_id, hook.secret_ciphertext).key
    body = message(notification.alert_event)["webhook"].encode()  # the bytes stored at the event, every attempt
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Sendwatch-Alerts/1",
        "X-Sendwatch-Timestamp": timestamp,
        "X-Sendwatch-Signature": signature(secret, timestamp, body),
        "X-Sendwatch-Event": notification.alert_event.kind,
        "X-Sendwatch-Delivery": str(notification.pk),
    }
    timeout = settings.SENDWATCH_WEBHOOK_TIMEOUT_SECONDS
    try:
        # Guarded: the address is checked when the socket connects (an endpoint created before the
        # guard, or a name that now resolves elsewhere). No redirects: the signed alert goes to this URL only.
        # The answer's body is never read: only its status is kept.
        with (
            guarded_session(allowed_hosts()) as session,
            session.post(
                hook.url, data=body, headers=headers, timeout=timeout, allow_redirects=False, stream=True
            ) as response,
        ):
            status = response.status_code
    except OutboundRefused as refused:
        # An address refusal names the host and address only; other refusals could quote the
        # URL, whose path may be a secret (Slack), so only their kind is kept.
        reason = str(refused) if refused.code == "address" else f"the URL is not allowed ({refused.code})"
        raise PermanentFailure(f"refused: {reason}") from None
    except requests.exceptions.Timeout:
        raise DeliveryError(f"no answer within {timeout:g} s") from None
    except requests.exceptions.RequestException as exc:
        raise DeliveryError(f"could not POST: {type(exc).__name__}") from None
    if not 200 <= status < 300:
        raise DeliveryError(http_failure(status))


def allowed_hosts() -> tuple[str, ...]:
    """Hosts that may be on private or loopback addresses, read now (settings can change in tests)."""
    return tuple(settings.SENDWATCH_ALLOW_PRIVATE_HOSTS)


def http_failure(status: int) -> str:
    """A non-2xx answer as kept in last_error: its status and the standard reason phrase, never its body.

    Not the receiver's own reason phrase either: that is its text too.
    """
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "non-standard status"
    text = f"HTTP {status} {reason}"
    return text + " (redirects are not followed)" if 300 <= status < 400 else text


def shown_error(last_error: str) -> str:
    """last_error for people; rows written before bodies stopped being kept show only their status."""
    legacy = _LEGACY_HTTP_ERROR.match(last_error or "")
    return http_failure(int(legacy[1])) if legacy else last_error


def create_webhook(url: str, provider: Provider | None = None) -> tuple[WebhookEndpoint, str]:
    """A new endpoint with a generated secret; the secret is returned once and only sealed afterwards.

    Raises ValidationError for a URL that is not http(s) (code ``invalid``) or that the outbound
    guard refuses (code ``refused``: a private, loopback, link-local or metadata address, user@host,
    ...). A host that does not resolve now is accepted: every delivery is checked at connect time.
    """
    URLValidator(schemes=["http", "https"])(url)
    try:
        check_url(url, allowed_hosts())
    except OutboundRefused as refused:
        if refused.code != "unresolvable":
            raise ValidationError(str(refused), code="refused") from None
    secret = secrets.token_urlsafe(32)
    sealed = seal(ApiCredential(secret))
    endpoint = WebhookEndpoint.objects.create(
        provider=provider,
        url=url,
        secret_ciphertext=sealed.ciphertext,
        secret_key_id=sealed.key_id,
        secret_hint=sealed.hint,
    )
    return endpoint, secret
