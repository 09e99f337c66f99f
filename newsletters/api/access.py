"""Who may sign readers up through the API, and with which bot checks.

- **A server** sends a secret token with the ``subscribers:write`` scope
  (``Authorization: Bearer``). It answers for its own bot protection, as the
  publisher's form in front of it does.
- **A web page** sends a publishable key (``X-Publishable-Key``, or the field
  ``key``), which works only from the key's origins: browsers always send
  ``Origin`` on a cross-origin POST and no page can forge it. Then the same bot
  checks as the signup form: the CAPTCHA when one is configured, and the
  honeypot.
- **Neither** is refused in production. Outside production it is accepted,
  with the bot checks, so a local form keeps working without a key.
"""

from flask import current_app, request

from newsletters.errors import Unauthorized
from newsletters.models import ApiToken
from newsletters.services.console import api_tokens, audit
from newsletters.services.readers import bot_checks

KEY_HEADER = "X-Publishable-Key"
KEY_FIELD = "key"
NO_CREDENTIALS = (
    "Signing readers up needs a publishable key (the X-Publishable-Key header) sent from "
    f"a page on one of its origins, or a token with the {api_tokens.SUBSCRIBERS_WRITE} scope."
)


def screen_signup(payload: dict) -> bool:
    """Check the caller of a signup; return whether it looks automated (store nothing).

    :class:`Unauthorized` or :class:`Forbidden` for missing, bad or misplaced credentials;
    :class:`InvalidInput` when the CAPTCHA refuses.
    """
    if "Authorization" in request.headers:
        api_tokens.authenticate(request.headers["Authorization"], api_tokens.SUBSCRIBERS_WRITE)
        return False
    key = request.headers.get(KEY_HEADER, payload.get(KEY_FIELD))
    if key is not None or current_app.config["IS_PRODUCTION"]:
        if not isinstance(key, str) or not key.strip():
            raise Unauthorized(NO_CREDENTIALS)
        api_tokens.check_publishable_key(key, request.headers.get("Origin"))
    return bot_checks.screen(payload, request.remote_addr)


def require_token(scope: str | None) -> ApiToken:
    """The request's live secret token, allowed ``scope`` (None: any scope); else
    :class:`Unauthorized` (no, bad or revoked token) or :class:`Forbidden` (no scope)."""
    return api_tokens.authenticate(request.headers.get("Authorization"), scope)


def actor(token: ApiToken) -> audit.Actor:
    """Who the audit log names for a change made with ``token``: the token, by its name."""
    return audit.Actor(None, f"API token {token.name}"[:255], request.remote_addr)
