"""Small real HTTP servers for tests: routes that are functions, or a folder of files.

A server listens on a loopback address of the test's choosing (all of 127.0.0.0/8
is this machine), records who asked for what, and stops its slow routes when the
test ends, so nothing outlives the test.
"""

import datetime
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

PUBLIC_IN_TESTS = "127.0.0.2"  # a loopback address the outbound tests declare public

RSS = """<?xml version="1.0"?>
<rss version="2.0"><channel><title>{title}</title><link>https://news.example.com/</link>
<description>d</description>
<item><title>{title}</title><link>https://news.example.com/{guid}</link><guid>{guid}</guid>
<description>{title}</description><pubDate>Mon, 23 Nov 2026 09:30:00 +0000</pubDate></item>
</channel></rss>"""


def rss(title: str, guid: str = "item-1") -> bytes:
    """A valid RSS feed with one item."""
    return RSS.format(title=title, guid=guid).encode()


@dataclass
class Seen:
    """One request a server received."""

    method: str
    path: str
    host: str
    peer: str
    headers: dict = field(default_factory=dict)


class _Handler(BaseHTTPRequestHandler):
    routes: dict[str, Callable] = {}
    seen: list[Seen] = []
    stop: threading.Event

    def _route(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.body = self.rfile.read(length) if length else b""
        self.seen.append(
            Seen(self.command, self.path, self.headers.get("Host", ""), self.client_address[0],
                 dict(self.headers.items()))
        )  # fmt: skip
        route = self.routes.get(self.path.split("?")[0])
        if route is None:
            answer(404, b"not here")(self)
        else:
            route(self)

    do_GET = do_POST = do_HEAD = _route  # the names http.server calls

    def log_message(self, *args):
        pass


@dataclass
class Server:
    """A running server: its address, and what it has been asked."""

    host: str
    port: int
    seen: list[Seen]

    def url(self, path: str = "/") -> str:
        """A URL on this server."""
        return f"http://{self.host}:{self.port}{path}"


@contextmanager
def serving(
    routes: dict[str, Callable], host: str = "127.0.0.1", port: int = 0, tls=None
) -> Iterator[Server]:
    """Serve ``routes`` on ``host`` (over TLS with a server context) until the block ends."""
    stop = threading.Event()
    handler = type("Handler", (_Handler,), {"routes": routes, "seen": [], "stop": stop})
    server = ThreadingHTTPServer((host, port), handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Server(host, server.server_address[1], handler.seen)
    finally:
        stop.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def answer(status: int = 200, body: bytes = b"", headers: dict | None = None) -> Callable:
    """A route that answers at once."""

    def route(handler: _Handler) -> None:
        handler.send_response(status)
        for name, value in {"Content-Length": str(len(body)), **(headers or {})}.items():
            handler.send_header(name, value)
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(body)

    return route


def redirect(location: str, status: int = 302) -> Callable:
    """A route that sends the client elsewhere."""
    return answer(status, b"", {"Location": location})


def endless(handler: _Handler) -> None:
    """Sends bytes until the client hangs up (at most 64 MiB), with no length announced."""
    handler.send_response(200)
    handler.send_header("Content-Type", "application/rss+xml")
    handler.send_header("Connection", "close")
    handler.end_headers()
    chunk = b"<item>" + b"x" * 65530
    for _ in range(1024):
        if handler.stop.is_set():
            return
        try:
            handler.wfile.write(chunk)
        except OSError:
            return


def trickle(handler: _Handler) -> None:
    """Announces 50 bytes, then sends one every 0.1 s: each read is quick, the whole is slow."""
    handler.send_response(200)
    handler.send_header("Content-Length", "50")
    handler.end_headers()
    for _ in range(50):
        if handler.stop.wait(0.1):
            return
        try:
            handler.wfile.write(b"x")
            handler.wfile.flush()
        except OSError:
            return


def silent(handler: _Handler) -> None:
    """Reads the request and never answers (until the test ends, 10 s at most)."""
    handler.stop.wait(10)


def announced(size: int) -> Callable:
    """Announces a body of ``size`` bytes, then sends nothing for a while."""

    def route(handler: _Handler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(size))
        handler.end_headers()
        handler.wfile.flush()
        handler.stop.wait(10)

    return route


def self_signed(directory: Path, host: str) -> tuple[str, str]:
    """A certificate for ``host`` that is its own authority: (certificate file, key file)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_path, key_path = directory / f"{host}.pem", directory / f"{host}.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_path), str(key_path)


@contextmanager
def https_serving(directory: Path, host: str, routes: dict[str, Callable]) -> Iterator[tuple]:
    """Serve ``routes`` over TLS on 127.0.0.1 with a certificate for ``host``.

    Yields the server, the certificate file (for a client to trust) and the list of
    server names (SNI) clients asked for.
    """
    cert, key = self_signed(directory, host)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    asked: list[str] = []
    context.sni_callback = lambda sock, name, ctx: asked.append(name)
    with serving(routes, tls=context) as server:
        yield server, cert, asked


class _QuietFiles(SimpleHTTPRequestHandler):
    """Serves a folder's files and keeps the test output clean."""

    def log_message(self, *args):
        pass


@contextmanager
def serving_folder(root: Path, host: str = "127.0.0.1", port: int = 0) -> Iterator[int]:
    """Serve the files under ``root`` on ``host`` until the block ends; yields the port."""
    server = ThreadingHTTPServer((host, port), partial(_QuietFiles, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
