"""What the benchmarks share: databases of their own, production settings, and cleanup."""

import http.client
import os
import re
import secrets
import subprocess
import sys

from tests.support.databases import create_database
from tests.support.mail import free_port

SERVER_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
HOST = "news.test"
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


def make_database(tag: str) -> str:
    """A new, empty PostgreSQL database next to ``TEST_DATABASE_URL``; returns its URL."""
    return create_database(SERVER_URL, f"bench_{tag}")


def publisher_settings(database_url: str, **more) -> dict:
    """A publisher's production settings on this database, with ``more`` on top."""
    return {
        "APP_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(40),
        "SITE_URL": f"https://{HOST}",
        "SUPPORT_EMAIL": "help@news.test",
        "POSTAL_ADDRESS": "1 Press Row, Springfield",
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_DEFAULT_SENDER": "The Daily Ledger <newsletters@news.test>",
        "DATABASE_URL": database_url,
        **more,
    }


def migrated_app(database_url: str, journal_dir: str, **more):
    """A development app on this database, its schema migrated to the newest revision."""
    from pathlib import Path

    from flask_migrate import upgrade

    from newsletters import create_app

    app = create_app(
        {
            "APP_ENV": "development",
            "SECRET_KEY": secrets.token_urlsafe(40),
            "DATABASE_URL": database_url,
            "RATELIMIT_ENABLED": False,
            "DIGEST_JOURNAL_DIR": journal_dir,
            **more,
        }
    )
    with app.app_context():
        upgrade(directory=str(Path(__file__).resolve().parent.parent / "migrations"))
    return app


def app_settings(database_url: str, *, tag: str) -> dict:
    """Production settings for a web benchmark: Redis for limits and the Celery broker.

    No worker runs, so the confirmations stay in the outbox to be counted; the
    per-IP signup limit and the bound on a form token's uses are out of the way, as
    every request comes from 127.0.0.1 with the token of one page (the uses are still
    counted, so each signup pays for that as in production).
    """
    return publisher_settings(
        database_url,
        MAIL_PORT=free_port(),  # nobody listens: the worker that would send is not running
        RATELIMIT_STORAGE_URI=REDIS_URL,
        RATELIMIT_KEY_PREFIX=f"bench-{tag}",
        SIGNUP_RATE_LIMIT="1000000 per minute",
        SIGNUP_FORM_MAX_USES=1000000,
        CELERY_BROKER_URL=REDIS_URL,
        CELERY_QUEUE=f"newsletters-bench-{tag}",
        PROXY_COUNT=1,
        SIGNUP_MIN_SECONDS=0,
    )


def forget_keys(settings: dict) -> None:
    """Delete what a benchmark left in Redis: its rate-limit counters and its queue."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        queue = settings["CELERY_QUEUE"]
        patterns = [f"_kombu*{queue}*"]
        if prefix := settings.get("RATELIMIT_KEY_PREFIX"):
            patterns.append(f"{prefix}*")
        client.delete(queue, *(key for pattern in patterns for key in client.scan_iter(pattern)))
    finally:
        client.close()


def form_tokens(port: int) -> tuple[str, str]:
    """A signup form's token from ``/`` on ``port``, and a forged one."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", "/", headers={"Host": HOST, "X-Forwarded-Proto": "https"})
        page = connection.getresponse().read().decode()
    finally:
        connection.close()
    match = CSRF.search(page)
    token = match[1] or match[2]
    return token, token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")


# Commands whose peak RSS a benchmark reports are started by this small launcher,
# which forks them and reads their peak from the kernel. Started straight from a
# benchmark, a command would inherit the benchmark's own size as its peak (Linux
# keeps the larger of the two across fork and exec), and a benchmark grows with
# the rows it prepares.
LAUNCHER = """
import os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.executable, [sys.executable, *sys.argv[1:]])
print(f"MEASURED_PID {pid}", flush=True)
_, status, usage = os.wait4(pid, 0)
print(f"MEASURED_PEAK_KB {usage.ru_maxrss}", flush=True)
sys.exit(os.waitstatus_to_exitcode(status))
"""
PEAK_LINE = re.compile(r"^MEASURED_PEAK_KB (\d+)\n?", re.M)


class Measured:
    """``python *args`` with its own peak RSS measured; ``pid`` is the command's own."""

    def __init__(self, args: list[str], **popen) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", LAUNCHER, *args], stdout=subprocess.PIPE, text=True, **popen
        )
        self.pid = int(self.process.stdout.readline().split()[1])

    def finish(self) -> tuple[str, int, float]:
        """Wait for it: (its output, its exit code, its peak RSS in MB)."""
        output = self.process.stdout.read()
        self.process.wait()
        peak = PEAK_LINE.search(output)
        if peak is None:  # the launcher itself failed
            return output, self.process.returncode or 1, 0.0
        output = output[: peak.start()] + output[peak.end() :]
        return output, self.process.returncode, int(peak[1]) / 1024
