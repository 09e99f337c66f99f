"""Reading the mail the app sent, as a reader would: from a mailbox, or off the wire."""

import socket
import threading
from email import message_from_bytes, policy
from email.message import EmailMessage
from urllib.parse import urlsplit

from aiosmtpd.controller import Controller

from newsletters.services import devmailbox


def free_port() -> int:
    """A TCP port on the loopback interface that nobody is listening on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def text_of(message: EmailMessage) -> str:
    """The plain-text part."""
    return message.get_body(preferencelist=("plain",)).get_content()


def html_of(message: EmailMessage) -> str:
    """The HTML part."""
    return message.get_body(preferencelist=("html",)).get_content()


def link_in(message: EmailMessage, path_prefix: str) -> str:
    """The path (and query) of the first link in the text part that starts with ``path_prefix``."""
    for word in text_of(message).split():
        if word.startswith(("http://", "https://")):
            parts = urlsplit(word)
            if parts.path.startswith(path_prefix):
                return parts.path + (f"?{parts.query}" if parts.query else "")
    raise AssertionError(f"no {path_prefix} link in:\n{text_of(message)}")


class DevMailbox:
    """The development mailbox of one app, oldest message first."""

    def __init__(self, app) -> None:
        self.app = app

    def messages(self, to: str | None = None) -> list[EmailMessage]:
        """Every message delivered, optionally only those to one address."""
        with self.app.app_context():
            stored = list(reversed(devmailbox.list_messages()))
        found = [m.message for m in stored]
        return [m for m in found if to is None or m["To"] == to]

    def last(self, to: str | None = None) -> EmailMessage:
        """The newest message (to ``to``); fails when there is none."""
        found = self.messages(to)
        assert found, f"no mail delivered{f' to {to}' if to else ''}"
        return found[-1]


class SMTPRecorder:
    """An aiosmtpd server that keeps every message it accepts."""

    def __init__(self, port: int | None = None) -> None:
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.envelopes: list = []
        self.lock = threading.Lock()
        self.running = False
        self.controller = Controller(self, hostname=self.host, port=self.port, enable_SMTPUTF8=True)

    async def handle_DATA(self, server, session, envelope):
        """Accept and record a message."""
        with self.lock:
            self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def start(self) -> None:
        """Listen."""
        self.controller.start()
        self.running = True

    def stop(self) -> None:
        """Stop listening (again, harmlessly)."""
        if self.running:
            self.controller.stop()
            self.running = False

    @property
    def messages(self) -> list[EmailMessage]:
        """The accepted messages, parsed."""
        with self.lock:
            envelopes = list(self.envelopes)
        return [message_from_bytes(e.original_content, policy=policy.default) for e in envelopes]

    def settings(self) -> dict:
        """App settings that send mail to this server."""
        return {"MAIL_SERVER": self.host, "MAIL_PORT": self.port}
