"""Phone numbers: parsed and validated with libphonenumber, stored E.164,
formatted per provider on the way out (SureVoIP: digits without `+`;
Freespee and sipgate: `+` E.164)."""

import phonenumbers

from integrations.contract import Provider

DEFAULT_REGION = "GB"


class InvalidPhoneNumber(ValueError):
    """The text is not a valid phone number; the message says why, for a person."""


def parse_e164(raw: str, region: str = DEFAULT_REGION) -> str:
    """Parse a number as typed (national or international) and return it in E.164."""
    text = (raw or "").strip()
    if not text:
        raise InvalidPhoneNumber("Enter a phone number.")
    if text.startswith("00"):
        text = "+" + text[2:]
    elif text.isdigit() and len(text) > 10 and not text.startswith("0"):
        # Provider style: international digits without the leading "+".
        text = "+" + text
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise InvalidPhoneNumber(f"“{raw}” is not a phone number.") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhoneNumber(
            f"“{raw}” is not a valid number; give it in international form, e.g. +44 20 7946 0000."
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def for_provider(e164: str, provider: str) -> str:
    """Format an E.164 number as the provider expects it."""
    if provider == Provider.SUREVOIP:
        return e164.removeprefix("+")
    return e164


def from_provider(raw: str, region: str = DEFAULT_REGION) -> str:
    """A number as a provider returned it, back to E.164."""
    return parse_e164(raw, region)
