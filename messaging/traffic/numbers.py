"""Phone numbers as people type them: E.164 normalization and the digits a search matches.

Support staff paste what a customer wrote: ``+44 7700 900123``, ``07700 900123`` (national
format), ``447700900123`` or only the last digits. phonenumbers (Google's libphonenumber)
reads the national and international forms; a national number is read in the region
SENDWATCH_PHONE_REGION names (an ISO 3166 code, ``US`` unless set).
"""

from __future__ import annotations

import re

import phonenumbers
from django.conf import settings

from messaging.models import RECIPIENT_KEY_DIGITS

# Fewer digits than this match too many numbers to be a search for one.
MIN_SEARCH_DIGITS = 4
# What a typed phone number may hold besides digits: spaces, dots, dashes, slashes, brackets, a plus.
_PHONE_TEXT = re.compile(r"^\+?[\d\s().\-/\u00a0]+$")


class InvalidNumber(ValueError):
    """The text is not a phone number phonenumbers can read; the message says why."""


def default_region() -> str:
    return str(getattr(settings, "SENDWATCH_PHONE_REGION", "US")).upper()


def to_e164(text: str, region: str | None = None) -> str:
    """``text`` as ``+<country><number>``; InvalidNumber when it can't be a real number."""
    region = region or default_region()
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as error:
        raise InvalidNumber(f"{text!r} is not a phone number ({_reason(error)})") from None
    # Possible (the right length for its country), not "valid": libphonenumber's list of allocated
    # ranges lags the operators', and refuses ranges kept for tests and drama (+44 7700 900xxx).
    # The vendor says whether it can deliver; its answer is recorded like any other.
    if not phonenumbers.is_possible_number(number):
        raise InvalidNumber(f"{text!r} is not a possible phone number for +{number.country_code} (wrong length)")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _reason(error: phonenumbers.NumberParseException) -> str:
    reasons = {
        phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: "no country code and no default region",
        phonenumbers.NumberParseException.NOT_A_NUMBER: "not a number",
        phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: "too short",
        phonenumbers.NumberParseException.TOO_SHORT_NSN: "too short",
        phonenumbers.NumberParseException.TOO_LONG: "too long",
    }
    return reasons.get(error.error_type, "unreadable")


def search_suffixes(text: str, region: str | None = None) -> list[str]:
    """The digit strings a recipient must end with to match ``text``; [] when it is no number.

    The digits as typed (``521501``, ``141555521501``) and, when phonenumbers can read the
    text, its E.164 digits, which is how a national-format number (``(415) 555-0123``,
    ``07700 900123``) finds the international one stored. Each is cut to the digits the
    index keeps (RECIPIENT_KEY_DIGITS).
    """
    text = text.strip()
    if not _PHONE_TEXT.match(text):
        return []
    digits = re.sub(r"\D", "", text)
    if len(digits) < MIN_SEARCH_DIGITS:
        return []
    found = [digits[-RECIPIENT_KEY_DIGITS:]]
    try:
        number = phonenumbers.parse(text, region or default_region())
    except phonenumbers.NumberParseException:
        return found
    if phonenumbers.is_possible_number(number):
        e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)[1:][-RECIPIENT_KEY_DIGITS:]
        if e164 not in found:
            found.append(e164)
    return found
