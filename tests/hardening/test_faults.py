"""Real faults, nothing lost: every accepted request is stored once, every refused one is told.

PostgreSQL and Redis sit behind a TCP proxy the test controls and lose their
connections mid-stream; the SMTP server goes away in the middle of an issue;
a Celery worker is killed mid-batch; SQLite runs out of room.
"""

import json
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections import Counter

import pytest
import redis
from sqlalchemy import make_url, select

from newsletters.config import database_uri
from newsletters.extensions import db, limiter
from newsletters.models import Delivery, DeliveryStatus, OutboxMessage, Subscriber
from tests.conftest import ROOT
from tests.support.mail import SMTPRecorder
from tests.support.proxy import Proxy
from tests.support.reader import add_demo_newsletters, csrf_token_in
from tests.support.readers import add_readers
from tests.support.stack import environment as cli_env

THANKS = "Thank you for submitting your email!"
SAVE_FAILED = "It looks like something went wrong"


class Signups:
    """One reader's browser: loads the form once, then signs up address after address."""

    def __init__(self, app) -> None:
        self.client = app.test_client()
        self.token = csrf_token_in(self.client.get("/").get_data(as_text=True))

    def post(self, email: str):
        return self.client.post(
            "/subscribe",
            data={"csrf_token": self.token, "email": email, "newsletters": "the-weekly"},
        )


def _stored(app) -> tuple[Counter, Counter]:
    """Subscriber rows and confirmation emails in the outbox, per address."""
    with app.app_context():
        readers = Counter(db.session.scalars(select(Subscriber.email)))
        mails = Counter(
            db.session.scalars(
                select(OutboxMessage.to_address).where(OutboxMessage.kind == "confirmation")
            )
        )
        db.session.remove()
    return readers, mails


def _assert_told(response) -> None:
    """A refusal the reader can act on: the publisher's message, support, what they ticked."""
    body = response.get_data(as_text=True)
    assert response.status_code == 503, response.status_code
    assert SAVE_FAILED in body and "help@newsletters.test" in body and "The Weekly" in body


def _assert_accepted_stored_once(app, answers: dict[str, int], *, refused_may_be_stored: bool):
    accepted = {email for email, status in answers.items() if status == 200}
    refused = set(answers) - accepted
    readers, mails = _stored(app)
    assert accepted <= set(readers), sorted(accepted - set(readers))
    assert set(readers) <= set(answers), "a row nobody asked for"
    assert set(readers.values()) == {1}, "an address stored twice"
    assert set(mails) == set(readers) and set(mails.values()) == {1}, mails
    stored_refused = refused & set(readers)
    if not refused_may_be_stored:
        assert not stored_refused, sorted(stored_refused)
    return accepted, refused, stored_refused


# --- PostgreSQL restarted during a stream of signups ----------------------------------------


