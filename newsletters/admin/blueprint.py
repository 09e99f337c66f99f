"""The /admin blueprint, and the rule every admin page obeys: sign in first."""

import functools
from collections.abc import Callable
from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_login import current_user

from newsletters.admin import sessions
from newsletters.services.console import audit

bp = Blueprint("admin", __name__, url_prefix="/admin")

PUBLIC_ENDPOINTS = {"admin.login", "admin.login_code"}


@bp.before_request
def require_login():
    """Every admin page and action needs a signed-in admin, in a session neither idle nor
    too old; the sign-in pages excepted."""
    if current_user.is_authenticated:
        reason = sessions.expiry_reason()
        if reason is None:
            return None
        sessions.end()
        flash(reason)
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if request.method == "GET":
        return redirect(url_for("admin.login", next=request.full_path.rstrip("?")))
    abort(401)


def owner_only(view: Callable) -> Callable:
    """Owners manage admins and erase readers; editors may not."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if not current_user.is_owner:
            abort(403)
        return view(*args, **kwargs)

    return wrapper


def actor() -> audit.Actor:
    """The signed-in admin, for the audit log."""
    return audit.Actor(current_user.id, current_user.email, request.remote_addr)


def audited(action: str, target_type: str, target: str, apply: Callable, detail=None):
    """Do an admin action and write it to the audit log, in one transaction."""
    return audit.audited(actor(), action, target_type, target, apply, detail)


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a page of this console, never another site."""
    if value:
        parts = urlsplit(value)
        if not parts.scheme and not parts.netloc and parts.path.startswith("/admin"):
            return value
    return url_for("admin.dashboard")
