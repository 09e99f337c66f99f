"""How often admin sign-in may be tried, without letting strangers lock an admin out.

Two limits, both counted by Flask-Limiter in ``RATELIMIT_STORAGE_URI``:

- per IP: every POST to the sign-in pages, ``ADMIN_LOGIN_RATE_LIMIT``;
- per account: the *failed* attempts (a wrong password, a wrong code) on one
  address, ``ADMIN_LOGIN_ACCOUNT_LIMIT``. Browsers that have never signed in to
  that account share one count; a browser that has (it carries a signed "known
  device" cookie for the account) has a count of its own and skips the per-IP
  limit. Strangers, however many their addresses, slow down only themselves and
  other strangers: the owner's own browser still walks in.

Both are keyed on the address *typed*, never on whether it is an account, so
every address gets the same answers. The stepped windows are the backoff: a few
tries a minute, then fewer over a quarter of an hour, and no wait is longer than
the longest window (15 minutes with the defaults), which ``Retry-After`` says.
"""

import hashlib
import secrets

from flask import current_app, g, request
from flask_login import current_user
from itsdangerous import BadSignature, URLSafeTimedSerializer
from limits import parse_many

from newsletters.admin import sessions
from newsletters.errors import InvalidInput
from newsletters.extensions import limiter
from newsletters.services.core.addresses import normalize_email

DEVICE_COOKIE = "newsletters_admin_device"
IP_SCOPE = "admin-sign-in"
ACCOUNT_SCOPE = "admin-sign-in-account"
ANY_BROWSER = "any-browser"
SIGN_IN_ENDPOINTS = {"admin.login", "admin.login_code"}


def account_hash(address: str) -> str:
    """The key of an address in the counts and the device cookie (no address in the store)."""
    return hashlib.sha256(address.encode()).hexdigest()[:32]


def canonical(typed: str) -> str:
    """An address as accounts are stored; anything else as typed, so it counts all the same."""
    try:
        return normalize_email(typed)
    except InvalidInput:
        return typed.strip().lower()[:320]


def _account() -> str:
    """The account this request tries, as ``account_hash`` (worked out once per request)."""
    if "sign_in_account" not in g:
        g.sign_in_account = _account_of_request()
    return g.sign_in_account


def _account_of_request() -> str:
    """The address typed, the one whose password was just given, or the signed-in admin's
    (for the account page's password checks)."""
    if request.endpoint == "admin.login":
        return account_hash(canonical(str(request.form.get("email", ""))))
    if request.endpoint == "admin.login_code":
        pending = sessions.pending_sign_in()
        return str(pending.get("account", "")) if pending else account_hash("")
    if current_user.is_authenticated:
        return account_hash(current_user.email)
    return account_hash("")


def _serializer() -> URLSafeTimedSerializer:
    """Signs the device cookie with SECRET_KEY, and still reads it after a key rotation."""
    config = current_app.config
    keys = [*config.get("SECRET_KEY_FALLBACKS", []), config["SECRET_KEY"]]
    return URLSafeTimedSerializer(keys, salt="newsletters.admin-known-device")


def known_device(account: str) -> str | None:
    """This browser's id, if it has signed in to ``account`` before (a signed cookie)."""
    cookie = request.cookies.get(DEVICE_COOKIE)
    if not cookie:
        return None
    max_age = current_app.config["ADMIN_KNOWN_DEVICE_DAYS"] * 24 * 3600
    try:
        payload = _serializer().loads(cookie, max_age=max_age)
    except BadSignature:
        return None
    if not isinstance(payload, dict) or payload.get("account") != account:
        return None
    device = payload.get("device")
    return device if isinstance(device, str) and device else None


def remember_device(response, address: str):
    """Mark this browser as known to the account it just signed in to."""
    account = account_hash(address)
    device = known_device(account) or secrets.token_urlsafe(16)
    days = current_app.config["ADMIN_KNOWN_DEVICE_DAYS"]
    response.set_cookie(
        DEVICE_COOKIE,
        _serializer().dumps({"account": account, "device": device}),
        max_age=days * 24 * 3600,
        path="/admin",
        secure=current_app.config["SESSION_COOKIE_SECURE"],
        httponly=True,
        samesite="Lax",
    )
    return response


def _account_key() -> str:
    """The per-account count this request falls in: the account, and this browser if known."""
    account = _account()
    return f"admin-account:{account}:{known_device(account) or ANY_BROWSER}"


def _on_known_device() -> bool:
    """True when this browser has signed in to the account it tries before."""
    return known_device(_account()) is not None


def note_failure() -> None:
    """Count this request against the account's limit (a wrong password or code)."""
    g.sign_in_failed = True


def _failed(response) -> bool:
    """True when the view counted this request as a failed attempt."""
    return bool(g.get("sign_in_failed"))


def _ip_limit() -> str:
    """The per-IP limit, from the settings."""
    return current_app.config["ADMIN_LOGIN_RATE_LIMIT"]


def _account_limit() -> str:
    """The per-account limit, from the settings."""
    return current_app.config["ADMIN_LOGIN_ACCOUNT_LIMIT"]


limit_per_ip = limiter.shared_limit(
    _ip_limit, scope=IP_SCOPE, methods=["POST"], exempt_when=_on_known_device
)
limit_per_account = limiter.shared_limit(
    _account_limit,
    scope=ACCOUNT_SCOPE,
    key_func=_account_key,
    methods=["POST"],
    deduct_when=_failed,
)


def longest_wait_minutes() -> int:
    """The longest any sign-in limit makes anyone wait: its longest window, in minutes."""
    items = parse_many(f"{_ip_limit()};{_account_limit()}")
    return max(item.get_expiry() for item in items) // 60


def unlock(address: str) -> None:
    """Forget the failed attempts that slow down strangers' browsers on this account."""
    config = current_app.config
    if not config["RATELIMIT_ENABLED"] or not limiter.enabled:
        return  # nothing was counted
    key = f"admin-account:{account_hash(address)}:{ANY_BROWSER}"
    # Flask-Limiter's keys start with the prefix it was first set up with.
    prefix = getattr(limiter, "_key_prefix", None) or config["RATELIMIT_KEY_PREFIX"]
    identifiers = [prefix, key, ACCOUNT_SCOPE]
    for item in parse_many(_account_limit()):
        limiter.limiter.clear(item, *[part for part in identifiers if part])