@pytest.fixture
def pg_behind_proxy(settings, database_url, make_app):
    url = make_url(database_uri(database_url))
    proxy = Proxy(url.host, url.port or 5432)
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    app = make_app({**settings, "DATABASE_URL": proxied, "RATELIMIT_ENABLED": False})
    add_demo_newsletters(app)
    yield app, proxy
    proxy.close()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_postgresql_restarting_during_a_stream_of_signups(pg_behind_proxy):
    app, proxy = pg_behind_proxy
    # Every open connection dropped, twice, as a restart does; then down for a while.
    schedule = [None, proxy.cut, proxy.cut, proxy.refuse, proxy.resume, proxy.cut]
    refusing = schedule.index(proxy.refuse)
    phase = [0]
    answers: dict[str, int] = {}
    when: dict[str, tuple[int, int]] = {}
    told: list = []
    crashes: list[BaseException] = []
    stop = threading.Event()

    def reader(n: int) -> None:
        try:
            browser, sent = Signups(app), 0
            while not stop.is_set():
                email = f"stream{n}-{sent}@example.com"
                sent += 1
                began = phase[0]
                response = browser.post(email)
                answers[email], when[email] = response.status_code, (began, phase[0])
                if response.status_code == 200:
                    assert THANKS in response.get_data(as_text=True)
                else:
                    told.append(response)
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            crashes.append(exc)

    threads = [threading.Thread(target=reader, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for n, action in enumerate(schedule):
        if action:
            action()
        phase[0] = n
        time.sleep(0.6)
    stop.set()
    for thread in threads:
        thread.join(timeout=60)

    assert not crashes, crashes
    assert set(answers.values()) <= {200, 503}, Counter(answers.values())
    for response in told:
        _assert_told(response)
    accepted, refused, stored_refused = _assert_accepted_stored_once(
        app, answers, refused_may_be_stored=True
    )
    assert refused, "the outage should have turned some signups away"
    # Dropped connections cost nothing: only a request that met the outage was refused.
    outside = [e for e in refused if not when[e][0] <= refusing <= when[e][1]]
    assert not outside, [(e, when[e]) for e in outside]
    assert any(when[e][0] > refusing for e in accepted), "signups went on after the outage"
    # A refused signup that was stored anyway can only be one whose commit reached the
    # server as the connection died; the reader was told to try again, which is harmless.
    assert len(stored_refused) <= 4, stored_refused


# --- Redis down ----------------------------------------------------------------------------


@pytest.fixture
def redis_behind_proxy(settings, redis_url, make_app):
    url = make_url(redis_url)
    proxy = Proxy(url.host or "127.0.0.1", url.port or 6379)
    app = make_app(
        {
            **settings,
            "RATELIMIT_STORAGE_URI": f"redis://127.0.0.1:{proxy.port}/{url.database or 0}",
            "SIGNUP_RATE_LIMIT": "6 per minute",
            "SIGNUP_ADDRESS_RATE_LIMIT": "100 per minute",
            # One form posts every address here; its bound is tested in test_form_token.py.
            "SIGNUP_FORM_MAX_USES": 0,
        }
    )
    add_demo_newsletters(app)
    yield app, proxy
    proxy.close()
    limiter._storage_dead = False  # the limiter is shared: leave it as the next app expects


def test_redis_down_signup_goes_on_and_each_worker_keeps_limiting_alone(redis_behind_proxy):
    app, proxy = redis_behind_proxy
    browser = Signups(app)
    # Redis outlives the test, so this run comes from an address nobody else has used.
    ip = f"2001:db8::{secrets.token_hex(2)}:{secrets.token_hex(2)}"
    browser.client.environ_base["REMOTE_ADDR"] = ip
    assert browser.post("before@example.com").status_code == 200  # counted in Redis
    proxy.refuse()
    during = [browser.post(f"during{n}@example.com") for n in range(8)]
    codes = [response.status_code for response in during]
    # Signup goes on; the limit still holds, counted afresh in this worker's memory.
    assert codes[:6] == [200] * 6 and codes[6:] == [429, 429], codes
    assert all(THANKS in r.get_data(as_text=True) for r in during[:6])
    answers = {f"during{n}@example.com": code for n, code in enumerate(codes)}
    answers["before@example.com"] = 200
    _assert_accepted_stored_once(app, answers, refused_may_be_stored=False)

    proxy.resume()
    deadline = time.monotonic() + 30
    while limiter._storage_dead:  # the limiter looks for Redis again, backing off
        assert time.monotonic() < deadline, "the limiter never went back to Redis"
        browser.post("later@example.com")
        time.sleep(0.5)
    store = redis.Redis.from_url(f"redis://127.0.0.1:{proxy.port}")
    keys = list(store.scan_iter(match=f"*{ip}*"))
    assert keys, "after Redis came back, the limits are counted there again"
    store.delete(*keys)
    store.close()


FAIL_CLOSED = """
import json
from newsletters import create_app
from tests.hardening.test_faults import Signups

app = create_app()  # a fresh process: the limiter reads these settings afresh
response = Signups(app).post("closed@example.com")
body = response.get_data(as_text=True)
told = all(s in body for s in ("It looks like something went wrong", "help@newsletters.test"))
print(json.dumps([response.status_code, told]))
"""


def test_redis_down_with_limits_set_to_fail_closed_refuses_signup_and_says_so(settings, make_app):
    from tests.support.mail import free_port

    settings.update(
        RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{free_port()}/0",  # nobody listens there
        RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=False,
        RATELIMIT_SWALLOW_ERRORS=False,
        PROPAGATE_EXCEPTIONS=False,
    )
    app = make_app(settings)
    add_demo_newsletters(app)
    ran = subprocess.run(
        [sys.executable, "-c", FAIL_CLOSED],
        cwd=ROOT, env=cli_env(settings), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout.splitlines()[-1]) == [500, True]
    readers, _ = _stored(app)
    assert not readers


# --- The SMTP server down for the length of an issue ---------------------------------------


class FallsOver(SMTPRecorder):
    """An SMTP server that goes away for good once it has taken ``after`` messages."""

    def __init__(self, after: int) -> None:
        super().__init__()
        self.after = after

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if len(self.envelopes) >= self.after:
            server.transport.close()  # this connection dies before the next message...
            if self.running:  # ...and the server stops listening, from outside its loop
                self.running = False
                threading.Thread(target=self.controller.stop).start()
            return "421 4.3.2 shutting down"
        return await super().handle_MAIL(server, session, envelope, address, mail_options)


@pytest.fixture
def falls_over(settings, tmp_path):
    smtp = FallsOver(after=25)
    settings.update(
        smtp.settings(), DIGEST_BATCH_SIZE=10, DIGEST_JOURNAL_DIR=str(tmp_path / "journal")
    )
    yield smtp
    smtp.stop()


def test_smtp_down_for_the_length_of_an_issue(falls_over, app, runner, weekly):
    smtp, readers = falls_over, add_readers(app, weekly, 60)

    down = runner.invoke(args=["digest", "send"])  # nothing listening at all
    assert down.exit_code == 1 and "stopped:" in down.output, down.output
    assert "sent 0" in down.output

    smtp.start()
    midway = runner.invoke(args=["digest", "send"])  # up, then gone after 25
    assert midway.exit_code == 1 and "stopped:" in midway.output, midway.output
    assert len(smtp.envelopes) == 25 and not smtp.running

    smtp.after = 10**6
    smtp.start()  # back, on the same address
    back = runner.invoke(args=["digest", "send"])
    assert back.exit_code == 0 and ": sent;" in back.output, back.output
    received = Counter(smtp.recipients)
    assert set(received) == set(readers) and set(received.values()) == {1}
    with app.app_context():
        assert {d.status.value for d in db.session.scalars(select(Delivery))} == {"sent"}


# --- A worker killed mid-batch under --executor celery -------------------------------------


def _celery_worker(settings, name: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "newsletters.tasks", "worker", "--pool=solo",
         f"--hostname={name}@%h", "--loglevel=WARNING", "--without-heartbeat",
         "--without-gossip", "--without-mingle"],
        cwd=ROOT, env=cli_env(settings), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip


def _worker_in_the_middle_of_a_batch(app, smtp_server, workers, run, after: int):
    """Once ``after`` messages are out, the worker that holds a claimed batch right now."""
    by_pid = {worker.pid: worker for worker in workers}
    deadline = time.monotonic() + 120
    while True:
        assert time.monotonic() < deadline and run.poll() is None, "no batch was caught in flight"
        if len(smtp_server.envelopes) >= after:
            with app.app_context():
                tokens = db.session.scalars(
                    select(Delivery.claim_token).where(Delivery.status == DeliveryStatus.SENDING)
                ).all()
                db.session.remove()
            pids = {int(token.split(":")[1]) for token in tokens if token}
            if pids & set(by_pid):
                return by_pid[min(pids & set(by_pid))]
        time.sleep(0.02)


@pytest.mark.parametrize(
    ("workers", "batch_size"),
    [
        pytest.param(2, 50, id="the-other-worker-takes-over"),
        # The only batch's worker dies and a supervisor starts a new one: no task is left
        # in the queue, so the run itself hands the batch out again.
        pytest.param(1, 400, id="the-only-batch-is-handed-out-again"),
    ],
)
def test_a_celery_worker_killed_mid_batch_loses_and_repeats_nothing(
    app, settings, smtp_server, weekly, redis_url, tmp_path, workers, batch_size
):
    readers = add_readers(app, weekly, 400)
    settings.update(
        smtp_server.settings(),
        CELERY_BROKER_URL=redis_url,
        CELERY_QUEUE=f"newsletters-faults-{secrets.token_hex(6)}",
        DIGEST_BATCH_SIZE=batch_size,
        DIGEST_JOURNAL_DIR=str(tmp_path / "journal"),
        MAIL_RATE_LIMIT=100,  # per worker: slow enough to be caught in the middle
    )
    running = [_celery_worker(settings, f"w{n}") for n in range(workers)]
    run = subprocess.Popen(
        [sys.executable, "-m", "flask", "digest", "send", "--executor", "celery"],
        cwd=ROOT, env=cli_env(settings), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    try:
        victim = _worker_in_the_middle_of_a_batch(app, smtp_server, running, run, after=100)
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
        assert len(smtp_server.envelopes) < 400, "the kill came too late to prove anything"
        if workers == 1:
            running.append(_celery_worker(settings, "replacement"))
        output, _ = run.communicate(timeout=180)
    finally:
        run.kill()
        for worker in running:
            worker.kill()
            output_of_worker = worker.communicate(timeout=30)[0]
            if worker is not victim:
                survivor_output = output_of_worker
        _forget_queue(redis_url, settings["CELERY_QUEUE"])
    assert run.returncode == 0, output
    assert ": sent;" in output and "failed 0" in output, output
    assert "recovered an abandoned batch" in output + survivor_output
    received = Counter(smtp_server.recipients)
    assert set(received) == set(readers)
    repeated = [address for address, times in received.items() if times > 1]
    # Only the message on the wire when the worker died may have gone out twice.
    assert len(repeated) <= 1, repeated
    with app.app_context():
        assert {d.status.value for d in db.session.scalars(select(Delivery))} == {"sent"}


def _forget_queue(redis_url: str, queue: str) -> None:
    """Redis outlives the test: take away this test's queue and what the broker kept of it."""
    store = redis.Redis.from_url(redis_url)
    keys = [key for pattern in (queue, f"*{queue}*") for key in store.scan_iter(match=pattern)]
    if keys:
        store.delete(*keys)
    store.close()


# --- SQLite's disk full --------------------------------------------------------------------

FILL_UP = """
import json, os, resource, signal, sys
from newsletters import create_app
from tests.hardening.test_faults import Signups

app = create_app()
browser = Signups(app)
size = os.path.getsize(app.config["DATABASE_URL"].removeprefix("sqlite:///"))
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
room = size + int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_FSIZE, (room, room))
answers = {}
for n in range(int(sys.argv[2])):
    response = browser.post(f"full{n}@example.com")
    body = response.get_data(as_text=True)
    told = all(s in body for s in ("It looks like something went wrong", "help@newsletters.test"))
    answers[f"full{n}@example.com"] = [response.status_code, told]
print(json.dumps(answers))
"""


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_sqlite_with_a_full_disk_tells_the_reader_and_keeps_what_it_accepted(app, settings):
    add_demo_newsletters(app)
    env = cli_env({**settings, "RATELIMIT_ENABLED": False})
    filled = subprocess.run(
        [sys.executable, "-c", FILL_UP, str(48 * 1024), "120"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert filled.returncode == 0, filled.stderr
    results = json.loads(filled.stdout.splitlines()[-1])
    answers = {email: status for email, (status, _) in results.items()}
    assert set(answers.values()) == {200, 503}, Counter(answers.values())
    assert all(told for status, told in results.values() if status == 503)
    accepted, refused, _ = _assert_accepted_stored_once(app, answers, refused_may_be_stored=False)
    assert accepted and refused
    # With room again, the same file takes signups: nothing was left half-written.
    with app.app_context():
        assert db.session.execute(db.text("PRAGMA integrity_check")).scalar() == "ok"
    assert Signups(app).post("after@example.com").status_code == 200
