"""Signup under load, against a bare INSERT on the same server and database.

    .venv/bin/python bench/signup.py [--seconds 30] [--concurrency 4,16,64]

gunicorn (2 workers, ``deploy/gunicorn.conf.py``) serves the app in production
mode on PostgreSQL, with Redis for rate limits and the Celery broker (no worker:
confirmations wait in the outbox, to be counted). wrk posts a new address with
every request, for ``--seconds`` at each concurrency, to

- the baseline: ``bench/bare.py``, a Flask endpoint that does one INSERT,
  under the same gunicorn settings on the same database;
- ``POST /subscribe``, as the page's script posts it;
- ``POST /api/v1/subscriptions``, the JSON API (at the middle concurrency);
- ``POST /subscribe`` again with rate limiting off (at the middle concurrency), to
  show what the Redis-backed limits cost.

Afterwards it counts, for each run, the subscriber rows and confirmation emails
its addresses left, and compares them with the answers wrk got: every 2xx answer
must have its row and its email. wrk stops counting answers at the end of its
time, so up to one request per connection can be stored without being counted.
"""

import argparse
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402

from bench.bare import TABLE  # noqa: E402
from bench.report import machine, table, write_section  # noqa: E402
from bench.setup import app_settings, forget_keys, form_tokens, make_database  # noqa: E402
from tests.support.databases import drop_database  # noqa: E402
from tests.support.mail import free_port  # noqa: E402
from tests.support.stack import flask, start_gunicorn, stop  # noqa: E402

WRK = shutil.which("wrk") or "/usr/bin/wrk"


@dataclass
class Run:
    target: str
    concurrency: int
    prefix: str
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int  # no answer: connect, read, write errors and timeouts
    statuses: dict[int, int]
    stored: int = 0
    mailed: int = 0
    cpu_ms: dict[str, float] = field(default_factory=dict)  # per request, by server process

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    @property
    def accepted(self) -> int:
        return sum(n for status, n in self.statuses.items() if 200 <= status < 300)

    @property
    def refused(self) -> int:
        return self.requests - self.accepted

    @property
    def problems(self) -> list[str]:
        """What is wrong with this run: errors, refusals, or rows that do not add up."""
        found = []
        if self.errors or self.refused:
            answers = ", ".join(f"{n} × {status}" for status, n in sorted(self.statuses.items()))
            found.append(f"{self.errors} errors and {self.refused} refusals ({answers})")
        if not self.accepted <= self.stored <= self.accepted + self.concurrency:
            found.append(f"{self.accepted} accepted but {self.stored} stored")
        if self.mailed != self.stored:
            found.append(f"{self.stored} stored but {self.mailed} confirmations")
        return found


SERVERS = {"web": "gunicorn", "PostgreSQL": "postgres", "Redis": "redis-server"}


def server_cpu() -> dict[str, float]:
    """CPU seconds so far of the processes serving a signup: the web, PostgreSQL, Redis.

    Only one web server runs at a time, so every gunicorn process is that server's.
    CPU per request is steadier than requests per second on a shared machine: it
    does not count the time another tenant held the cores.
    """
    spent = dict.fromkeys(SERVERS, 0.0)
    tick = os.sysconf("SC_CLK_TCK")
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        for name, marker in SERVERS.items():
            if marker in command:
                # utime, stime, and those of its children that ended: gunicorn recycles
                # its workers, and PostgreSQL's backends end with their connections.
                spent[name] += sum(int(n) for n in stat[11:15]) / tick
                break
    return spent


def wrk(
    port: int,
    target: str,
    path: str,
    concurrency: int,
    seconds: float,
    body: str,
    authorization: str = "",
) -> Run:
    """One wrk run; every request a new address starting with a prefix of its own."""
    name = "-".join(re.findall(r"[a-z0-9]+", target.lower()))
    prefix = f"{name}-{concurrency}-{secrets.token_hex(3)}".lower()
    content_type = (
        "application/json" if body.startswith("{") else ("application/x-www-form-urlencoded")
    )
    before = server_cpu()
    done = subprocess.run(
        [WRK, "-t", str(min(2, concurrency)), "-c", str(concurrency), "-d", f"{seconds:.0f}s",
         "--timeout", "10s", "-s", str(ROOT / "bench" / "signup.lua"),
         f"http://127.0.0.1:{port}", "--", path, prefix, content_type, body, authorization],
        capture_output=True, text=True, timeout=seconds + 60,
    )  # fmt: skip
    line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        raise SystemExit(f"wrk printed no result:\n{done.stdout}\n{done.stderr}")
    result = json.loads(line.removeprefix("RESULT "))
    statuses: dict[int, int] = {}
    for status, n in result["statuses"]:
        statuses[status] = statuses.get(status, 0) + n
    spent = server_cpu()
    cpu_ms = {k: (spent[k] - before[k]) / max(result["requests"], 1) * 1e3 for k in spent}
    return Run(
        target, concurrency, prefix, result["requests"], result["seconds"],
        result["p50_ms"], result["p99_ms"], result["errors"], statuses, cpu_ms=cpu_ms,
    )  # fmt: skip


@contextmanager
def serving(settings: dict, name: str, target: str = "app:app"):
    """gunicorn serving ``target`` on a free port, logging to instance/; yields the port."""
    logs = ROOT / "instance"
    logs.mkdir(exist_ok=True)
    port = free_port()
    with (logs / f"bench-{name}-gunicorn.log").open("w") as log:
        web = start_gunicorn(settings, port, log=log, target=target)
        try:
            yield port
        finally:
            stop(web)


