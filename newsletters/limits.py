"""Rate limits shared by the pages and the API: per IP, and per address typed in.

The same storage (Redis in production) also counts the uses of each signup
form's token, so every web process sees the same count.

The limits are Flask-Limiter's, and so are their keys and answers. With Redis, a
signup checks every window, per IP and per address, in one round trip
(:mod:`newsletters.limits_redis`); anywhere else, and whenever Redis fails,
Flask-Limiter checks them itself, one window at a time.
"""

import functools
import hashlib
import logging

from flask import current_app, request
from limits import RateLimitItemPerSecond, parse_many
from werkzeug.exceptions import TooManyRequests

from newsletters import limits_redis
from newsletters.errors import InvalidEmail
from newsletters.extensions import limiter
from newsletters.services.core.addresses import MAX_ADDRESS_LENGTH, normalize_email

log = logging.getLogger(__name__)


def _per_ip() -> str:
    return current_app.config["SIGNUP_RATE_LIMIT"]


def _per_address() -> str:
    return current_app.config["SIGNUP_ADDRESS_RATE_LIMIT"]


def address_key() -> str:
    """Key the per-address limit on the address in the form or JSON body, normalised.

    Every spelling that reaches the same reader (case, full-width letters) shares
    one count; text that is no address at all is counted as typed, and refused.
    """
    email = request.form.get("email")
    if email is None:
        body = request.get_json(silent=True)
        email = body.get("email") if isinstance(body, dict) else None
    email = (email if isinstance(email, str) else "")[: MAX_ADDRESS_LENGTH + 1]
    try:
        email = normalize_email(email, check_deliverability=False)
    except InvalidEmail:
        email = email.strip().lower()
    return f"address:{email}" if email else f"ip:{request.remote_addr}"


limit_per_ip = limiter.limit(_per_ip, methods=["POST"])
limit_per_address = limiter.limit(_per_address, key_func=address_key, methods=["POST"])


def limit_signups(view):
    """Limit a POST view per IP (``SIGNUP_RATE_LIMIT``) and per address typed in
    (``SIGNUP_ADDRESS_RATE_LIMIT``), exactly as Flask-Limiter does, in one round trip.

    Past a limit the answer is 429; every answer carries ``X-RateLimit-*`` and
    ``Retry-After`` for the window that decided it.
    """
    one_at_a_time = limit_per_ip(limit_per_address(view))

    @functools.wraps(view)
    def limited(*args, **kwargs):
        if request.method != "POST" or not limits_redis.usable(limiter):
            return one_at_a_time(*args, **kwargs)
        windows = [
            (item, key)
            for items, key in (
                (_parsed(_per_address()), address_key()),
                (_parsed(_per_ip()), limiter._key_func()),
            )
            for item in items
        ]
        try:
            outcome = limits_redis.hit_all(limiter, windows, request.endpoint or "")
        except Exception as exc:  # Flask-Limiter falls back to memory, or fails, as set
            log.warning("could not check the signup limits in one round trip: %r", exc)
            return one_at_a_time(*args, **kwargs)
        if outcome is None:
            return view(*args, **kwargs)
        limits_redis.send_headers(limiter, outcome)
        if outcome.breached:
            log.info("rate limit %s (%s) exceeded", outcome.item, outcome.key)
            raise TooManyRequests()
        return view(*args, **kwargs)

    return limited


@functools.lru_cache(maxsize=64)
def _parsed(limits: str) -> tuple:
    return tuple(parse_many(limits))


def spend_form_use(nonce: str, retry_key: str | None) -> bool:
    """Count one use of the signup form whose token carries ``nonce``; False once used up.

    A form may be posted ``SIGNUP_FORM_MAX_USES`` times while its token lives. A retry
    with an ``Idempotency-Key`` already counted for this form passes without counting.
    """
    config = current_app.config
    uses = config["SIGNUP_FORM_MAX_USES"]
    if not uses or not config["RATELIMIT_ENABLED"] or not limiter.enabled:
        return True
    window = config["SIGNUP_FORM_MAX_AGE"] or 24 * 3600
    allowed = RateLimitItemPerSecond(uses, window)
    counted = RateLimitItemPerSecond(1, window)
    form = (config["RATELIMIT_KEY_PREFIX"], "signup-form", nonce)
    retry = (*form, hashlib.sha256(retry_key.encode()).hexdigest()[:32]) if retry_key else None
    strategy = limiter.limiter
    try:
        if retry is not None and not strategy.test(counted, *retry):
            return True  # this very request was counted when it was first sent
        if not strategy.hit(allowed, *form):
            return False
        if retry is not None:
            strategy.hit(counted, *retry)
    except Exception as exc:  # the storage is down: fail as the rate limits are set to
        if not config["RATELIMIT_SWALLOW_ERRORS"]:
            raise
        log.warning("could not count a signup form's use: %r", exc)
    return True


def counting_allowed(kind: str, token: str) -> bool:
    """Whether a click or pixel fetch from this IP may still be counted (``COUNTING_RATE_LIMIT``
    per IP and link, or per IP and issue for the pixel).

    Past the limit the reader is still redirected (or shown the picture); only the count
    stops, so a loop cannot inflate the totals and no reader is ever turned away.
    """
    config = current_app.config
    if not config["RATELIMIT_ENABLED"] or not limiter.enabled:
        return True
    key = (
        config["RATELIMIT_KEY_PREFIX"],
        "counting",
        kind,
        hashlib.sha256(token.encode()).hexdigest()[:32],
        request.remote_addr or "",
    )
    try:
        return all(
            limiter.limiter.hit(item, *key) for item in parse_many(config["COUNTING_RATE_LIMIT"])
        )
    except Exception as exc:  # the storage is down: counting matters less than the reader
        if not config["RATELIMIT_SWALLOW_ERRORS"]:
            raise
        log.warning("could not rate-limit a count: %r", exc)
        return True
