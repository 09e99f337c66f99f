"""Bearer tokens for the JSON API: created by an admin, stored only as a hash."""

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import select

from newsletters.errors import InvalidInput, Unauthorized
from newsletters.extensions import db
from newsletters.models import ApiToken, utcnow
from newsletters.services.catalogue import has_control_characters
from newsletters.services.core.transactions import atomic

TOKEN_PREFIX = "nl_"
# Recording every use would turn each API call into a write; once a minute is enough to audit.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@atomic
def create_token(name: str) -> tuple[ApiToken, str]:
    """A new token and its secret; the secret is shown once and never stored."""
    name = name.strip()
    if not name or len(name) > 120 or has_control_characters(name):
        raise InvalidInput("A token needs a name of at most 120 characters.", field="name")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(name=name, token_hash=_hash(secret), prefix=secret[:10])
    db.session.add(token)
    return token, secret


@atomic
def authenticate(authorization: str | None) -> ApiToken:
    """The token named by an ``Authorization: Bearer`` header, or :class:`Unauthorized`."""
    scheme, _, secret = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise Unauthorized()
    token = db.session.scalar(
        select(ApiToken).where(
            ApiToken.token_hash == _hash(secret.strip()), ApiToken.revoked_at.is_(None)
        )
    )
    if token is None:
        raise Unauthorized("That API token is not valid.")
    now = utcnow()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        token.last_used_at = now
    return token
