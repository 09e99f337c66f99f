"""Credentials for the JSON API, created by an admin and stored only as a hash.

A **secret token** (``nl_...``) is for servers: sent as ``Authorization: Bearer``, it may
do what its scopes allow. A **publishable key** (``pk_...``) sits in a publisher's web
page: it may only sign readers up, and only from a page on one of its origins.
"""

import hashlib
import secrets
from collections.abc import Iterable
from datetime import timedelta
from urllib.parse import urlsplit

from sqlalchemy import select

from newsletters.errors import Forbidden, InvalidInput, NotFound, Unauthorized
from newsletters.extensions import db
from newsletters.models import ApiToken, ApiTokenKind, utcnow
from newsletters.services.catalogue import has_control_characters
from newsletters.services.core.transactions import atomic

TOKEN_PREFIX = "nl_"
PUBLISHABLE_PREFIX = "pk_"
STORIES_WRITE = "stories:write"
SUBSCRIBERS_READ = "subscribers:read"
SUBSCRIBERS_WRITE = "subscribers:write"
WEBHOOKS_WRITE = "webhooks:write"
SCOPES = (STORIES_WRITE, SUBSCRIBERS_READ, SUBSCRIBERS_WRITE, WEBHOOKS_WRITE)
DEFAULT_SCOPES = (STORIES_WRITE,)
MAX_ORIGINS = 20
# Recording every use would turn each API call into a write; once a minute is enough to audit.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def checked_scopes(scopes: Iterable[str]) -> list[str]:
    """The scopes asked for, each once, or :class:`InvalidInput` naming the valid ones."""
    wanted = list(dict.fromkeys(s.strip() for s in scopes if s and s.strip()))
    unknown = [s for s in wanted if s not in SCOPES]
    if unknown or not wanted:
        problem = f"Unknown scope: {', '.join(unknown)}." if unknown else "Choose a scope."
        raise InvalidInput(f"{problem} Valid scopes: {', '.join(SCOPES)}.", field="scopes")
    return wanted


def checked_origin(value: str) -> str:
    """An origin as browsers send it (``https://host[:port]``), or :class:`InvalidInput`."""
    text = (value or "").strip().lower().rstrip("/")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        parts, port = None, None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.path
        or parts.query
        or parts.fragment
        or "@" in parts.netloc
    ):
        raise InvalidInput(
            f"{value!r} is not an origin; write it like https://www.publisher.example.",
            field="origins",
        )
    default = {"http": 80, "https": 443}[parts.scheme]
    host = parts.hostname if port in (None, default) else f"{parts.hostname}:{port}"
    return f"{parts.scheme}://{host}"


