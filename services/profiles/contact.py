"""Normalised contact details: one spelling per email and phone, so duplicates can be found."""

import phonenumbers
from email_validator import EmailNotValidError, validate_email


def normalise_email(value: str) -> str:
    try:
        result = validate_email(value, check_deliverability=False)
    except EmailNotValidError as error:
        raise ValueError(f"is not a valid email address ({error})") from None
    return result.normalized.lower()


def normalise_phone(value: str, *, default_region: str) -> str:
    """E.164, e.g. `138 0013 8000` in region CN → `+8613800138000`."""
    try:
        number = phonenumbers.parse(value, default_region)
    except phonenumbers.NumberParseException:
        raise ValueError("is not a phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError(f"is not a valid phone number for region {default_region} or in +<country code> form")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
