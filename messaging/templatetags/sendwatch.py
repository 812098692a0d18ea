"""Template helpers for the dashboard."""

from __future__ import annotations

from django import template

from messaging import charts

register = template.Library()


@register.filter
def sparkline_points(values) -> str:
    """SVG polyline points for a list of numbers."""
    return charts.sparkline(list(values or []))


@register.filter
def signed_percent(value) -> str:
    """+12% / -3% / — for a change that may be missing."""
    if value is None:
        return "—"
    return f"{value:+.0f}%"
