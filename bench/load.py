"""Signups under load: gunicorn on PostgreSQL, as hard as this machine allows, for a minute.

    .venv/bin/python bench/load.py [--seconds 60] [--concurrency 16] [--workers 2]

It makes a database of its own next to ``TEST_DATABASE_URL``, migrates it, and
serves the app with the shipped ``deploy/gunicorn.conf.py`` in production mode,
with Redis as the rate-limit store and Celery broker (no worker runs, so every
confirmation stays in the outbox to be counted). Then ``--concurrency`` readers
post the signup form back to back, as the page's script does, each one a mix of

- a new address with one to three newsletters (70%),
- an address already posted, again (20%; at most twice each, under the per-address limit),
- something the form must refuse (10%): a malformed address, an unknown newsletter,
  no newsletter at all, a forged form token.

It prints (and writes to ``bench/results.md``) requests per second, p50 and p99
latency, and errors: a refused connection, a 5xx, or any answer other than the
one the contract gives for that input. Then it checks the database: every address
that was answered "Thank you" has exactly one subscriber row, pending for exactly
the newsletters it asked for, and exactly one confirmation email in the outbox;
nothing refused left a trace. It exits 1 if any of that fails.

The per-IP signup limit is raised out of the way (every request comes from
127.0.0.1); the per-address limit and the one-confirmation-per-interval rule stay.
"""

import argparse
import http.client
import json
import random
import secrets
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402

from bench.report import machine, percentile, table, write_section  # noqa: E402
from bench.setup import HOST, app_settings, forget_keys, form_tokens, make_database  # noqa: E402
from tests.support.databases import drop_database  # noqa: E402
from tests.support.mail import free_port  # noqa: E402
from tests.support.stack import flask, start_gunicorn, stop  # noqa: E402

THANKS = "Thank you for submitting your email!"


@dataclass
class Outcome:
    kind: str
    status: int  # 0: no answer at all
    seconds: float
    email: str = ""
    newsletters: tuple[str, ...] = ()
    expected: bool = True


@dataclass
class Plan:
    """What the readers post: shared, so a repeat is of an address already answered."""

    slugs: list[str]
    form_token: str
    forged_token: str
    accepted: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    repeats: Counter = field(default_factory=Counter)
    counter: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next(self, rng: random.Random) -> tuple[str, dict]:
        roll = rng.random()
        with self.lock:
            self.counter += 1
            n = self.counter
            repeatable = [a for a in self.accepted[-200:] if self.repeats[a[0]] < 2]
            if 0.7 <= roll < 0.9 and repeatable:
                email, chosen = rng.choice(repeatable)
                self.repeats[email] += 1
                return "repeat", self._form(email, chosen)
        if roll >= 0.9:
            return "invalid", self._invalid(n, rng)
        chosen = tuple(sorted(rng.sample(self.slugs, rng.randint(1, min(3, len(self.slugs))))))
        return "new", self._form(f"reader-{n}-{secrets.token_hex(3)}@readers.example.com", chosen)

    def _form(self, email: str, chosen: tuple[str, ...], token: str | None = None) -> dict:
        return {
            "email": email,
            "newsletters": list(chosen),
            "csrf_token": token or self.form_token,
            "website": "",
        }

    def _invalid(self, n: int, rng: random.Random) -> dict:
        good = f"refused-{n}@readers.example.com"
        return rng.choice(
            [
                self._form(f"not-an-address-{n}", (self.slugs[0],)),
                self._form(f"two@@signs-{n}.example.com", (self.slugs[0],)),
                self._form(good, ("no-such-newsletter",)),
                self._form(good, ()),
                self._form(good, (self.slugs[0],), token=self.forged_token),
            ]
        )


def reader(port: int, plan: Plan, until: float, seed: int, outcomes: list[Outcome]) -> None:
    """One browser tab posting signups back to back over a kept-alive connection."""
    rng = random.Random(seed)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {
        "Host": HOST,
        "Accept": "application/json",
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Forwarded-Proto": "https",
    }
    try:
        while time.monotonic() < until:
            kind, form = plan.next(rng)
            started = time.perf_counter()
            try:
                connection.request("POST", "/subscribe", urlencode(form, doseq=True), headers)
                response = connection.getresponse()
                body = response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                status, body = 0, b""
            seconds = time.perf_counter() - started
            outcome = Outcome(kind, status, seconds, form["email"], tuple(form["newsletters"]))
            if kind == "invalid":
                outcome.expected = status == 400
            else:
                outcome.expected = status == 200 and json.loads(body).get("message") == THANKS
                if kind == "new" and outcome.expected:
                    with plan.lock:
                        plan.accepted.append((outcome.email, outcome.newsletters))
            outcomes.append(outcome)
    finally:
        connection.close()


