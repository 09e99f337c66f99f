"""How fast mail leaves: for all senders together, and for each recipient domain.

Every message waits for a slot. ``MAIL_RATE_LIMIT`` spaces all mail, and
``MAIL_DOMAIN_RATE_LIMITS`` the mail to each domain it names. When the senders
share a Redis (``RATELIMIT_STORAGE_URI``, or else ``CELERY_BROKER_URL``), Redis
hands out the slots, so the limits hold for every process on every machine
together; without one, each process keeps its own line. A 4xx answer (421
included) for a message slows its recipient's domain alone: its spacing
doubles (to ``Backoff.first`` at least, ``Backoff.slowest`` at most), and the
slowdown halves every ``Backoff.half_life`` without another 4xx.

A sender waits at most ``PATIENCE_SECONDS`` for its domain: when the domain's
next slot is further off, nothing is reserved and the sender learns how long
that is, so it can send to other domains meanwhile. If Redis stops answering,
each process paces itself until it answers again, with one warning.
"""

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import current_app

from newsletters.config import domain_rate_limits

log = logging.getLogger(__name__)

# The longest a message waits for its own domain's next slot before it is put back.
PATIENCE_SECONDS = 1.0
# After Redis failed, how long each process paces itself before asking Redis again.
REDIS_RETRY_SECONDS = 30.0


@dataclass(frozen=True)
class Backoff:
    """How far a 4xx slows a domain, and how fast that wears off."""

    first: float = 0.2  # seconds between messages after a first 4xx from an unpaced domain
    slowest: float = 60.0  # the cap: never slower than one message a minute
    half_life: float = 60.0  # a slowed domain's spacing halves every minute without a 4xx


@dataclass(frozen=True)
class Slot:
    """One message's place in line, on the clock of whoever hands out the slots."""

    reserved: bool  # False: the domain's next slot was beyond the patience; nothing was taken
    wait: float  # seconds from now until the slot
    at: float  # when the slot is
    interval: float  # the domain's spacing at that moment (slowed or not)


@dataclass
class LocalSlots:
    """Slots handed out by this process alone: without Redis, or while it is away."""

    backoff: Backoff
    clock: Callable[[], float] = time.monotonic
    lock: threading.Lock = field(default_factory=threading.Lock)
    all_next: float = 0.0
    domain_next: dict[str, float] = field(default_factory=dict)
    slowed: dict[str, tuple[float, float]] = field(default_factory=dict)  # (spacing, since)

    def _decayed(self, domain: str, now: float) -> float:
        spacing, since = self.slowed.get(domain, (0.0, now))
        return spacing * 0.5 ** (max(0.0, now - since) / self.backoff.half_life)

    def reserve(self, domain: str, every: float, interval: float, patience: float) -> Slot:
        """Reserve the next slot for ``domain`` unless it is more than ``patience`` away."""
        with self.lock:
            now = self.clock()
            interval = max(interval, self._decayed(domain, now))
            free = max(now, self.domain_next.get(domain, 0.0))
            if free - now > patience:
                return Slot(reserved=False, wait=free - now, at=free, interval=interval)
            slot = max(free, self.all_next)
            if every:
                self.all_next = slot + every
            if interval:
                self.domain_next[domain] = slot + interval
            return Slot(reserved=True, wait=slot - now, at=slot, interval=interval)

    def slow_down(self, domain: str, interval: float) -> float:
        """Double the domain's spacing (within the backoff's bounds); the new spacing."""
        with self.lock:
            now = self.clock()
            current = max(interval, self._decayed(domain, now))
            spacing = min(self.backoff.slowest, max(2 * current, self.backoff.first))
            self.slowed[domain] = (spacing, now)
            self.domain_next[domain] = max(self.domain_next.get(domain, 0.0), now + spacing)
            return spacing

    def interval(self, domain: str, interval: float) -> float:
        """The spacing a message to ``domain`` gets now, in seconds."""
        with self.lock:
            return max(interval, self._decayed(domain, self.clock()))


