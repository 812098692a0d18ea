"""What the filter forms of the Errors, Sends and Alerts pages share: a base form and field types.

Each page's form lives beside its view (errors.py, sends.py, alerts.py) and is bound
to ``request.GET``. Its messages are shown together above the results
(templates/messaging/filter_errors.html), not next to a field, so each one names the
query parameter it is about.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from messaging.models import Provider


class FilterForm(forms.Form):
    """A page's query-string filters; ``problems`` are its messages for filter_errors.html."""

    @property
    def problems(self) -> list[str]:
        """Every message, in the order they were found: field by field, then those of ``clean()``."""
        return [str(message) for messages in self.errors.values() for message in messages]


def one_of(name: str, values: Sequence[str], *, default: str = "", message: str = "") -> forms.TypedChoiceField:
    """A parameter that is left out (``default``) or one of ``values``."""
    return forms.TypedChoiceField(
        choices=[(value, value) for value in values],
        required=False,
        empty_value=default,
        error_messages={"invalid_choice": message or f"{name} must be one of {', '.join(values)}"},
    )


class ProviderField(forms.Field):
    """One provider by its slug; None when left out."""

    default_error_messages = {"unknown": "unknown provider: %(slugs)s"}

    def to_python(self, value: Any) -> Provider | None:
        if not value:
            return None
        return _providers_named(self, [value])[0]


class ProvidersField(forms.Field):
    """Providers by slug, the parameter repeated; None (every provider) when left out. Blank values are ignored."""

    widget = forms.SelectMultiple  # reads every value of the parameter
    default_error_messages = {"unknown": "unknown provider: %(slugs)s"}

    def to_python(self, value: Any) -> list[Provider] | None:
        slugs = [slug for slug in value or [] if slug]
        return _providers_named(self, slugs) if slugs else None


def _providers_named(field: forms.Field, slugs: list[str]) -> list[Provider]:
    # No slug holds a null character, and PostgreSQL refuses one in a query.
    found = list(Provider.objects.filter(slug__in=[slug for slug in slugs if "\x00" not in slug]))
    missing = sorted(set(slugs) - {provider.slug for provider in found})
    if missing:
        raise ValidationError(field.error_messages["unknown"], code="unknown", params={"slugs": ", ".join(missing)})
    return found


# Every real send falls between these, and the windows' arithmetic near them (the previous
# window, the day after the last) stays inside what datetime can hold.
FIRST_DAY, LAST_DAY = date(1970, 1, 1), date(9000, 12, 31)
OUT_OF_RANGE = "%(value)s is out of range: choose a date from 1970 to 9000"


def _check_range(value: date | datetime | None) -> None:
    day = value.date() if isinstance(value, datetime) else value
    if day is not None and not FIRST_DAY <= day <= LAST_DAY:
        raise ValidationError(OUT_OF_RANGE, code="out_of_range", params={"value": day.isoformat()})


class IsoDateField(forms.DateField):
    """A date as ``<input type="date">`` sends it (any ISO 8601 date), else in the usual input formats."""

    def to_python(self, value: Any) -> date | None:
        if isinstance(value, str):
            try:
                return date.fromisoformat(value.strip())
            except ValueError:
                pass
        return super().to_python(value)

    def validate(self, value: Any) -> None:
        super().validate(value)
        _check_range(value)


class MomentField(forms.DateTimeField):
    """A date, or a date and time (as ``<input type="datetime-local">`` sends it), in the reader's time zone."""

    def validate(self, value: Any) -> None:
        super().validate(value)
        _check_range(value)


class CursorField(forms.CharField):
    """A keyset page's cursor (``?after=``), checked with the page's ``decode``: a damaged link is a form error.

    It cleans to the cursor as given (None when left out), which the page's query function reads.
    """

    default_error_messages = {"damaged": "the page link is damaged; start from the first page"}

    def __init__(self, decode: Callable[[str], object], **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("empty_value", None)
        super().__init__(**kwargs)
        self.decode = decode

    def validate(self, value: Any) -> None:
        super().validate(value)
        if value:
            try:
                self.decode(value)
            except ValueError:
                raise ValidationError(self.error_messages["damaged"], code="damaged") from None
