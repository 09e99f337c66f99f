"""What cron pays every minute: ``flask`` commands with nothing to do, against bare Flask.

    .venv/bin/python bench/cron.py [--runs 5] [--no-write]

In one run, each a fresh process started as cron starts it, ``--runs`` times (the
median is kept): ``python -c "import flask, flask_sqlalchemy"``, then ``flask digest
send`` with nothing due, ``flask outbox drain`` with nothing waiting and ``flask bounces
poll`` with no mailbox set, on a migrated PostgreSQL database of their own. Recorded:
wall time and the child's peak RSS (``getrusage(RUSAGE_CHILDREN)``), and each
command's ratio to the bare import. Targets: at most 1.5x the time, 1.3x the memory.
"""

import argparse
import secrets
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.report import machine, table, write_section  # noqa: E402
from bench.setup import make_database, publisher_settings  # noqa: E402
from tests.support.databases import drop_database  # noqa: E402
from tests.support.stack import environment, flask  # noqa: E402

BARE = [sys.executable, "-c", "import flask, flask_sqlalchemy"]
COMMANDS = {
    "flask digest send": ["digest", "send"],
    "flask outbox drain": ["outbox", "drain"],
    "flask bounces poll": ["bounces", "poll"],
}
TIME_TARGET, MEMORY_TARGET = 1.5, 1.3


def settings_for(database_url: str) -> dict:
    return publisher_settings(database_url, BOUNCE_MAILBOX_URL="")


def run_once(argv: list[str], env: dict) -> tuple[float, float]:
    """Seconds and peak RSS (MB) of one child process, read from the kernel."""
    script = (
        "import resource, subprocess, sys, time\n"
        "started = time.perf_counter()\n"
        "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)\n"
        "print(time.perf_counter() - started,"
        " resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    # A fresh parent for each run, so RUSAGE_CHILDREN holds that one child only.
    out = subprocess.run(
        [sys.executable, "-c", script, *argv], env=env, cwd=ROOT,
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    return float(out[0]), int(out[1]) / 1024


def median_of(argv: list[str], env: dict, runs: int) -> tuple[float, float]:
    measured = [run_once(argv, env) for _ in range(runs)]
    return statistics.median(s for s, _ in measured), statistics.median(m for _, m in measured)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-write", action="store_true", help="do not touch results.md")
    args = parser.parse_args()

    database_url = make_database(f"cron_{secrets.token_hex(3)}")
    settings = settings_for(database_url)
    env = environment(settings)
    try:
        upgraded = flask(settings, "db", "upgrade")
        assert upgraded.returncode == 0, upgraded.stderr
        started = time.perf_counter()
        bare_s, bare_mb = median_of(BARE, env, args.runs)
        rows = [
            ["`import flask, flask_sqlalchemy`", f"{bare_s:.2f}", f"{bare_mb:.0f}", "1.00", "1.00"]
        ]
        for name, command in COMMANDS.items():
            seconds, mb = median_of([sys.executable, "-m", "flask", *command], env, args.runs)
            rows.append(
                [
                    f"`{name}`",
                    f"{seconds:.2f}",
                    f"{mb:.0f}",
                    f"{seconds / bare_s:.2f}",
                    f"{mb / bare_mb:.2f}",
                ]
            )
        elapsed = time.perf_counter() - started
    finally:
        drop_database(database_url)

    figures = table(["process, nothing to do", "seconds", "peak RSS MB", "time ×", "RSS ×"], rows)
    body = f"""## Cron: a command with nothing to do

{machine()}; median of {args.runs} runs each, in one run ({elapsed:.0f} s), on PostgreSQL.
Targets: time ≤ {TIME_TARGET}× and peak RSS ≤ {MEMORY_TARGET}× the bare import.

{figures}
"""
    print(body)
    if not args.no_write:
        write_section("cron", body)


if __name__ == "__main__":
    main()
