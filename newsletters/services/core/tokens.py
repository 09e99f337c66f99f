"""Signed, timed tokens for the links we mail, one salt per purpose.

A reader's token only names the subscriber (by UUID, never by row id) and, for an
unsubscribe link, the newsletter. Erasing the subscriber therefore kills every
link they were ever sent, and a token made for one purpose is worthless for
another. A counting token (click, open) names only an issue and a link: no reader.
"""

import enum
from typing import Any

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from newsletters.errors import ExpiredToken, InvalidToken


class Purpose(enum.StrEnum):
    """What a token may be used for; each is its own salt."""

    CONFIRM = "confirm"
    PREFERENCES = "preferences"
    UNSUBSCRIBE = "unsubscribe"
    SIGNUP_FORM = "signup-form"
    VIEW = "view"  # a reader's own copy of an issue on the web: names the reader and issue
    # Counting: these name an issue (and a link's position in it), never a reader.
    CLICK = "click"
    OPEN = "open"


def serializer(purpose: Purpose) -> URLSafeTimedSerializer:
    """A serializer that signs with SECRET_KEY and still accepts its fallbacks."""
    config = current_app.config
    # itsdangerous signs with the last key and verifies against all of them.
    keys = [*config.get("SECRET_KEY_FALLBACKS", []), config["SECRET_KEY"]]
    return URLSafeTimedSerializer(keys, salt=f"newsletters.{purpose.value}")


def _max_age(purpose: Purpose) -> int | None:
    """How long a token for this purpose stays valid, in seconds (None: forever)."""
    config = current_app.config
    ages = {
        Purpose.CONFIRM: config["CONFIRM_TOKEN_MAX_AGE"],
        Purpose.PREFERENCES: config["LINK_TOKEN_MAX_AGE"],
        Purpose.UNSUBSCRIBE: config["LINK_TOKEN_MAX_AGE"],
        Purpose.SIGNUP_FORM: config["SIGNUP_FORM_MAX_AGE"],
        Purpose.VIEW: config["LINK_TOKEN_MAX_AGE"],
        # A link in a sent email keeps working for as long as the email is kept.
        Purpose.CLICK: 0,
        Purpose.OPEN: 0,
    }
    return ages[purpose] or None


def make_token(purpose: Purpose, payload: Any) -> str:
    """Sign ``payload`` for one purpose."""
    return serializer(purpose).dumps(payload)


def read_token(purpose: Purpose, token: str) -> Any:
    """Verify a token and return its payload.

    Raises :class:`ExpiredToken` for a genuine but old token and
    :class:`InvalidToken` for anything else that does not verify.
    """
    try:
        return serializer(purpose).loads(token, max_age=_max_age(purpose))
    except SignatureExpired as exc:
        raise ExpiredToken() from exc
    except BadSignature as exc:
        raise InvalidToken() from exc