def signup_form(port: int, slug: str) -> str:
    """The signup form's body, with the token a fresh page gives; the server warmed up."""
    token, _ = form_tokens(port)
    form = f"email=EMAIL&newsletters={slug}&csrf_token={token}&website="
    warm_up(port, "/subscribe", form)
    return form


def warm_up(port: int, path: str, body: str) -> None:
    """A few seconds of load first, so no measured run pays for a cold worker."""
    wrk(port, "warm-up", path, 8, 3, body)


def count_rows(database_url: str, runs: list[Run]) -> None:
    """What each run left in the database: subscriber rows and confirmation emails."""
    engine = create_engine(database_url)
    with engine.connect() as connection:
        for run in runs:
            like = {"p": f"{run.prefix}-%"}
            if run.target == "bare INSERT":
                run.stored = connection.scalar(
                    text(f"SELECT count(*) FROM {TABLE} WHERE email LIKE :p"), like
                )
                run.mailed = run.stored
                continue
            run.stored = connection.scalar(
                text("SELECT count(*) FROM subscriber WHERE email LIKE :p"), like
            )
            run.mailed = connection.scalar(
                text(
                    "SELECT count(*) FROM outbox_message "
                    "WHERE kind = 'confirmation' AND to_address LIKE :p"
                ),
                like,
            )
    engine.dispose()


def run(args) -> int:
    levels = [int(n) for n in args.concurrency.split(",")]
    middle = levels[len(levels) // 2]
    database_url = make_database("signup")
    settings = app_settings(database_url, tag=secrets.token_hex(4))
    runs: list[Run] = []
    try:
        for command in (("db", "upgrade"), ("newsletter", "demo")):
            done = flask(settings, *command)
            if done.returncode:
                raise SystemExit(done.stderr)
        # Production refuses API signups without credentials: a server's token.
        done = flask(settings, "admin", "token", "bench", "--scopes", "subscribers:write")
        if done.returncode:
            raise SystemExit(done.stderr)
        bearer = f"Bearer {done.stdout.strip().splitlines()[-1]}"
        engine = create_engine(database_url)
        with engine.begin() as connection:
            connection.execute(
                text(f"CREATE TABLE {TABLE} (id bigserial PRIMARY KEY, email text NOT NULL)")
            )
            slug = connection.scalar(text("SELECT slug FROM newsletter ORDER BY slug LIMIT 1"))
        engine.dispose()

        with serving(settings, "bare", target="bench.bare:app") as port:
            warm_up(port, "/insert", "email=EMAIL")
            for level in levels:
                runs.append(wrk(port, "bare INSERT", "/insert", level, args.seconds,
                                "email=EMAIL"))  # fmt: skip

        api = json.dumps({"email": "EMAIL", "newsletters": [slug]})
        with serving(settings, "signup") as port:
            form = signup_form(port, slug)
            for level in levels:
                runs.append(wrk(port, "`POST /subscribe`", "/subscribe", level,
                                args.seconds, form))  # fmt: skip
            runs.append(wrk(port, "`POST /api/v1/subscriptions`", "/api/v1/subscriptions",
                            middle, args.seconds, api, bearer))  # fmt: skip

        with serving({**settings, "RATELIMIT_ENABLED": False}, "unlimited") as port:
            runs.append(wrk(port, "`POST /subscribe`, rate limits off", "/subscribe",
                            middle, args.seconds, signup_form(port, slug)))  # fmt: skip
        count_rows(database_url, runs)
    finally:
        forget_keys(settings)
        drop_database(database_url)
    report(args, runs)
    for r in runs:
        for problem in r.problems:
            print(f"{r.target} at {r.concurrency}: {problem}")
    return 1 if any(r.problems for r in runs) else 0


def report(args, runs: list[Run]) -> None:
    baseline = {r.concurrency: r for r in runs if r.target == "bare INSERT"}
    rows = []
    for r in runs:
        ratio = r.rate / baseline[r.concurrency].rate
        rows.append([
            r.target, r.concurrency, f"{r.rate:.0f}", f"{r.p50_ms:.1f}", f"{r.p99_ms:.1f}",
            f"{ratio:.2f}", r.errors + r.refused, f"{r.accepted:,}", f"{r.stored:,}",
            f"{r.mailed:,}", " / ".join(f"{ms:.1f}" for ms in r.cpu_ms.values()),
        ])  # fmt: skip
    body = f"""## Signup under load (`bench/signup.py`)

{machine()}. gunicorn, 2 workers × 4 threads (`deploy/gunicorn.conf.py`),
production settings, on PostgreSQL with Redis for rate limits and the Celery
broker; wrk on the same machine, {args.seconds:.0f} s per row, a new address in
every request. The ratio is against the bare INSERT at the same concurrency
(target ≥ 0.35, with 0 errors). *Accepted* is wrk's count of 2xx answers;
*stored* and *confirmations* are counted in the database afterwards. *CPU* is
what the web server, PostgreSQL and Redis spent per request, from `/proc`: steadier
than requests per second when other work shares the machine.

{table(["endpoint", "connections", "requests/s", "p50 ms", "p99 ms", "ratio",
        "errors", "accepted", "stored", "confirmations",
        "CPU ms: web / PostgreSQL / Redis"], rows)}
"""  # fmt: skip
    body = re.sub(r"\n{3,}", "\n\n", body)
    print(body)
    if not args.no_write:
        write_section("signup", body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--concurrency", default="4,16,64")
    parser.add_argument("--no-write", action="store_true", help="do not touch results.md")
    sys.exit(run(parser.parse_args()))


if __name__ == "__main__":
    main()
