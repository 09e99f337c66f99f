"""What every provider's webhook shares: the request, the batch it yields, its refusals, its fields.

A provider module reads one request: it checks the signature first, then the
shape, and returns the :class:`BounceEvent` of each recipient a bounce or a
complaint names. Anything else the provider reports (deliveries, opens,
clicks) yields nothing. A refusal is one of the errors below, each with the
status the provider sees: 401 for a missing or bad signature, 400 for a body
that is not what the provider sends, 404 when the webhook is off, and 503
when the signature cannot be checked just now (the provider will retry).
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from newsletters.errors import InvalidInput, NewsletterError, NotFound, Unauthorized
from newsletters.services.deliverability.events import BounceEvent

# Longest values stored as they are; a longer one is no address or id a provider sends.
MAX_EMAIL = 320
MAX_ID = 200
MAX_TEXT = 10_000


@dataclass(frozen=True)
class WebhookRequest:
    """One request as it arrived: the exact bytes (signatures cover them) and the headers."""

    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        """A header's value, or None; ``headers`` from Flask ignore the name's case."""
        value = self.headers.get(name)
        return value if isinstance(value, str) else None


@dataclass(frozen=True)
class Batch:
    """What one request reported.

    ``single_use`` is (token, fingerprint) when the signature covers a token and
    not the body (Mailgun): that token is accepted with that body once only.
    """

    events: list[BounceEvent] = field(default_factory=list)
    single_use: tuple[str, str] | None = None


class WebhookOff(NotFound):
    """No such provider, or its secret is not set: the endpoint does not exist."""

    code = "not_found"
    message = "There is no such webhook here."


class BadSignature(Unauthorized):
    """The request is not signed, or not by the provider, or too old to trust."""

    code = "invalid_signature"
    message = "The request's signature is missing or does not match."

    def __init__(self, message: str | None = None, challenge: str | None = None) -> None:
        super().__init__(message)
        self.challenge = challenge  # the WWW-Authenticate value, for basic auth


class MalformedPayload(InvalidInput):
    """The body is not what the provider sends: nothing was changed."""


class VerificationUnavailable(NewsletterError):
    """The signature cannot be checked now (the signing certificate is out of reach)."""

    status = 503
    code = "unavailable"
    message = "The signature can't be checked just now; nothing was changed. Try again later."


def parse_json(body: bytes) -> Any:
    """The body as JSON, or :class:`MalformedPayload`."""
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise MalformedPayload("The body is not JSON.") from None


def as_object(value: Any, what: str) -> dict:
    """``value`` when it is a JSON object, else :class:`MalformedPayload` naming ``what``."""
    if not isinstance(value, dict):
        raise MalformedPayload(f"{what} must be a JSON object.")
    return value


def text(
    record: Mapping, key: str, *, required: bool = True, max_length: int = MAX_TEXT
) -> str | None:
    """A string field: None when absent and optional; refused when of another type,
    empty while required, longer than ``max_length`` or holding a NUL character."""
    value = record.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value.strip()):
        raise MalformedPayload(f"'{key}' must be a non-empty string.")
    if len(value) > max_length or "\x00" in value:
        raise MalformedPayload(f"'{key}' is too long or holds a character we can't accept.")
    return value


def email(record: Mapping, key: str) -> str:
    """A recipient address as the provider reports it (the rules match it, lower-cased)."""
    value = text(record, key, max_length=MAX_EMAIL)
    if "@" not in value:
        raise MalformedPayload(f"'{key}' must be an email address.")
    return value.strip()


def identifier(record: Mapping, key: str) -> str:
    """A provider's id: a string, or a whole number (Postmark's are numbers)."""
    value = record.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return text(record, key, max_length=MAX_ID).strip()


def angle_bracketed(message_id: str | None) -> tuple[str, ...]:
    """A Message-ID as our records keep it, ``<...>``, whichever way the provider wrote it."""
    if not message_id or not message_id.strip():
        return ()
    bare = message_id.strip().strip("<>")
    return (f"<{bare}>",) if bare else ()


def moment(value: Any) -> datetime | None:
    """An ISO 8601 time or a Unix timestamp as an aware UTC datetime; None when unreadable."""
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return datetime.fromtimestamp(value, UTC)
        if isinstance(value, str):
            parsed = datetime.fromisoformat(value.strip())
            return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        return None
    return None


def compact(record: Any) -> str:
    """One record as JSON text, kept as the report's raw form."""
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False, sort_keys=True)
