"""Every window of a rate limit checked in one Redis round trip, as Flask-Limiter checks them.

Flask-Limiter sends one command per window and two more for the headers. Here one
Lua script counts the windows in Flask-Limiter's order, in its keys, and stops at
the first one breached, as it does; it returns the count and the time left of the
window the headers describe. Anything else (memory storage, another strategy,
Redis found dead) is left to Flask-Limiter.
"""

import time
from dataclasses import dataclass

from flask import after_this_request
from flask_limiter import HeaderNames, Limiter
from limits import RateLimitItem
from limits.storage import RedisSentinelStorage, RedisStorage
from limits.strategies import FixedWindowRateLimiter
from werkzeug.http import http_date, parse_date

# KEYS: one counter per window, in order. ARGV: each window's amount and seconds.
# Like limits' own incr_expire: a counter's first hit starts its window.
HIT_ALL = """
local first
for i, key in ipairs(KEYS) do
  local current = redis.call("incrby", key, 1)
  if current == 1 then
    redis.call("expire", key, ARGV[2 * i])
  end
  if i == 1 then
    first = current
  end
  if current > tonumber(ARGV[2 * i - 1]) then
    return {i, current, redis.call("ttl", key)}
  end
end
return {0, first, redis.call("ttl", KEYS[1])}
"""


@dataclass(frozen=True)
class Outcome:
    """The window the answer is about: the one breached, else the first checked."""

    breached: bool
    item: RateLimitItem
    key: str
    count: int
    seconds_left: int


def usable(limiter: Limiter) -> bool:
    """Whether this limiter counts in one Redis (no cluster), in fixed windows, right now."""
    return (
        limiter.enabled
        and limiter.initialized
        and not limiter._storage_dead
        and not limiter._request_filters
        and type(limiter._storage) in (RedisStorage, RedisSentinelStorage)
        and type(limiter._limiter) is FixedWindowRateLimiter
    )


def hit_all(
    limiter: Limiter, windows: list[tuple[RateLimitItem, str]], scope: str
) -> Outcome | None:
    """Count one hit in each window (item, key), in Flask-Limiter's order: shortest
    granularity first, and, within one, in the order given; stop at the first breached.
    None when there is nothing to count (Flask-Limiter skips a window with no key)."""
    storage = limiter._storage
    prefix = [limiter._key_prefix] if limiter._key_prefix else []
    ordered = sorted(((item, key) for item, key in windows if key and scope), key=lambda w: w[0])
    if not ordered:
        return None
    names = [item.key_for(*prefix, key, scope) for item, key in ordered]
    script = _script(storage)
    arguments = [n for item, _ in ordered for n in (item.amount, item.get_expiry())]
    index, count, seconds_left = script(
        keys=[storage.prefixed_key(n) for n in names], args=arguments
    )
    item, key = ordered[index - 1] if index else ordered[0]
    return Outcome(bool(index), item, key, int(count), int(seconds_left))


def _script(storage: RedisStorage):
    script = getattr(storage, "_newsletters_hit_all", None)
    if script is None:
        script = storage.get_connection().register_script(HIT_ALL)
        storage._newsletters_hit_all = script
    return script


def send_headers(limiter: Limiter, outcome: Outcome) -> None:
    """Add the headers Flask-Limiter would add for this window to this request's answer."""
    if not limiter._headers_enabled or not limiter._header_mapping:
        return
    names = limiter._header_mapping
    reset_at = int(max(outcome.seconds_left, 0) + time.time() + 1)

    @after_this_request
    def add_headers(response):
        response.headers.add(names[HeaderNames.LIMIT], str(outcome.item.amount))
        remaining = max(0, outcome.item.amount - outcome.count)
        response.headers.add(names[HeaderNames.REMAINING], str(remaining))
        response.headers.add(names[HeaderNames.RESET], str(reset_at))
        retry_at = reset_at
        if (existing := response.headers.get("Retry-After")) is not None:
            date = parse_date(existing)
            later = date.timestamp() if date else time.time() + int(existing)
            retry_at = max(int(later), reset_at)
        response.headers.set(
            names[HeaderNames.RETRY_AFTER],
            str(
                http_date(retry_at)
                if limiter._retry_after == "http-date"
                else int(retry_at - time.time())
            ),
        )
        return response