class MailPacer:
    """Call :meth:`wait_for` before each message and :meth:`slow_down` after a 4xx."""

    def __init__(
        self,
        rate: float,
        domain_rates: dict[str, float] | None = None,
        redis_url: str | None = None,
        prefix: str = "newsletters",
        *,
        backoff: Backoff = Backoff(),
        clock=time.monotonic,
        sleep=time.sleep,
        retry_redis_after: float = REDIS_RETRY_SECONDS,
    ) -> None:
        self.every = 1.0 / rate if rate and rate > 0 else 0.0
        self.domain_intervals = {d: 1.0 / r for d, r in (domain_rates or {}).items()}
        self.backoff = backoff
        self.local = LocalSlots(backoff, clock)
        self.shared = None
        if redis_url:
            # Imported here: it builds on this module's Slot and Backoff.
            from newsletters.services.mail.pace_redis import RedisSlots

            self.shared = RedisSlots(redis_url, prefix, backoff)
        self.sleep = sleep
        self.redis_away = False
        self.retry_redis_after = retry_redis_after
        self.retry_redis_at = 0.0

    def own_interval(self, domain: str) -> float:
        """The spacing ``MAIL_DOMAIN_RATE_LIMITS`` gives ``domain`` (0: only the global pace)."""
        return self.domain_intervals.get(domain, 0.0)

    def reserve(self, domain: str, patience: float = PATIENCE_SECONDS) -> Slot:
        """Take the next slot for a message to ``domain``, unless that is beyond ``patience``."""
        return self._call("reserve", domain, self.every, self.own_interval(domain), patience)

    def wait_for(self, domain: str, patience: float = PATIENCE_SECONDS) -> float:
        """Sleep until a message to ``domain`` may go, and return 0.

        When the domain's next slot is more than ``patience`` away, reserve
        nothing, sleep not at all, and return the seconds until that slot.
        """
        slot = self.reserve(domain, patience)
        if not slot.reserved:
            return max(slot.wait, 1e-3)
        if slot.wait > 0:
            self.sleep(slot.wait)
        return 0.0

    def slow_down(self, domain: str) -> float:
        """The domain answered 4xx: double its spacing (shared by every sender); the new one."""
        spacing = self._call("slow_down", domain, self.own_interval(domain))
        log.info("%s answered 4xx: one message every %.2f seconds to it for now", domain, spacing)
        return spacing

    def interval_for(self, domain: str) -> float:
        """The spacing messages to ``domain`` get now, in seconds: its own limit, or slower."""
        return self._call("interval", domain, self.own_interval(domain))

    def _call(self, method: str, *args):
        """Ask Redis when there is one and it answers, else this process's own line."""
        if self.shared is not None and time.monotonic() >= self.retry_redis_at:
            from redis import RedisError  # loaded with the shared slots already

            try:
                answer = getattr(self.shared, method)(*args)
            except RedisError as exc:
                if not self.redis_away:
                    log.warning(
                        "Redis does not answer (%r): each process paces its own mail until "
                        "it does; MAIL_RATE_LIMIT and MAIL_DOMAIN_RATE_LIMITS now hold per "
                        "process, not for all senders together",
                        exc,
                    )
                self.redis_away = True
                self.retry_redis_at = time.monotonic() + self.retry_redis_after
            else:
                if self.redis_away:
                    log.info("Redis answers again: mail is paced for all senders together")
                    self.redis_away = False
                return answer
        return getattr(self.local, method)(*args)


def shared_store_url(config) -> str | None:
    """The Redis the senders share: the rate limits' storage, else the Celery broker."""
    for url in (config["RATELIMIT_STORAGE_URI"], config["CELERY_BROKER_URL"]):
        if (url or "").startswith(("redis://", "rediss://")):
            return url
    return None


def domain_of(address: str) -> str:
    """The domain a recipient address belongs to, as the pace knows it."""
    return address.rpartition("@")[2].strip().lower().rstrip(".")


def app_pacer() -> MailPacer:
    """The pacer of the current app, shared by all its connections and threads."""
    config = current_app.config
    url = shared_store_url(config)
    key = (
        config["MAIL_RATE_LIMIT"],
        repr(config["MAIL_DOMAIN_RATE_LIMITS"]),
        url,
        config["RATELIMIT_KEY_PREFIX"],
    )
    pacers = current_app.extensions.setdefault("mail_pacers", {})
    pacer = pacers.get(key)
    if pacer is None:
        pacer = pacers.setdefault(
            key,
            MailPacer(
                config["MAIL_RATE_LIMIT"],
                domain_rate_limits(config["MAIL_DOMAIN_RATE_LIMITS"]),
                url,
                config["RATELIMIT_KEY_PREFIX"],
            ),
        )
    return pacer