def check_database(url: str, outcomes: list[Outcome]) -> list[str]:
    """What the database holds that it should not, or lacks that it should."""
    accepted = {o.email: o.newsletters for o in outcomes if o.kind == "new" and o.expected}
    unanswered = {o.email for o in outcomes if o.kind == "new" and not o.expected}
    refused = {o.email.lower() for o in outcomes if o.kind == "invalid"}
    engine = create_engine(url)
    with engine.connect() as connection:
        subscribers = Counter(connection.scalars(text("SELECT lower(email) FROM subscriber")))
        mail = Counter(
            connection.scalars(
                text("SELECT lower(to_address) FROM outbox_message WHERE kind = 'confirmation'")
            )
        )
        pending = defaultdict(set)
        for email, slug in connection.execute(
            text(
                "SELECT lower(s.email), n.slug FROM subscription x "
                "JOIN subscriber s ON s.id = x.subscriber_id "
                "JOIN newsletter n ON n.id = x.newsletter_id WHERE x.status = 'pending'"
            )
        ):
            pending[email].add(slug)
    engine.dispose()
    problems = []
    for email, chosen in accepted.items():
        key = email.lower()
        if subscribers[key] != 1:
            problems.append(f"{email}: {subscribers[key]} subscriber rows")
        if mail[key] != 1:
            problems.append(f"{email}: {mail[key]} confirmation emails")
        if pending[key] != set(chosen):
            problems.append(f"{email}: pending for {sorted(pending[key])}, asked {list(chosen)}")
    # A request that got no answer may or may not have been saved: nothing else may be.
    extra = set(subscribers) - {e.lower() for e in accepted} - {e.lower() for e in unanswered}
    problems += [f"{email}: stored but never accepted" for email in sorted(extra)]
    problems += [f"{email}: refused but stored" for email in sorted(refused & set(subscribers))]
    return problems


def run(args) -> int:
    database_url = make_database("load")
    settings = app_settings(database_url, tag=secrets.token_hex(4))
    web = None
    log_path = ROOT / "instance" / "bench-load-gunicorn.log"
    try:
        for command in (("db", "upgrade"), ("newsletter", "demo")):
            done = flask(settings, *command)
            if done.returncode:
                raise SystemExit(done.stderr)
        port = free_port()
        log_path.parent.mkdir(exist_ok=True)
        log = log_path.open("w")  # noqa: SIM115 (gunicorn writes to it until stopped)
        web = start_gunicorn(settings, port, workers=args.workers, log=log)
        engine = create_engine(database_url)
        with engine.connect() as connection:
            slugs = list(connection.scalars(text("SELECT slug FROM newsletter ORDER BY slug")))
        engine.dispose()
        token, forged = form_tokens(port)
        plan = Plan(slugs, token, forged)
        outcomes: list[Outcome] = []
        until = time.monotonic() + args.seconds
        started = time.perf_counter()
        readers = [
            threading.Thread(target=reader, args=(port, plan, until, seed, outcomes))
            for seed in range(args.concurrency)
        ]
        for thread in readers:
            thread.start()
        for thread in readers:
            thread.join()
        elapsed = time.perf_counter() - started
    finally:
        stop(web)
        forget_keys(settings)
    problems = check_database(database_url, outcomes)
    if not args.keep:
        drop_database(database_url)
    report(args, outcomes, elapsed, problems)
    logs = log_path.read_text() if log_path.exists() else ""
    if "Traceback" in logs:
        print(f"gunicorn logged errors; see {log_path}:\n{logs[-4000:]}")
    errors = [o for o in outcomes if not o.expected]
    return 1 if problems or errors else 0


def report(args, outcomes: list[Outcome], elapsed: float, problems: list[str]) -> None:
    rows = []
    for kind in ("new", "repeat", "invalid", "all"):
        chosen = [o for o in outcomes if kind in ("all", o.kind)]
        latencies = [o.seconds * 1000 for o in chosen]
        errors = Counter(o.status for o in chosen if not o.expected)
        rows.append(
            [
                kind,
                len(chosen),
                f"{len(chosen) / elapsed:.0f}",
                f"{percentile(latencies, 0.5):.1f}",
                f"{percentile(latencies, 0.99):.1f}",
                sum(errors.values())
                if not errors
                else ", ".join(f"{n}×{s or 'no answer'}" for s, n in errors.items()),
            ]
        )
    accepted = sum(1 for o in outcomes if o.kind == "new" and o.expected)
    verdict = (
        f"every one of the {accepted} accepted addresses has exactly one subscriber row, "
        "pending for exactly the newsletters it asked for, and exactly one confirmation "
        "email in the outbox; nothing refused was stored"
        if not problems
        else f"{len(problems)} problems, e.g. " + "; ".join(problems[:5])
    )
    body = f"""## Signups under load (`bench/load.py`)

{machine()}. gunicorn ({args.workers} workers × 4 threads, `deploy/gunicorn.conf.py`,
production settings) on PostgreSQL, Redis for rate limits and the Celery broker;
{args.concurrency} readers posting back to back for {args.seconds:.0f} s, from the
same machine.

{table(["requests", "count", "per second", "p50 ms", "p99 ms", "errors"], rows)}

Database afterwards: {verdict}.
"""
    print(body)
    if not args.no_write:
        write_section("load", body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--no-write", action="store_true", help="do not touch results.md")
    sys.exit(run(parser.parse_args()))


if __name__ == "__main__":
    main()
