"""Template helpers for the dashboard."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django import template
from django.utils import dateformat, timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.timesince import timesince

from messaging.dashboard import charts

register = template.Library()


@register.filter
def fixed(value, places) -> str:
    """A number to ``places`` decimals, as floatformat:places renders it in English."""
    return charts.fixed(value, int(places))


@register.filter
def bar_rects(chart: charts.StackedChart, unit: str) -> SafeString:
    """The chart's bars as SVG rects, each with its value (in ``unit``) as a tooltip.

    One pass in Python: as a template loop, ~180 bars of seven values each were the
    costliest part of the error breakdown. Only the texts need escaping, once each;
    the numbers are formatted here.
    """
    labels = {label: escape(label) for label in chart.labels}
    unit = escape(unit)
    fixed = charts.fixed
    return mark_safe(  # noqa: S308 - every text is escaped above
        "".join(
            f'<rect class="series-{bar.series}" x="{fixed(bar.x, 1)}" y="{fixed(bar.y, 1)}" '
            f'width="{fixed(bar.width, 1)}" height="{fixed(bar.height, 1)}">'
            f"<title>{labels[bar.label]}: {fixed(bar.value, 2)} {unit}</title></rect>"
            for bar in chart.bars
        )
    )


# One date format across the app, in the reader's time zone (the footer names it).
DATETIME_FORMAT = "j M Y H:i"
DATETIME_SECONDS_FORMAT = "j M Y H:i:s"


@register.filter(expects_localtime=True)
def sw_datetime(value: datetime | None, precision: str = "minutes") -> str:
    """``1 Dec 2026 20:57`` (``precision="seconds"``: ``20:57:03``); "" for no value."""
    if not value:
        return ""
    return dateformat.format(value, DATETIME_SECONDS_FORMAT if precision == "seconds" else DATETIME_FORMAT)


@register.filter
def iso_datetime(value: object) -> datetime | None:
    """An ISO 8601 time kept as text (a send's routing trail) as a datetime for sw_datetime; None when it is not one."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed, UTC)


@register.filter
def days_ago(days: int | None) -> str:
    """A whole-day age in words: "today", "yesterday", "12 days ago"."""
    if days is None:
        return ""
    if days <= 0:
        return "today"
    return "yesterday" if days == 1 else f"{days} days ago"


@register.filter
def ago(value: datetime | None) -> str:
    """How long ago, in words: "just now" under a minute (never "0 minutes ago"), else "5 minutes ago"."""
    if not value:
        return ""
    if timezone.now() - value < timedelta(minutes=1):
        return "just now"
    return f"{timesince(value)} ago"
