"""Pace: one MAIL_RATE_LIMIT for every sender, a limit per domain, and backoff after a 4xx."""

import json
import logging
import math
import secrets
import subprocess
import sys
import time

import pytest
import redis
from sqlalchemy import select

from newsletters.extensions import db
from newsletters.models import OutboxMessage, OutboxStatus
from newsletters.preflight import RefusedToStart
from newsletters.services.mail import pace, smtp
from newsletters.services.mail.pace import Backoff, MailPacer, shared_store_url
from tests.conftest import ROOT
from tests.support.mail import SMTPRecorder, free_port
from tests.support.outbox import queue, rows
from tests.support.readers import add_active_readers
from tests.support.stack import environment as cli_env

RAW = b"From: The Daily Ledger <newsletters@newsletters.test>\r\nSubject: Paced\r\n\r\nHello.\r\n"
# Slots are whole microseconds in Redis; the float seconds they become may round by one.
ROUNDING = 2e-6


@pytest.fixture
def prefix(redis_url):
    """Redis keys of this test alone, removed afterwards."""
    name = f"pace-test-{secrets.token_hex(6)}"
    yield name
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(f"{name}:*"))
    if keys:
        client.delete(*keys)
    client.close()


def _spacings(times: list[float]) -> list[float]:
    ordered = sorted(times)
    return [later - earlier for earlier, later in zip(ordered, ordered[1:], strict=False)]


# --- Across processes and machines, through Redis -------------------------------------------

SENDER = """
import json, math, sys
from newsletters.services.mail.pace import MailPacer
url, prefix, rate, count = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
pacer = MailPacer(rate, {}, url, prefix)
print("ready", flush=True)
sys.stdin.readline()
slots = []
for n in range(count):
    slot = pacer.reserve(f"reader{n}.example", patience=math.inf)
    pacer.sleep(slot.wait)
    slots.append(slot.at)
print(json.dumps({"slots": slots, "shared": not pacer.redis_away}), flush=True)
"""


