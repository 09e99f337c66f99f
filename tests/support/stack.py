"""The production setup of docs/deploy.md, started for real on this machine.

nginx (TLS, the shipped ``deploy/nginx.conf``) in front of gunicorn (the
shipped ``deploy/gunicorn.conf.py``), PostgreSQL, Redis for rate limits and
the Celery broker, and a Celery worker. The deploy test and the load
benchmark both start their servers here.
"""

import http.client
import os
import secrets
import shutil
import signal
import ssl
import subprocess
import sys
import time
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[2]
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
SERVER_NAME = "news.test"


def environment(settings: dict) -> dict[str, str]:
    """The process environment for these settings (strings, as an operator's .env holds)."""
    env = {key: value for key, value in os.environ.items() if key not in settings}
    for key, value in settings.items():
        if isinstance(value, bool):
            env[key] = "true" if value else "false"
        elif isinstance(value, list | tuple):
            env[key] = ",".join(value)
        elif value is not None:
            env[key] = str(value)
    env["PYTHONPATH"] = str(ROOT)
    env["FLASK_APP"] = "app"
    return env


def flask(settings: dict, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run one ``flask`` command as cron would."""
    return subprocess.run(
        [sys.executable, "-m", "flask", *args],
        cwd=ROOT, env=environment(settings), capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def _wait_for_port(port: int, process: subprocess.Popen, what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read() if process.stdout else ""
            raise RuntimeError(f"{what} exited with {process.returncode}:\n{output}")
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        try:
            connection.request("GET", "/healthz", headers={"Host": SERVER_NAME})
            connection.getresponse().read()
            return
        except OSError:
            time.sleep(0.1)
        finally:
            connection.close()
    raise RuntimeError(f"{what} did not answer on port {port} within {seconds:.0f}s")


def start_gunicorn(
    settings: dict, port: int, workers: int = 2, log=None, target: str = "app:app"
) -> subprocess.Popen:
    """gunicorn with the shipped settings file, serving ``target`` on 127.0.0.1:<port>."""
    env = environment(settings)
    env.update(
        GUNICORN_BIND=f"127.0.0.1:{port}", WEB_CONCURRENCY=str(workers), GUNICORN_ACCESS_LOG=""
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", target],
        cwd=ROOT, env=env, stdout=log or subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    _wait_for_port(port, process, "gunicorn")
    return process


def start_celery_worker(settings: dict, concurrency: int = 2) -> subprocess.Popen:
    """A Celery worker with the same settings as the web."""
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "newsletters.tasks", "worker",
         f"--concurrency={concurrency}", "--pool=threads", "--loglevel=WARNING",
         "--without-heartbeat", "--without-gossip", "--without-mingle"],
        cwd=ROOT, env=environment(settings), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip


def celery_worker_on_own_queue(app, settings: dict, redis_url: str) -> subprocess.Popen:
    """A real Celery worker on a queue of its own (so parallel runs never share one), with
    the test's app and settings pointed at the same broker and queue."""
    settings["CELERY_BROKER_URL"] = redis_url
    settings["CELERY_QUEUE"] = f"newsletters-test-{secrets.token_hex(6)}"
    app.config.update(CELERY_BROKER_URL=redis_url, CELERY_QUEUE=settings["CELERY_QUEUE"])
    app.extensions["celery"].conf.update(
        broker_url=redis_url, task_default_queue=settings["CELERY_QUEUE"]
    )
    return start_celery_worker(settings)


def tls_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for news.test (what Let's Encrypt would provide)."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-keyout", str(key), "-out", str(cert), "-subj", f"/CN={SERVER_NAME}",
         "-addext", f"subjectAltName=DNS:{SERVER_NAME}"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def start_nginx(directory: Path, upstream: str, http_port: int, https_port: int):
    """nginx with the shipped site config, rendered by deploy/render-nginx."""
    cert, key = tls_certificate(directory)
    values = {
        "SERVER_NAME": SERVER_NAME,
        "HTTP_LISTEN": f"127.0.0.1:{http_port}",
        "HTTPS_LISTEN": f"127.0.0.1:{https_port}",
        "UPSTREAM": upstream,
        "TLS_CERTIFICATE": str(cert),
        "TLS_CERTIFICATE_KEY": str(key),
        "STATIC_DIR": str(ROOT / "newsletters" / "static"),
    }
    site = subprocess.run(
        [str(ROOT / "deploy" / "render-nginx")],
        env={**os.environ, **values}, check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    (directory / "newsletters.conf").write_text(site)
    temp = "\n".join(
        f"    {kind}_temp_path {directory / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (directory / "nginx.conf").write_text(
        ("user root;\n" if os.geteuid() == 0 else "")
        + f"daemon off;\nworker_processes 1;\npid {directory / 'nginx.pid'};\n"
        + f"error_log {directory / 'error.log'} warn;\n"
        + "events { worker_connections 512; }\n"
        + f"http {{\n    access_log {directory / 'access.log'};\n{temp}\n"
        + "    include /etc/nginx/mime.types;\n"
        + f"    include {directory / 'newsletters.conf'};\n}}\n"
    )
    process = subprocess.Popen(
        [NGINX, "-c", str(directory / "nginx.conf"), "-p", str(directory)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    _wait_for_port(http_port, process, "nginx")
    return process, cert


def stop(*processes: subprocess.Popen | None) -> str:
    """Stop each process gracefully (then firmly); return what they printed."""
    printed = []
    for process in processes:
        if process is None:
            continue
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            out = process.communicate(timeout=30)[0]
        except subprocess.TimeoutExpired:
            process.kill()
            out = process.communicate()[0]
        printed.append(out or "")
    return "\n".join(printed)


class Browser:
    """A reader's browser over HTTPS through nginx: its own source address and cookies."""

    def __init__(self, port: int, cafile: Path, source_ip: str = "127.0.0.1") -> None:
        self.port = port
        self.source_ip = source_ip
        self.context = ssl.create_default_context(cafile=str(cafile))
        self.context.check_hostname = False  # we dial 127.0.0.1 and send Host: news.test
        self.cookies: dict[str, str] = {}
        self.set_cookie_headers: list[str] = []

    def request(self, method: str, path: str, form: dict | None = None, headers=None, body=None):
        """(status, headers, text) of one request; cookies are kept like a browser's."""
        connection = http.client.HTTPSConnection(
            "127.0.0.1", self.port, context=self.context, timeout=30,
            source_address=(self.source_ip, 0),
        )  # fmt: skip
        sent = {"Host": f"{SERVER_NAME}:{self.port}", **(headers or {})}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if form is not None:
            body = urlencode(form, doseq=True)
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            connection.request(method, path, body=body, headers=sent)
            response = connection.getresponse()
            text = response.read().decode("utf-8", "replace")
        finally:
            connection.close()
        for header in response.headers.get_all("Set-Cookie") or []:
            self.set_cookie_headers.append(header)
            for name, morsel in SimpleCookie(header).items():
                self.cookies[name] = morsel.value
        return response.status, response.headers, text
