"""Email address validation and normalisation: the one place that decides what an address is."""

from email_validator import EmailNotValidError, validate_email
from flask import current_app

from newsletters.errors import InvalidEmail

MAX_ADDRESS_LENGTH = 254


def normalize_email(raw: str | None) -> str:
    """Return the canonical form of an address, or raise :class:`InvalidEmail`.

    The canonical form is email-validator's normalisation (Unicode domains in
    their readable form, NFC) lower-cased as a whole, so Ann@Example.com and
    ann@example.com are the same reader. DNS checks are off unless
    ``EMAIL_CHECK_DELIVERABILITY`` is set.
    """
    candidate = (raw or "").strip()
    if not candidate or len(candidate) > MAX_ADDRESS_LENGTH:
        raise InvalidEmail()
    try:
        info = validate_email(
            candidate,
            check_deliverability=current_app.config["EMAIL_CHECK_DELIVERABILITY"],
        )
    except EmailNotValidError as exc:
        raise InvalidEmail() from exc
    return info.normalized.lower()


def mask_email(address: str) -> str:
    """A form of the address that is safe to write to logs: a***@example.com."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"
