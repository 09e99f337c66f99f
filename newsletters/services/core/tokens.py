"""Signed, timed tokens for the links we mail, one salt per purpose.

A reader's token only names the subscriber (by UUID, never by row id) and, for an
unsubscribe link, the newsletter. Erasing the subscriber therefore kills every
link they were ever sent, and a token made for one purpose is worthless for
another. A counting token (click, open) names only an issue and a link: no reader.
"""

import base64
import enum
import hashlib
import hmac
import json
import time
import zlib
from collections.abc import Callable
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


def _urlsafe(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


# itsdangerous's JSON: compact, and UTF-8 rather than \u escapes.
_COMPACT_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


class TokenMaker:
    """Makes many tokens of one purpose: the very tokens :func:`make_token` makes.

    itsdangerous builds a signer and derives its key for every token, which with its
    layers of calls was a fifth of an issue's CPU per reader. Here the key is derived
    and the HMAC keyed once; each token copies the HMAC and follows itsdangerous's steps
    (``URLSafeTimedSerializer`` with its defaults: compact JSON, deflated when that
    is shorter, a timestamp, HMAC-SHA1 under the "django-concat" key).
    """

    def __init__(self, purpose: Purpose, clock: Callable[[], float] = time.time) -> None:
        salt = f"newsletters.{purpose.value}".encode()
        secret = current_app.config["SECRET_KEY"]
        secret = secret.encode("utf-8") if isinstance(secret, str) else secret
        key = hashlib.sha1(salt + b"signer" + secret).digest()
        self.mac = hmac.new(key, digestmod=hashlib.sha1)
        self.clock = clock
        self.second = -1
        self.stamp = b""  # ".<timestamp>" of ``second``

    def dumps(self, payload: Any) -> str:
        """The signed token for ``payload``."""
        data = _COMPACT_JSON(payload).encode("utf-8")
        compressed = zlib.compress(data)
        body = b"." + _urlsafe(compressed) if len(compressed) < len(data) - 1 else _urlsafe(data)
        now = int(self.clock())
        if now != self.second:
            self.second = now
            self.stamp = b"." + _urlsafe(now.to_bytes(8, "big").lstrip(b"\0"))
        signed = body + self.stamp
        mac = self.mac.copy()
        mac.update(signed)
        return (signed + b"." + _urlsafe(mac.digest())).decode("ascii")


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