def _checked_name(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > 120 or has_control_characters(name):
        raise InvalidInput("A token needs a name of at most 120 characters.", field="name")
    taken = db.session.scalar(
        select(ApiToken.id).where(ApiToken.name == name, ApiToken.revoked_at.is_(None))
    )
    if taken is not None:
        raise InvalidInput(
            f"A token named {name!r} already exists; revoke it first or choose another name.",
            field="name",
        )
    return name


def _add(name: str, kind: ApiTokenKind, prefix: str, **columns) -> tuple[ApiToken, str]:
    secret = prefix + secrets.token_urlsafe(32)
    token = ApiToken(name=name, kind=kind, token_hash=_hash(secret), prefix=secret[:10], **columns)
    db.session.add(token)
    db.session.flush()
    return token, secret


@atomic
def create_token(name: str, scopes: Iterable[str] = DEFAULT_SCOPES) -> tuple[ApiToken, str]:
    """A new secret token with these scopes, and its secret: shown once, never stored."""
    name = _checked_name(name)
    granted = " ".join(checked_scopes(scopes))
    return _add(name, ApiTokenKind.SECRET, TOKEN_PREFIX, scopes=granted, origins="")


@atomic
def create_publishable_key(name: str, origins: Iterable[str]) -> tuple[ApiToken, str]:
    """A new publishable key for signups from pages on these origins, and the key."""
    name = _checked_name(name)
    allowed = list(dict.fromkeys(checked_origin(o) for o in origins if o and o.strip()))
    if not allowed or len(allowed) > MAX_ORIGINS:
        raise InvalidInput(
            f"A publishable key needs 1 to {MAX_ORIGINS} origins, like https://www.publisher.example.",
            field="origins",
        )
    return _add(
        name, ApiTokenKind.PUBLISHABLE, PUBLISHABLE_PREFIX, scopes="", origins=" ".join(allowed)
    )


def all_tokens() -> list[ApiToken]:
    """Every token and key, live ones first, newest first."""
    return list(
        db.session.scalars(
            select(ApiToken).order_by(ApiToken.revoked_at.is_not(None), ApiToken.id.desc())
        )
    )


@atomic
def revoke(token_id: int) -> ApiToken:
    """Revoke one token or key from now on; revoking it again changes nothing."""
    token = db.session.get(ApiToken, token_id)
    if token is None:
        raise NotFound("There is no such API token.")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
    return token


@atomic
def revoke_by_name(name: str) -> list[ApiToken]:
    """Revoke the live tokens with this name; :class:`NotFound` when no token has it.

    Returns the tokens revoked now (none when every token of that name already was).
    """
    named = list(db.session.scalars(select(ApiToken).where(ApiToken.name == (name or "").strip())))
    if not named:
        raise NotFound(f"No API token is named {name!r}.")
    live = [token for token in named if token.revoked_at is None]
    now = utcnow()
    for token in live:
        token.revoked_at = now
    return live


def _live(secret: str, kind: ApiTokenKind) -> ApiToken | None:
    return db.session.scalar(
        select(ApiToken).where(
            ApiToken.token_hash == _hash(secret),
            ApiToken.kind == kind,
            ApiToken.revoked_at.is_(None),
        )
    )


def _note_use(token: ApiToken) -> None:
    now = utcnow()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        token.last_used_at = now


def bearer_secret(authorization: str | None) -> str | None:
    """The secret of an ``Authorization: Bearer`` header; None when there is no such header."""
    scheme, _, secret = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        return None
    return secret.strip()


@atomic
def authenticate(authorization: str | None, scope: str | None) -> ApiToken:
    """The live secret token of an ``Authorization: Bearer`` header, allowed ``scope``
    (None: any live secret token will do).

    :class:`Unauthorized` without a valid, unrevoked token; :class:`Forbidden` when the
    token lacks the scope.
    """
    secret = bearer_secret(authorization)
    if secret is None:
        raise Unauthorized()
    token = _live(secret, ApiTokenKind.SECRET)
    if token is None:
        raise Unauthorized("That API token is not valid.")
    if scope is not None and scope not in token.scope_list:
        raise Forbidden(f"This API token may not do that: it needs the {scope} scope.")
    _note_use(token)
    return token


@atomic
def check_publishable_key(key: str, origin: str | None) -> ApiToken:
    """The live publishable key ``key``, used from a page on one of its origins.

    :class:`Unauthorized` for an unknown or revoked key; :class:`Forbidden` when the
    request's ``Origin`` is missing or not one of the key's.
    """
    token = _live(key.strip(), ApiTokenKind.PUBLISHABLE) if key and key.strip() else None
    if token is None:
        raise Unauthorized("That publishable key is not valid.")
    if not origin:
        raise Forbidden(
            "A publishable key works only from a web page on its origins. "
            f"A server signs readers up with a token that has the {SUBSCRIBERS_WRITE} scope."
        )
    try:
        presented = checked_origin(origin)
    except InvalidInput:
        presented = None
    if presented not in token.origin_list:
        raise Forbidden("This publishable key may not be used from this origin.")
    _note_use(token)
    return token
