"""Digest sending against its limit: raw SMTP to the same sink, Celery, and memory.

    .venv/bin/python bench/digest.py [--readers 20000] [--connections 4]
    .venv/bin/python bench/digest.py --memory-only [--small 10000] [--large 100000] [--huge 1000000]

Every figure is a ratio against a baseline measured in the same run:

- ``flask digest send`` to ``--readers`` readers on PostgreSQL and on SQLite, against
  plain ``smtplib`` sending as many pre-built messages of the same size to the same
  sink over the same number of connections;
- the PostgreSQL run again with DKIM signing on (a 2048-bit RSA key), as production sends;
- ``--executor celery`` with two workers, against the inline PostgreSQL run;
- the PostgreSQL run and raw ``smtplib`` again through ``bench/proxy.py``, which
  delays every chunk 2.5 ms each way: a relay 5 ms away, where round trips count;
- ``--only profile``: where the sender's CPU goes, per message (cProfile, one connection);
- peak RSS of ``flask digest send`` at ``--small``, ``--large`` and ``--huge`` readers
  (``--huge 0`` leaves that one out; ``make bench`` runs it: 15 to 30 more minutes),
  written to a section of its own; ``--memory-only`` runs this stage alone, and
  ``--speed-only`` every stage but this one.

The sink is ``bench/sink.py`` in a process of its own; after every run it is
asked how many messages arrived and whether any reader got two.
"""

import argparse
import json
import re
import secrets
import signal
import smtplib
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask_migrate import upgrade  # noqa: E402

from bench.report import machine, table, write_section  # noqa: E402
from bench.setup import (  # noqa: E402
    REDIS_URL,
    Measured,
    forget_keys,
    make_database,
    publisher_settings,
)
from newsletters import create_app  # noqa: E402
from newsletters.extensions import db  # noqa: E402
from tests.support.databases import drop_database  # noqa: E402
from tests.support.mail import free_port  # noqa: E402
from tests.support.readers import add_newsletter, add_readers, add_stories  # noqa: E402
from tests.support.stack import environment, start_celery_worker, stop  # noqa: E402


@dataclass
class Sent:
    """One measured run."""

    label: str
    messages: int
    seconds: float
    peak_rss_mb: float = 0.0
    repeated: int = 0
    bytes_each: int = 0
    watched: "MemoryWatch | None" = None


class MemoryWatch(threading.Thread):
    """Reads a process's resident set four times a second while it runs.

    The kernel's peak (``VmHWM``) says how high a process went, not when. Noting
    when it last rose, and the highest resident set seen by sampling, tells a
    short spike (one step holding much at once) from a steady level.
    """

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.status = Path(f"/proc/{pid}/status")
        self.started = time.perf_counter()
        self.sampled_mb = 0.0  # the highest VmRSS seen
        self.peak_mb = 0.0  # the kernel's VmHWM at the last look
        self.peak_at = 0.0  # seconds into the run when VmHWM last rose

    def run(self) -> None:
        while True:
            try:
                fields = dict(line.split(":", 1) for line in self.status.read_text().splitlines())
                rss, hwm = (int(fields[k].split()[0]) / 1024 for k in ("VmRSS", "VmHWM"))
            except (OSError, KeyError, ValueError):  # ended, or a zombie without memory
                return
            self.sampled_mb = max(self.sampled_mb, rss)
            if hwm > self.peak_mb:
                self.peak_mb, self.peak_at = hwm, time.perf_counter() - self.started
            time.sleep(0.25)

    @property
    def rate(self) -> float:
        return self.messages / self.seconds if self.seconds else 0.0


@contextmanager
def sink(delay_ms: float = 0.0):
    """bench/sink.py on a free port; yields (port, report) where report() stops it.

    With ``delay_ms``, the port is that of ``bench/proxy.py`` in front of the sink,
    delaying each chunk that long each way.
    """
    port = free_port()
    with tempfile.TemporaryDirectory() as directory:
        report_path = Path(directory) / "sink.json"
        process = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "sink.py"), str(port), str(report_path)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert process.stdout.readline().strip() == "ready"

        def report() -> dict:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
            return json.loads(report_path.read_text())

        try:
            if delay_ms:
                with delayed(port, delay_ms) as proxy_port:
                    yield proxy_port, report
            else:
                yield port, report
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()


