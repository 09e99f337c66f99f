"""Sending slots handed out by Redis, so every process on every machine keeps one pace.

Each call is one Lua script, run atomically by Redis on Redis's own clock (so
machines whose clocks disagree still agree on the line): it reads the next free
time of the recipient's domain and of all mail, reserves the later of the two
(or now), moves both on by their intervals, and answers how long to sleep. A
slowed domain keeps its interval and the moment it was last slowed; the interval
halves every half-life from then, so it decays back by itself. Times are
integer microseconds, exact in Lua's numbers; every key expires once it no
longer matters.
"""

import math

import redis

from newsletters.services.mail.pace import Backoff, Slot

MICROSECONDS = 1_000_000
TIMEOUT_SECONDS = 2

# Shared by the scripts: the time now, and a domain's slowed interval as it has decayed.
PRELUDE = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local function slowed(key, half_life)
  local state = redis.call('HMGET', key, 'interval', 'since')
  if not state[1] then return 0 end
  local age = math.max(0, now - tonumber(state[2]))
  return math.floor(tonumber(state[1]) * math.pow(0.5, age / half_life))
end
local function push(key, at)
  redis.call('SET', key, string.format('%.0f', at), 'PX', math.ceil((at - now) / 1000) + 1000)
end
"""

# KEYS: all mail's next free time, the domain's, the domain's slowed state.
# ARGV: interval of all mail, the domain's own interval, patience, half-life.
RESERVE = (
    PRELUDE
    + """
local every = tonumber(ARGV[1])
local interval = math.max(tonumber(ARGV[2]), slowed(KEYS[3], tonumber(ARGV[4])))
local free = math.max(now, tonumber(redis.call('GET', KEYS[2]) or 0))
if free - now > tonumber(ARGV[3]) then
  return {0, free - now, free, interval}
end
local slot = math.max(free, tonumber(redis.call('GET', KEYS[1]) or 0))
if every > 0 then push(KEYS[1], slot + every) end
if interval > 0 then push(KEYS[2], slot + interval) end
return {1, slot - now, slot, interval}
"""
)

# KEYS: the domain's next free time, its slowed state.
# ARGV: the domain's own interval, first backoff, slowest, half-life.
SLOW_DOWN = (
    PRELUDE
    + """
local current = math.max(tonumber(ARGV[1]), slowed(KEYS[2], tonumber(ARGV[4])))
local interval = math.min(tonumber(ARGV[3]), math.max(2 * current, tonumber(ARGV[2])))
redis.call('HSET', KEYS[2], 'interval', string.format('%.0f', interval),
           'since', string.format('%.0f', now))
redis.call('PEXPIRE', KEYS[2], math.ceil(tonumber(ARGV[4]) * 20 / 1000))
local free = tonumber(redis.call('GET', KEYS[1]) or 0)
if free < now + interval then push(KEYS[1], now + interval) end
return interval
"""
)

# KEYS: the domain's slowed state. ARGV: the domain's own interval, half-life.
INTERVAL = (
    PRELUDE
    + """
return math.max(tonumber(ARGV[1]), slowed(KEYS[1], tonumber(ARGV[2])))
"""
)


def _us(seconds: float) -> int:
    """Seconds as whole microseconds, rounded up: a pace is never made faster."""
    return math.ceil(seconds * MICROSECONDS) if seconds != math.inf else 2**52


class RedisSlots:
    """Slots shared through one Redis by every sender; ``redis.RedisError`` when it is away."""

    def __init__(self, url: str, prefix: str, backoff: Backoff) -> None:
        self.client = redis.Redis.from_url(
            url, socket_connect_timeout=TIMEOUT_SECONDS, socket_timeout=TIMEOUT_SECONDS
        )
        self.prefix = f"{prefix}:mail-pace"
        self.backoff = backoff
        self.reserve_script = self.client.register_script(RESERVE)
        self.slow_down_script = self.client.register_script(SLOW_DOWN)
        self.interval_script = self.client.register_script(INTERVAL)

    def _next(self, domain: str) -> str:
        return f"{self.prefix}:next:{domain}"

    def _slowed(self, domain: str) -> str:
        return f"{self.prefix}:slowed:{domain}"

    def reserve(self, domain: str, every: float, interval: float, patience: float) -> Slot:
        """Reserve the next slot for ``domain`` unless it is more than ``patience`` away."""
        reserved, wait, at, spacing = self.reserve_script(
            keys=[f"{self.prefix}:all", self._next(domain), self._slowed(domain)],
            args=[_us(every), _us(interval), _us(patience), _us(self.backoff.half_life)],
        )
        return Slot(
            reserved=bool(reserved),
            wait=wait / MICROSECONDS,
            at=at / MICROSECONDS,
            interval=spacing / MICROSECONDS,
        )

    def slow_down(self, domain: str, interval: float) -> float:
        """Double the domain's spacing (within the backoff's bounds); the new spacing."""
        backoff = self.backoff
        new = self.slow_down_script(
            keys=[self._next(domain), self._slowed(domain)],
            args=[_us(interval), _us(backoff.first), _us(backoff.slowest), _us(backoff.half_life)],
        )
        return new / MICROSECONDS

    def interval(self, domain: str, interval: float) -> float:
        """The spacing a message to ``domain`` gets now, in seconds."""
        spacing = self.interval_script(
            keys=[self._slowed(domain)], args=[_us(interval), _us(self.backoff.half_life)]
        )
        return spacing / MICROSECONDS