def test_two_processes_sharing_redis_never_take_slots_closer_than_the_limit(redis_url, prefix):
    rate, count = 20, 15
    senders = [
        subprocess.Popen(
            [sys.executable, "-c", SENDER, redis_url, prefix, str(rate), str(count)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for _ in range(2)
    ]
    try:
        for sender in senders:
            assert sender.stdout.readline().strip() == "ready"
        for sender in senders:  # both start at once, so they really compete for slots
            sender.stdin.write("go\n")
            sender.stdin.flush()
        answers = [json.loads(sender.communicate(timeout=120)[0]) for sender in senders]
    finally:
        for sender in senders:
            if sender.poll() is None:
                sender.kill()
    assert all(answer["shared"] for answer in answers)
    slots = [at for answer in answers for at in answer["slots"]]
    assert len(slots) == 2 * count
    assert min(_spacings(slots)) >= 1 / rate - ROUNDING


def test_a_domain_limit_spaces_that_domain_alone_across_senders(redis_url, prefix):
    one, other = (MailPacer(0, {"gmail.com": 10}, redis_url, prefix) for _ in range(2))
    gmail, elsewhere = [], []
    for pacer in (one, other, one, other, one, other):
        gmail.append(pacer.reserve("gmail.com", patience=math.inf))
        elsewhere.append(pacer.reserve("example.org", patience=math.inf))
    assert min(_spacings([slot.at for slot in gmail])) >= 0.1 - ROUNDING
    assert all(slot.reserved and slot.wait == 0 for slot in elsewhere)
    assert other.interval_for("gmail.com") == pytest.approx(0.1)
    assert other.interval_for("example.org") == 0


def test_a_4xx_slows_that_domain_for_every_sender_and_no_other(redis_url, prefix):
    one, other = (MailPacer(0, {}, redis_url, prefix) for _ in range(2))
    assert one.slow_down("slow.example") == pytest.approx(0.2)
    assert other.slow_down("slow.example") == pytest.approx(0.4, rel=0.01)  # doubles: shared
    assert one.interval_for("slow.example") == pytest.approx(0.4, rel=0.01)
    busy = one.reserve("slow.example", patience=0)
    assert not busy.reserved and 0 < busy.wait <= 0.4
    assert one.wait_for("slow.example", patience=0) > 0  # nothing reserved, nothing slept
    assert one.interval_for("fast.example") == 0
    fast = other.reserve("fast.example", patience=0)
    assert fast.reserved and fast.wait == 0


def test_through_redis_a_slowed_domain_is_capped_and_wears_off(redis_url, prefix):
    capped = MailPacer(0, {}, redis_url, prefix, backoff=Backoff(slowest=1.0))
    spacings = [capped.slow_down("slow.example") for _ in range(5)]
    assert spacings == pytest.approx([0.2, 0.4, 0.8, 1.0, 1.0], rel=0.02)
    brief = MailPacer(0, {}, redis_url, prefix, backoff=Backoff(slowest=1.0, half_life=0.2))
    for _ in range(5):
        brief.slow_down("tired.example")
    time.sleep(0.6)  # three half-lives at least: an eighth of the cap, or less
    assert brief.interval_for("tired.example") <= 1.0 / 8 + ROUNDING
    assert capped.interval_for("slow.example") > 0.9  # its own half-life is a minute


def test_the_broker_is_the_shared_store_when_the_rate_limits_are_not_in_redis():
    def url(storage: str, broker: str) -> str | None:
        return shared_store_url({"RATELIMIT_STORAGE_URI": storage, "CELERY_BROKER_URL": broker})

    assert url("redis://limits:6379/0", "redis://broker:6379/1") == "redis://limits:6379/0"
    assert url("rediss://limits:6380/0", "") == "rediss://limits:6380/0"
    assert url("memory://", "redis://broker:6379/1") == "redis://broker:6379/1"
    assert url("memory://", "amqp://broker") is None


# --- Without Redis, or when it is away ------------------------------------------------------


class FakeTime:
    """A clock that only moves when someone sleeps."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.now += seconds


def test_without_redis_a_process_keeps_the_pace_itself():
    fake = FakeTime()
    pacer = MailPacer(4, {"yahoo.com": 1}, clock=fake.clock, sleep=fake.sleep)
    for _ in range(5):
        assert pacer.wait_for("example.com") == 0
    assert fake.slept == [0.25] * 4
    assert pacer.wait_for("yahoo.com") == 0
    assert pacer.wait_for("yahoo.com", patience=math.inf) == 0
    assert fake.slept[-1] == 1.0  # yahoo.com's own limit, not the global one
    unlimited = MailPacer(0, clock=fake.clock, sleep=fake.sleep)
    before = len(fake.slept)
    for _ in range(3):
        unlimited.wait_for("example.com")
    assert len(fake.slept) == before


def test_without_redis_a_slowed_domain_is_capped_and_wears_off():
    fake = FakeTime()
    pacer = MailPacer(0, clock=fake.clock, sleep=fake.sleep)
    spacings = [pacer.slow_down("slow.example") for _ in range(12)]
    assert spacings[:4] == pytest.approx([0.2, 0.4, 0.8, 1.6])
    assert max(spacings) == spacings[-1] == Backoff().slowest
    assert pacer.interval_for("fast.example") == 0
    fake.now += 2 * Backoff().half_life
    assert pacer.interval_for("slow.example") == pytest.approx(Backoff().slowest / 4)


def test_redis_away_is_warned_about_once_however_often_it_is_asked_again(caplog):
    fake = FakeTime()
    closed = f"redis://127.0.0.1:{free_port()}/0"
    pacer = MailPacer(4, {}, closed, "x", clock=fake.clock, sleep=fake.sleep, retry_redis_after=0)
    with caplog.at_level(logging.INFO, logger="newsletters.services.mail.pace"):
        for _ in range(3):
            assert pacer.wait_for("example.com") == 0  # asks Redis each time, in vain
    assert fake.slept == [0.25, 0.25]  # this process keeps the pace meanwhile
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and pacer.redis_away


@pytest.fixture
def redis_away(settings, smtp_server):
    settings.update(
        smtp_server.settings(),
        RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{free_port()}/0",  # nobody listens there
        MAIL_RATE_LIMIT=200,
        MAIL_DOMAIN_RATE_LIMITS="example.com=200",
    )
    return settings


def test_with_redis_away_mail_still_goes_and_one_warning_says_so(
    redis_away, app, runner, smtp_server, caplog
):
    addresses = [f"reader{n}@example.com" for n in range(4)]
    queue(app, *addresses)
    with caplog.at_level(logging.INFO, logger="newsletters.services.mail.pace"):
        assert "sent 4" in runner.invoke(args=["outbox", "drain"]).output
        queue(app, "late@example.com")
        assert "sent 1" in runner.invoke(args=["outbox", "drain"]).output
    assert smtp_server.recipients == [*addresses, "late@example.com"]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "Redis does not answer" in warnings[0].getMessage()


# --- A slowed domain in the senders -------------------------------------------------------


class SlowDomain(SMTPRecorder):
    """An SMTP server that answers RCPT to one domain with a 4xx, as a throttling provider does."""

    def __init__(self, domain: str, reply: str) -> None:
        super().__init__()
        self.domain, self.reply = domain, reply
        self.refusals = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.endswith("@" + self.domain):
            self.refusals += 1
            return self.reply
        return await super().handle_RCPT(server, session, envelope, address, rcpt_options)


@pytest.fixture(params=["451 4.7.1 Too many messages, slow down", "421 4.7.0 Try again later"])
def slow_example(request, settings, redis_url, prefix):
    server = SlowDomain("slow.example", request.param)
    server.start()
    settings.update(server.settings(), RATELIMIT_STORAGE_URI=redis_url, RATELIMIT_KEY_PREFIX=prefix)
    yield server
    server.stop()


def test_a_4xx_from_one_domain_slows_it_alone_and_the_other_domains_still_go(
    slow_example, app, runner, weekly
):
    slow = [f"reader{n}@slow.example" for n in range(3)]
    fast = [f"reader{n}@fast.example" for n in range(3)]
    add_active_readers(
        app, {address: ["the-weekly"] for pair in zip(slow, fast, strict=True) for address in pair}
    )
    result = runner.invoke(args=["digest", "send"])
    assert "sent 3, failed 3" in result.output, result.output
    assert sorted(slow_example.recipients) == sorted(fast)
    assert slow_example.refusals == 3
    with app.app_context():
        pacer = pace.app_pacer()
        assert pacer.shared is not None and not pacer.redis_away
        assert pacer.interval_for("slow.example") > Backoff().first  # doubled, at least once
        assert pacer.interval_for("fast.example") == 0


@pytest.fixture
def smtp_settings(settings, smtp_server):
    settings.update(smtp_server.settings())
    return settings


def test_mail_to_a_slowed_domain_is_put_back_not_waited_on(smtp_settings, app, runner, smtp_server):
    with app.app_context():
        pacer = pace.app_pacer()
        for _ in range(9):
            slowest = pacer.slow_down("slow.example")
        assert slowest > 50  # the next slot is most of a minute away
        with smtp.open_transport() as transport:
            with pytest.raises(smtp.DomainBusy) as busy:
                transport.send(RAW, "reader@slow.example")
            transport.send(RAW, "reader@fast.example")  # the same connection goes on
    assert pace.PATIENCE_SECONDS < busy.value.retry_in <= slowest
    assert smtp_server.recipients == ["reader@fast.example"]

    [message_id] = queue(app, "friend@slow.example")
    assert "retrying 1" in runner.invoke(args=["outbox", "drain"]).output
    assert rows(app) == {"friend@slow.example": ("pending", 1)}
    with app.app_context():
        message = db.session.scalar(select(OutboxMessage).where(OutboxMessage.id == message_id))
        assert message.status == OutboxStatus.PENDING and "paced" in message.last_error
    assert smtp_server.recipients == ["reader@fast.example"]


# --- MAIL_DOMAIN_RATE_LIMITS, as written by an operator -------------------------------------


@pytest.mark.parametrize(
    ("value", "named"),
    [
        ("gmail.com", "'gmail.com'"),
        ("gmail.com=fast", "'fast'"),
        ("gmail.com=0", "'0'"),
        ("gmail.com=-5", "'-5'"),
        ("gmail.com=nan", "'nan'"),
        ("gmail.com=inf", "'inf'"),
        ("gmail com=5", "'gmail com'"),
        ("=5", "''"),
        ("gmail.com=50,GMAIL.com=20", "gmail.com twice"),
    ],
)
def test_start_up_refuses_domain_limits_it_cannot_read(settings, make_app, value, named):
    settings["MAIL_DOMAIN_RATE_LIMITS"] = value
    with pytest.raises(RefusedToStart) as refused:
        make_app(settings)
    message = str(refused.value)
    assert "MAIL_DOMAIN_RATE_LIMITS" in message and named in message
    assert "gmail.com=50,yahoo.com=20" in message or "twice" in message


def test_domain_limits_from_the_environment_are_checked_too(settings, make_app, monkeypatch):
    monkeypatch.setenv("MAIL_DOMAIN_RATE_LIMITS", "gmail.com=lots")
    with pytest.raises(RefusedToStart, match="MAIL_DOMAIN_RATE_LIMITS"):
        make_app(settings)
    monkeypatch.setenv("MAIL_DOMAIN_RATE_LIMITS", " Gmail.com = 50, yahoo.com=0.5, bücher.de=2,")
    app = make_app(settings)
    with app.app_context():
        assert pace.app_pacer().domain_intervals == {
            "gmail.com": 0.02,
            "yahoo.com": 2.0,
            "xn--bcher-kva.de": 0.5,
        }


def _wait_until(condition, what: str, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_an_issue_sends_to_other_domains_while_a_paced_one_waits(
    smtp_settings, app, weekly, smtp_server, tmp_path
):
    slow = ["first@slow.example", "second@slow.example"]
    fast = [f"reader{n}@fast.example" for n in range(3)]
    add_active_readers(app, {address: ["the-weekly"] for address in [*slow, *fast]})
    smtp_settings.update(
        MAIL_DOMAIN_RATE_LIMITS="slow.example=0.01",  # one message every 100 seconds
        DIGEST_JOURNAL_DIR=str(tmp_path / "journal"),
    )
    run = subprocess.Popen(
        [sys.executable, "-m", "flask", "digest", "send"],
        cwd=ROOT, env=cli_env(smtp_settings), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    try:
        _wait_until(lambda: len(smtp_server.recipients) >= 4, "the first four messages")
        with pytest.raises(subprocess.TimeoutExpired):
            run.wait(timeout=2)  # still at work: the second slow.example message waits its turn
    finally:
        run.kill()
        output, _ = run.communicate(timeout=10)
    received = smtp_server.recipients
    assert sorted(r for r in received if r in fast) == sorted(fast), output
    assert len([r for r in received if r in slow]) == 1, output