@contextmanager
def delayed(upstream_port: int, delay_ms: float):
    """``bench/proxy.py`` in front of ``upstream_port``; yields the port to connect to."""
    port = free_port()
    script = str(ROOT / "bench" / "proxy.py")
    process = subprocess.Popen(
        [sys.executable, script, str(port), str(upstream_port), str(delay_ms)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout.readline().strip() == "ready"
        yield port
    finally:
        process.kill()
        process.wait()


def settings_for(database_url: str, port: int, workdir: Path) -> dict:
    return publisher_settings(
        database_url,
        MAIL_PORT=port,
        DIGEST_JOURNAL_DIR=str(workdir / "journal"),
        CELERY_QUEUE=f"newsletters-bench-{secrets.token_hex(4)}",
    )


def prepare(settings: dict, readers: int) -> None:
    """A migrated database with one due newsletter, its stories, and ``readers`` readers."""
    app = create_app(settings)
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
    newsletter_id = add_newsletter(app)
    add_stories(app, newsletter_id, 8)
    add_readers(app, newsletter_id, readers)
    with app.app_context():
        db.engine.dispose()


def issue_send(settings: dict, label: str, *options: str) -> Sent:
    """Run ``flask digest send`` as cron does; time it, and take its peak RSS from the kernel."""
    started = time.perf_counter()
    sender = Measured(
        ["-m", "flask", "digest", "send", *options],
        cwd=ROOT,
        env=environment(settings),
        stderr=subprocess.STDOUT,
    )
    watch = MemoryWatch(sender.pid)
    watch.start()
    output, returncode, peak_mb = sender.finish()
    watch.join()
    seconds = time.perf_counter() - started
    if returncode:
        raise SystemExit(f"{label}: digest send failed:\n{output}")
    found = re.search(r": sent; sent (\d+),", output)  # "the-weekly ...: sent; sent 20000, ..."
    if not found:
        raise SystemExit(f"{label}: digest send sent nothing:\n{output}")
    sent = int(found[1])
    return Sent(label, sent, seconds, peak_rss_mb=peak_mb, watched=watch)


def raw_smtp(port: int, count: int, size: int, connections: int) -> Sent:
    """The ceiling: plain smtplib sending pre-built messages of ``size`` bytes to the sink."""
    message = EmailMessage()
    message["From"] = "The Daily Ledger <newsletters@news.test>"
    message["Subject"] = "The Weekly: the raw baseline"
    message.set_content("A line of the issue, about as long as a digest's lines are.\n" * 4)
    filler = size - len(message.as_bytes())
    message.set_content(("x" * 76 + "\n") * max(0, filler // 77))
    body = message.as_bytes()
    shares = [
        count // connections + (1 if n < count % connections else 0) for n in range(connections)
    ]

    def send(share: int, offset: int) -> None:
        with smtplib.SMTP("127.0.0.1", port) as client:
            for n in range(offset, offset + share):
                client.sendmail("newsletters@news.test", [f"raw{n}@example.com"], body)

    threads = [
        threading.Thread(target=send, args=(share, sum(shares[:n])))
        for n, share in enumerate(shares)
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Sent("raw smtplib", count, time.perf_counter() - started, bytes_each=len(body))


def checked(run: Sent, report: dict, expected: int) -> Sent:
    """The run, with what the sink saw; stops the bench if a reader was missed or sent twice."""
    run.repeated = report["repeated"]
    run.bytes_each = report["bytes"] // max(1, report["messages"])
    if report["messages"] != expected or report["recipients"] != expected:
        raise SystemExit(f"{run.label}: the sink got {report}, expected {expected} readers once")
    return run


def measure_database(
    kind: str,
    readers: int,
    connections: int,
    workdir: Path,
    *,
    signed: bool = False,
    delay_ms: float = 0.0,
) -> Sent:
    """Prepare a database and send it one issue; returns the measured run."""
    with sink(delay_ms) as (port, report):
        if kind == "postgresql":
            url = make_database("digest")
        else:
            url = f"sqlite:///{workdir / f'{kind}-{readers}.db'}"
        settings = settings_for(url, port, workdir / f"{kind}-{readers}-{signed}-{delay_ms}")
        label = f"digest send, {kind}"
        if signed:
            settings.update(DKIM_PRIVATE_KEY=dkim_key(), DKIM_SELECTOR="bench")
            label += ", DKIM-signed"
        try:
            prepare(settings, readers)
            run = issue_send(settings, label, "--connections", str(connections))
        finally:
            if kind == "postgresql":
                drop_database(url)
        return checked(run, report(), readers)


def dkim_key() -> str:
    """A fresh 2048-bit RSA key, PEM, as production would sign with."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()


def measure_celery(readers: int, workdir: Path) -> Sent:
    """``--executor celery`` with two workers of one thread each, on PostgreSQL."""
    with sink() as (port, report):
        url = make_database("celery")
        settings = settings_for(url, port, workdir / "celery")
        settings["CELERY_BROKER_URL"] = REDIS_URL
        workers = []
        try:
            prepare(settings, readers)
            workers = [start_celery_worker(settings, concurrency=1) for _ in range(2)]
            wait_for_workers(settings, len(workers))
            run = issue_send(
                settings, "digest send --executor celery, 2 workers", "--executor", "celery"
            )
        finally:
            stop(*workers)
            drop_database(url)
            forget_keys(settings)
        return checked(run, report(), readers)


def wait_for_workers(settings: dict, count: int, seconds: float = 60) -> None:
    app = create_app(settings)
    celery = app.extensions["celery"]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if len(celery.control.ping(timeout=1.0) or []) >= count:
            return
    raise SystemExit(f"{count} Celery workers did not answer within {seconds:.0f}s")


def measure_delayed(readers: int, connections: int, workdir: Path, delay_ms: float) -> str:
    """The PostgreSQL run and raw smtplib, straight to the sink and through the delaying
    proxy; the section of ``results.md`` that compares them."""
    runs = []
    for delay in (0.0, delay_ms):
        digest = measure_database("postgresql", readers, connections, workdir, delay_ms=delay)
        with sink(delay) as (port, report):
            raw = raw_smtp(port, readers, digest.bytes_each, connections)
            raw = checked(raw, report(), readers)
        runs.append((delay, raw, digest))
    rows = [
        [
            f"{2 * delay:g} ms",
            f"{raw.rate:.0f}",
            f"{digest.rate:.0f}",
            f"{digest.rate / raw.rate:.2f}",
            "≥ 2" if delay else "≥ 0.8",
        ]
        for delay, raw, digest in runs
    ]
    return f"""## Digest send to a relay 5 ms away (`bench/digest.py --only proxy`)

{machine()}. The same issue to {readers:,} readers over {connections} SMTP
connections, straight to the sink and through `bench/proxy.py`, which holds each
chunk {delay_ms:g} ms in each direction. `digest send` (PostgreSQL) pipelines its
commands (RFC 2920): one round trip a message. Raw `smtplib` (`sendmail`) waits for
each reply: four. Messages a second, whole process for `digest send`:

{table(["round trip", "raw smtplib", "digest send", "ratio", "target"], rows)}
"""


# cProfile's command line times with the wall clock, which counts waiting for the sink
# as the sender's: this counts the CPU time of the process instead.
PROFILED_SEND = """
import cProfile, runpy, sys, time
stats_path = sys.argv[1]
sys.argv = ["flask", "digest", "send", "--connections", "1"]
profile = cProfile.Profile(time.process_time)
profile.enable()
try:
    runpy.run_module("flask", run_name="__main__", alter_sys=True)
except SystemExit as exit:
    if exit.code:
        raise
finally:
    profile.disable()
    profile.dump_stats(stats_path)
"""


def profile_send(readers: int, workdir: Path, top: int = 20) -> str:
    """cProfile over ``flask digest send`` on PostgreSQL, one connection (so every call is
    on the profiled main thread); the functions with the most CPU of their own, per message."""
    import pstats

    from tests.support.stack import environment

    stats_path = workdir / "digest.prof"
    with sink() as (port, report):
        url = make_database("profile")
        settings = settings_for(url, port, workdir / "profile")
        try:
            prepare(settings, readers)
            subprocess.run(
                [sys.executable, "-c", PROFILED_SEND, str(stats_path)],
                cwd=ROOT,
                env=environment(settings),
                check=True,
                capture_output=True,
            )
        finally:
            drop_database(url)
        if (arrived := report()["messages"]) != readers:
            raise SystemExit(f"profile: the sink got {arrived} messages, expected {readers}")
    stats = pstats.Stats(str(stats_path)).stats
    heaviest = sorted(stats.items(), key=lambda item: item[1][2], reverse=True)[:top]

    def per_message(seconds: float) -> str:
        return f"{seconds / readers * 1e6:.1f}"

    rows = [
        [
            f"`{Path(file).name}:{line} {name}`",
            f"{calls / readers:.2f}",
            per_message(own),
            per_message(cumulative),
        ]
        for (file, line, name), (_, calls, own, cumulative, _) in heaviest
    ]
    total = sum(own for _, _, own, _, _ in stats.values())
    return f"""Profile of `flask digest send`, {readers:,} readers, PostgreSQL, one connection
({machine()}): {per_message(total)} µs of CPU per message under cProfile (CPU time,
not wall-clock), start-up included.

{table(["function", "calls/message", "own µs/message", "cumulative µs/message"], rows)}
"""


def run_alone(args, workdir: Path) -> None:
    """``--only``: one stage, printed; the proxy stage also rewrites its section."""
    if args.only == "profile":
        print(profile_send(args.profile_readers, workdir))
        return
    body = measure_delayed(args.proxy_readers, args.connections, workdir, PROXY_DELAY_MS)
    print(body)
    if not args.no_write:
        write_section("digest-proxy", body)


PROXY_DELAY_MS = 2.5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, default=20_000)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--huge", type=int, default=1_000_000, help="0: not measured")
    parser.add_argument("--memory-only", action="store_true", help="only peak RSS by size")
    parser.add_argument("--speed-only", action="store_true", help="everything but peak RSS")
    parser.add_argument("--no-write", action="store_true", help="do not touch results.md")
    parser.add_argument("--only", choices=["proxy", "profile"], help="run one stage alone")
    parser.add_argument("--proxy-readers", type=int, default=5_000)
    parser.add_argument("--profile-readers", type=int, default=10_000)
    args = parser.parse_args()
    if args.memory_only:
        measure_memory(args)
        return

    with tempfile.TemporaryDirectory(prefix="newsletters-bench-") as directory:
        workdir = Path(directory)
        if args.only:
            run_alone(args, workdir)
            return
        delayed = measure_delayed(args.proxy_readers, args.connections, workdir, PROXY_DELAY_MS)
        postgresql = measure_database("postgresql", args.readers, args.connections, workdir)
        sqlite = measure_database("sqlite", args.readers, args.connections, workdir)
        signed = measure_database(
            "postgresql", args.readers, args.connections, workdir, signed=True
        )
        with sink() as (port, report):
            raw = checked(
                raw_smtp(port, args.readers, postgresql.bytes_each, args.connections),
                report(),
                args.readers,
            )
        celery = measure_celery(args.readers, workdir)

    def row(run: Sent, baseline: Sent, target: str) -> list:
        return [
            run.label,
            f"{run.messages:,}",
            f"{run.seconds:.1f}",
            f"{run.rate:.0f}",
            f"{run.rate / baseline.rate:.2f} of {baseline.label}",
            target,
        ]

    speed = table(
        ["run", "messages", "seconds", "messages/s", "ratio", "target"],
        [
            row(raw, raw, ""),
            row(postgresql, raw, "≥ 0.8"),
            row(sqlite, raw, "≥ 0.8"),
            row(signed, raw, ""),
            row(celery, postgresql, ""),
        ],
    )
    body = f"""## Digest send (`bench/digest.py`)

{machine()}. One issue ({postgresql.bytes_each:,} bytes a message; DKIM only where it says) to
{args.readers:,} readers over {args.connections} SMTP connections, into the sink
(`bench/sink.py`, aiosmtpd in its own process). Wall-clock time of the whole
`flask digest send` process, start-up, rendering and delivery rows included.
Every run's sink counted each reader exactly once.

{speed}
"""
    print(body)
    print(delayed)
    if not args.no_write:
        write_section("digest", body)
        write_section("digest-proxy", delayed)
    if not args.speed_only:
        measure_memory(args)


def measure_memory(args: argparse.Namespace) -> None:
    """Peak RSS of ``flask digest send`` by list size, in a section of its own."""
    sizes = [args.small, args.large] + ([args.huge] if args.huge else [])
    runs = []
    with tempfile.TemporaryDirectory(prefix="newsletters-bench-") as directory:
        for readers in sizes:
            started = time.perf_counter()
            run = measure_database("postgresql", readers, args.connections, Path(directory))
            print(f"{readers:,} readers: {run.peak_rss_mb:.0f} MB peak RSS", flush=True)
            runs.append((run, time.perf_counter() - started))
    small, large = runs[0][0], runs[1][0]
    targets = {args.large: "≤ 80 MB", args.huge: "≤ 1.1× the 100,000 run"}
    rows = [
        [
            f"{run.messages:,}",
            f"{run.seconds:.0f} s",
            f"{run.peak_rss_mb:.0f}",
            f"{run.peak_rss_mb / small.peak_rss_mb:.2f}",
            f"{run.peak_rss_mb / large.peak_rss_mb:.2f}",
            targets.get(run.messages, ""),
            f"{run.watched.sampled_mb:.0f}",
            f"{run.watched.peak_at:.0f} s",
        ]
        for run, _ in runs
    ]
    figures = table(
        ["readers", "send", "peak RSS MB", "× smallest", f"× {args.large:,}", "target",
         "sampled max MB", "peak reached at"], rows,
    )  # fmt: skip
    body = f"""## Memory of a send (`bench/digest.py --memory-only`)

{machine()}. Peak RSS of the whole `flask digest send` process (the kernel's
maximum resident set), one issue over {args.connections} SMTP connections into the
sink, on PostgreSQL, in one run ({sum(seconds for _, seconds in runs) / 60:.0f} minutes,
filling the databases included). *Sampled max* is the highest resident set
seen four times a second; *peak reached at* is when the kernel's peak last rose,
in seconds from the start of the send.

{figures}
"""
    print(body)
    if not args.no_write:
        write_section("digest-memory", body)


if __name__ == "__main__":
    main()
