"""A small CRM receiver for the newsletters webhooks: standard library only.

It verifies each request's Standard Webhooks signature, ignores a webhook-id it has
already handled (deliveries are at least once: retries and replays repeat the id),
and keeps a ``contacts`` table in SQLite in step with the newsletters:

    subscription.confirmed     the contact is subscribed to those newsletters
    subscription.unsubscribed  those newsletters are removed from the contact
    subscriber.erased          the contact is deleted

Run it with the endpoint's secret::

    WEBHOOK_SECRET=whsec_... CRM_DATABASE=crm.sqlite3 PORT=8090 python crm_receiver.py

then add the endpoint: ``flask webhooks add https://crm.example.com/hooks/newsletters
--events subscription.confirmed,subscription.unsubscribed,subscriber.erased``.
"""

import base64
import hashlib
import hmac
import json
import os
import sqlite3
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

TOLERANCE_SECONDS = 5 * 60  # refuse old (replayed-by-an-attacker) or far-future timestamps
MAX_BODY = 1024 * 1024

SCHEMA = """
CREATE TABLE IF NOT EXISTS contacts (
    email TEXT PRIMARY KEY,
    subscriber_id TEXT,
    newsletters TEXT NOT NULL DEFAULT '[]',
    status TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS seen_webhooks (
    webhook_id TEXT PRIMARY KEY,
    received_at TEXT NOT NULL
);
"""


class BadSignature(Exception):
    """The request was not signed with our secret, or is too old."""


def verify(secret: str, headers, body: bytes, now: float | None = None) -> None:
    """Check the Standard Webhooks signature; raise :class:`BadSignature` if it is wrong."""
    msg_id = headers.get("webhook-id", "")
    timestamp = headers.get("webhook-timestamp", "")
    signatures = headers.get("webhook-signature", "")
    try:
        sent_at = int(timestamp)
    except ValueError:
        raise BadSignature("no timestamp") from None
    if abs((now or time.time()) - sent_at) > TOLERANCE_SECONDS:
        raise BadSignature("timestamp too far from now")
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    # The header may carry several signatures ("v1,abc v1,def") while a secret is rotated.
    for candidate in signatures.split():
        version, _, signature = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(signature, expected):
            return
    raise BadSignature("no matching signature")


def open_database(path: str) -> sqlite3.Connection:
    """The CRM's database, with its tables."""
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    connection.executescript(SCHEMA)
    return connection


def apply_event(db: sqlite3.Connection, msg_id: str, event: dict) -> bool:
    """Apply one event once; False when this webhook-id was handled before."""
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    data = event.get("data", {})
    db.execute("BEGIN IMMEDIATE")
    try:
        inserted = db.execute(
            "INSERT OR IGNORE INTO seen_webhooks (webhook_id, received_at) VALUES (?, ?)",
            (msg_id, now),
        ).rowcount
        if not inserted:
            db.execute("ROLLBACK")
            return False
        handler = HANDLERS.get(event.get("type"))
        if handler is not None:
            handler(db, data, now)
        db.execute("COMMIT")  # the contact and the id it came with, together
        return True
    except BaseException:
        db.execute("ROLLBACK")
        raise


def _current(db, email: str) -> set[str]:
    row = db.execute("SELECT newsletters FROM contacts WHERE email = ?", (email,)).fetchone()
    return set(json.loads(row[0])) if row else set()


def _confirmed(db, data: dict, now: str) -> None:
    reader = data["subscriber"]
    newsletters = sorted(_current(db, reader["email"]) | set(data["newsletters"]))
    db.execute(
        "INSERT INTO contacts (email, subscriber_id, newsletters, status, updated_at) "
        "VALUES (?, ?, ?, 'subscribed', ?) ON CONFLICT(email) DO UPDATE SET "
        "subscriber_id = excluded.subscriber_id, newsletters = excluded.newsletters, "
        "status = 'subscribed', updated_at = excluded.updated_at",
        (reader["email"], reader["id"], json.dumps(newsletters), now),
    )


def _unsubscribed(db, data: dict, now: str) -> None:
    email = data["subscriber"]["email"]
    newsletters = sorted(_current(db, email) - set(data["newsletters"]))
    status = "subscribed" if newsletters else "unsubscribed"
    db.execute(
        "UPDATE contacts SET newsletters = ?, status = ?, updated_at = ? WHERE email = ?",
        (json.dumps(newsletters), status, now, email),
    )


def _erased(db, data: dict, now: str) -> None:
    db.execute("DELETE FROM contacts WHERE email = ?", (data["subscriber"]["email"],))


HANDLERS = {
    "subscription.confirmed": _confirmed,
    "subscription.unsubscribed": _unsubscribed,
    "subscriber.erased": _erased,
}


def make_handler(secret: str, db: sqlite3.Connection):
    """The request handler: verify, de-duplicate, apply, answer."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                return self._answer(413, "too large")
            body = self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                verify(secret, headers, body)
            except BadSignature as error:
                return self._answer(401, str(error))
            try:
                event = json.loads(body)
            except ValueError:
                return self._answer(400, "not JSON")
            new = apply_event(db, headers["webhook-id"], event)
            # 2xx either way: a duplicate was handled before, so it must not be retried.
            self._answer(200, "applied" if new else "duplicate")

        def _answer(self, status: int, text: str) -> None:
            body = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    return Handler


def main() -> None:
    """Serve on PORT (default 8090) until stopped."""
    secret = os.environ["WEBHOOK_SECRET"]
    db = open_database(os.environ.get("CRM_DATABASE", "crm.sqlite3"))
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "8090"))
    # One request at a time: SQLite has one writer, and webhooks come one by one anyway.
    server = HTTPServer((host, port), make_handler(secret, db))
    print(f"listening on http://{host}:{server.server_address[1]}/", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
