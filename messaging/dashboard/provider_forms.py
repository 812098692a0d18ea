"""Forms of the provider pages: alert thresholds (account managers) and the provider itself (admins).

Every rule names the field it is about, so the error is shown next to it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings

from messaging.dashboard.providers_data import THRESHOLD_FIELDS, plain, threshold_fields
from messaging.models import Provider
from providers import get_adapter_class
from providers.outbound import OutboundRefused, check_url

MIN_POLL_SECONDS = 60
# "providers/new/" is the create page, so no provider may be called "new".
RESERVED_SLUGS = frozenset({"new"})
# Option names that could only hold a secret: keys belong on the API keys page, encrypted.
SECRET_OPTION_WORDS = ("key", "secret", "password", "token")


def _number(**attrs) -> forms.NumberInput:
    return forms.NumberInput(attrs={"inputmode": "decimal", **attrs})


def money_text(value: Decimal) -> str:
    """An amount as people read it: at least two decimals, more only when they carry something.

    The column keeps four decimals, so a saved 375 came back as "375.0000": now "375.00"; 12.345 stays.
    """
    whole, _, fraction = f"{value:f}".partition(".")
    return f"{whole}.{fraction.rstrip('0').ljust(2, '0')}"


class MoneyInput(forms.NumberInput):
    """A number field for an amount: the saved value shows as :func:`money_text`, what was typed as typed."""

    def __init__(self) -> None:
        super().__init__(attrs={"inputmode": "decimal", "step": "any"})

    def format_value(self, value: Any) -> str | None:
        if isinstance(value, Decimal):
            return money_text(value)
        return super().format_value(value)


class BlankableJSONField(forms.JSONField):
    """A JSON field that shows nothing, not "null" or "{}", while it holds nothing."""

    def prepare_value(self, value: Any) -> Any:
        if value is None or value == {}:
            return ""
        return super().prepare_value(value)


class ThresholdsForm(forms.ModelForm):
    balance_warning = forms.DecimalField(
        label="Low balance warning below",
        required=False,
        min_value=0,
        max_digits=14,
        decimal_places=4,
        widget=MoneyInput(),
        help_text="In the provider's currency. Blank: not checked.",
    )
    balance_critical = forms.DecimalField(
        label="Critical balance below",
        required=False,
        min_value=0,
        max_digits=14,
        decimal_places=4,
        widget=MoneyInput(),
        help_text="Must be below the warning balance.",
    )
    quota_warning_percent = forms.IntegerField(
        label="Plan quota warning at (% used)", required=False, min_value=1, max_value=100, widget=_number()
    )
    quota_critical_percent = forms.IntegerField(
        label="Plan quota critical at (% used)",
        required=False,
        min_value=1,
        max_value=100,
        widget=_number(),
        help_text="Must be above the warning percentage.",
    )
    runway_warning_hours = forms.IntegerField(
        label="Runway warning under (hours)", required=False, min_value=1, widget=_number()
    )
    runway_critical_hours = forms.IntegerField(
        label="Runway critical under (hours)",
        required=False,
        min_value=1,
        widget=_number(),
        help_text="Must be shorter than the warning runway.",
    )
    error_rate_ceiling_percent = forms.DecimalField(
        label="Error rate ceiling (% of sends)",
        min_value=0,
        max_value=100,
        max_digits=5,
        decimal_places=2,
        widget=_number(step="any"),
    )
    spike_window_minutes = forms.IntegerField(
        label="Spike window (minutes)", min_value=1, max_value=24 * 60, widget=_number()
    )
    spike_min_sends = forms.IntegerField(
        label="Fewest sends in the window to judge a spike",
        min_value=1,
        widget=_number(),
        help_text="Below this volume no spike is reported.",
    )
    spike_baseline_factor = forms.DecimalField(
        label="Spike at this many times the usual rate",
        max_digits=5,
        decimal_places=2,
        widget=_number(step="any"),
        help_text="Compared with the same hour of the last 7 days; more than 1.",
    )
    poll_interval_seconds = forms.IntegerField(
        label="Poll the balance every (seconds)",
        min_value=MIN_POLL_SECONDS,
        widget=_number(),
    )

    class Meta:
        model = Provider
        fields = THRESHOLD_FIELDS

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        keep = threshold_fields(self.instance)
        for name in [n for n in self.fields if n not in keep]:
            del self.fields[name]
        currency = self.instance.currency.strip()
        for name in ("balance_warning", "balance_critical"):
            if name in self.fields and currency:
                # Shown after the input (provider_thresholds.html) and said in the help text.
                self.fields[name].unit = currency  # type: ignore[attr-defined]
        if currency and "balance_warning" in self.fields:
            self.fields["balance_warning"].help_text = f"In {currency}. Blank: not checked."
        if "poll_interval_seconds" in self.fields:
            # The vendor's own advice, not one vendor's advice shown for all of them.
            adapter = self.instance.adapter_class
            advice = (
                f"; {adapter.poll_guidance} ({adapter.min_poll_seconds} s or more)" if adapter.poll_guidance else ""
            )
            self.fields["poll_interval_seconds"].help_text = f"At least {MIN_POLL_SECONDS} seconds{advice}."

    def clean_spike_baseline_factor(self) -> Decimal:
        factor = self.cleaned_data["spike_baseline_factor"]
        if factor <= 1:
            raise forms.ValidationError("Must be more than 1: at 1 every normal hour would be a spike.")
        return factor

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data  # what ModelForm.clean returns
        self._below("balance_critical", "balance_warning", "Critical balance must be below the warning balance ({}).")
        self._below(
            "runway_critical_hours", "runway_warning_hours", "Critical runway must be shorter than the warning ({} h)."
        )
        self._below(
            "quota_warning_percent",
            "quota_critical_percent",
            "Critical quota must be above the warning percentage ({} %).",
            error_on="quota_critical_percent",
            shown="quota_warning_percent",
        )
        return data

    def _below(self, lower: str, upper: str, message: str, *, error_on: str = "", shown: str = "") -> None:
        """``lower`` must be strictly below ``upper`` when both are set; the error goes on ``error_on``."""
        low, high = self.cleaned_data.get(lower), self.cleaned_data.get(upper)
        if low is not None and high is not None and low >= high:
            value = self.cleaned_data[shown or upper]
            self.add_error(error_on or lower, message.format(plain(value)))


class ProviderForm(forms.ModelForm):
    options = BlankableJSONField(
        label="Options (JSON object)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
        help_text='Vendor account identifiers, never secrets. 8x8: {"account_id": "…", "subaccount_id": "…"}.',
    )

    class Meta:
        model = Provider
        fields = ("name", "slug", "kind", "base_url", "currency", "default_sender", "options", "enabled")
        labels = {
            "kind": "Vendor",
            "base_url": "API base URL",
            "currency": "Currency or unit",
            "enabled": "Enabled (polled and used for sending)",
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            # Alert dedupe keys and links carry the slug: it stays what it was created with.
            self.fields["slug"].disabled = True
            self.fields["slug"].help_text = "Fixed once the provider exists."
            self.fields["base_url"].help_text = (
                f"Blank means the vendor's documented production URL. Now: {self.instance.api_origin}. "
                "Moving to another host (scheme, host or port) asks for your password again, and its API keys "
                "are not sent there until each is verified again on the API keys page."
            )
            if self.instance.sends.exists():
                self.fields["kind"].disabled = True
                self.fields["kind"].help_text = "Fixed: this provider already has sends."

    def clean_base_url(self) -> str:
        """A new or changed API URL must be one Sendwatch may call (providers.outbound.check_url).

        An unchanged URL is not checked again, so a provider saved before the check
        (or pointed at an allow-listed host since removed from the list) can still be
        edited; the connect-time guard refuses the call itself. A host that does not
        resolve now is accepted (DNS may differ from the workers'); every call is
        checked again when it connects.
        """
        url = self.cleaned_data["base_url"]
        if url and (self.instance.pk is None or url != self.instance.base_url):
            try:
                check_url(url, allowed_private_hosts())
            except OutboundRefused as refused:
                if refused.code != "unresolvable":
                    raise forms.ValidationError(str(refused), code=f"outbound_{refused.code}") from None
        return url

    def clean_slug(self) -> str:
        slug = self.cleaned_data["slug"]
        if slug in RESERVED_SLUGS:
            raise forms.ValidationError(f"“{slug}” is reserved; choose another slug.")
        return slug

    def clean_options(self) -> dict:
        options = self.cleaned_data["options"]
        if options is None:
            return {}
        if not isinstance(options, dict):
            raise forms.ValidationError('Must be a JSON object, e.g. {"account_id": "…"}.')
        secret = [name for name in options if any(word in name.lower() for word in SECRET_OPTION_WORDS)]
        if secret:
            raise forms.ValidationError(
                f"Options must not hold secrets ({', '.join(secret)}): add API keys on the API keys page."
            )
        return options

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data  # what ModelForm.clean returns
        kind, options = data.get("kind"), data.get("options")
        if kind and options is not None:
            missing = [n for n in get_adapter_class(kind).required_options if not str(options.get(n) or "").strip()]
            if missing:
                self.add_error("options", f"{get_adapter_class(kind).label} needs: {', '.join(missing)}.")
        return data


def allowed_private_hosts() -> list[str]:
    """Hosts an admin may point a provider at although they resolve to private addresses."""
    return list(getattr(settings, "SENDWATCH_ALLOW_PRIVATE_HOSTS", []) or [])


def threshold_rows(provider: Provider) -> list[tuple[str, str]]:
    """(label, value) of each threshold that applies to the provider, for the read-only view."""
    form = ThresholdsForm(instance=provider)
    return [
        (str(field.label), "not checked" if form.initial[name] is None else str(plain(form.initial[name])))
        for name, field in form.fields.items()
    ]
