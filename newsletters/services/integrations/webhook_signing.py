"""Standard Webhooks signatures: how every request proves it came from this site.

The signed content is ``{webhook-id}.{webhook-timestamp}.{body}``; the key is the
base64-decoded part of the endpoint's secret after ``whsec_``; the header is
``v1,<base64 HMAC-SHA256>``. Receivers verify it with any Standard Webhooks
library, or with the few lines of stdlib in docs/webhooks.md.
"""

import base64
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32  # the spec asks for 24 to 64


def new_secret() -> str:
    """A fresh signing secret: ``whsec_`` and the base64 of random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def signing_key(secret: str) -> bytes:
    """The HMAC key inside a ``whsec_`` secret."""
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header value for one request."""
    content = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(signing_key(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def headers(secret: str, msg_id: str, timestamp: int, body: bytes, user_agent: str) -> dict:
    """Every header a webhook request carries."""
    return {
        "Content-Type": "application/json",
        "User-Agent": user_agent,
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, msg_id, timestamp, body),
    }
