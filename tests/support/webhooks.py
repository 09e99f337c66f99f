"""A real webhook receiver for tests: it verifies every request's signature with the
``standardwebhooks`` package, records what arrived, and answers as the test says."""

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook

from newsletters.extensions import db
from newsletters.services.integrations import webhook_endpoints

ALL_EVENTS = [
    "subscription.confirmed",
    "subscription.unsubscribed",
    "subscriber.erased",
    "delivery.bounced",
    "delivery.complained",
    "issue.sent",
]


@dataclass
class Arrival:
    """One request the receiver got, after its signature was checked."""

    msg_id: str
    headers: dict
    body: dict
    verified: bool


@dataclass
class Receiver:
    """A running receiver: its URL, its secret (set once the endpoint exists), what came."""

    url: str
    secret: str = ""
    arrivals: list[Arrival] = field(default_factory=list)
    # What to answer: a status, or a callable(arrival) -> status; stall: never answer.
    answer: int | Callable[[Arrival], int] = 200
    stall: threading.Event | None = None
    headers_out: dict = field(default_factory=dict)

    @property
    def ids(self) -> list[str]:
        """The webhook-id of every request, in arrival order."""
        return [a.msg_id for a in self.arrivals]

    def types(self) -> list[str]:
        """The event type of every request, in arrival order."""
        return [a.body["type"] for a in self.arrivals]


def _handler(receiver: Receiver):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                Webhook(receiver.secret).verify(raw, headers)
                verified = True
            except Exception:
                verified = False
            arrival = Arrival(headers.get("webhook-id", ""), headers, json.loads(raw), verified)
            receiver.arrivals.append(arrival)
            if receiver.stall is not None:
                receiver.stall.wait(30)
                return
            status = receiver.answer(arrival) if callable(receiver.answer) else receiver.answer
            self.send_response(status)
            for name, value in {"Content-Length": "2", **receiver.headers_out}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    return Handler


@contextmanager
def receiving(host: str = "127.0.0.1", path: str = "/hooks") -> Iterator[Receiver]:
    """Run a receiver on a free loopback port until the block ends."""
    receiver = Receiver(url="")
    server = ThreadingHTTPServer((host, 0), _handler(receiver))
    server.daemon_threads = True
    receiver.url = f"http://{host}:{server.server_address[1]}{path}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        if receiver.stall is not None:
            receiver.stall.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def add_endpoint(app, receiver: Receiver, events=ALL_EVENTS) -> str:
    """Register the receiver as an endpoint; returns the endpoint's public id."""
    with app.app_context():
        endpoint, secret = webhook_endpoints.add_endpoint(receiver.url, events, "test receiver")
        receiver.secret = secret
        key = str(endpoint.uuid)
        db.session.remove()
        return key
