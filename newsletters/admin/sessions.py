"""Admin sessions: begun at sign-in, over when idle or old, ended everywhere on sign-out.

The session cookie names the admin and their current session token (see
``AdminUser.get_id``); the server refuses it once the token has changed. It also
carries when the admin signed in and when they were last seen, so an idle or old
session ends even though the cookie is still in the browser.
"""

from flask import current_app, g, session
from flask_login import login_user, logout_user

from newsletters.models import AdminUser, utcnow

SIGNED_IN_AT = "admin_signed_in_at"
SEEN_AT = "admin_seen_at"
# A password given, the code not yet: who, since when, where to go after, wrong codes so far.
PENDING = "admin_pending_sign_in"
PENDING_SECONDS = 5 * 60


def now() -> int:
    """The time in whole seconds since the epoch (from ``utcnow``, which tests may move)."""
    return int(utcnow().timestamp())


def _clear() -> None:
    """Empty the session, and forget this request's CSRF token, which belonged to it."""
    session.clear()
    g.pop(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"), None)


def begin(admin: AdminUser) -> None:
    """A fresh session for ``admin``: nothing carried over from before, the clocks started."""
    _clear()
    login_user(admin)
    session[SIGNED_IN_AT] = session[SEEN_AT] = now()


def end() -> None:
    """Forget the signed-in admin in this browser."""
    logout_user()
    _clear()


def expiry_reason() -> str | None:
    """Why this signed-in session is over (idle, or too old), or None and the idle clock reset."""
    config = current_app.config
    signed_in, seen, moment = session.get(SIGNED_IN_AT), session.get(SEEN_AT), now()
    if not isinstance(signed_in, int) or not isinstance(seen, int):
        return "Please sign in again."
    idle_minutes = config["ADMIN_SESSION_IDLE_MINUTES"]
    if moment - seen > idle_minutes * 60:
        return f"You were signed out after {idle_minutes} minutes without activity."
    max_hours = config["ADMIN_SESSION_MAX_HOURS"]
    if moment - signed_in > max_hours * 3600:
        return f"You were signed out {max_hours} hours after signing in."
    if seen != moment:
        session[SEEN_AT] = moment
    return None


def await_second_factor(admin: AdminUser, account: str, next_url: str) -> None:
    """Remember that ``admin`` gave the right password; the code is still to come."""
    _clear()
    session[PENDING] = {
        "id": admin.get_id(),
        "account": account,
        "at": now(),
        "next": next_url,
        "wrong": 0,
    }


def pending_sign_in() -> dict | None:
    """The sign-in waiting for its code, unless there is none or it is too old."""
    pending = session.get(PENDING)
    if not isinstance(pending, dict) or not isinstance(pending.get("at"), int):
        return None
    if now() - pending["at"] > PENDING_SECONDS:
        session.pop(PENDING, None)
        return None
    return pending


def count_wrong_code() -> int:
    """Note one more wrong code for the waiting sign-in; returns how many so far."""
    pending = dict(session.get(PENDING) or {})
    pending["wrong"] = int(pending.get("wrong", 0)) + 1
    session[PENDING] = pending
    return pending["wrong"]


def forget_pending() -> None:
    """Drop the sign-in waiting for its code."""
    session.pop(PENDING, None)
