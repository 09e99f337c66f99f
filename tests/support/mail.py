"""Reading the mail the app sent, as a reader would: from a mailbox, or off the wire."""

import asyncio
import socket
import threading
from email import message_from_bytes, policy
from email.message import EmailMessage
from urllib.parse import urlsplit

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from newsletters.services.mail import devmailbox


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
    """An aiosmtpd server that keeps every message it accepts, and misbehaves on request.

    ``refuse`` makes it reject one recipient at RCPT, ``fail_data`` answers the
    next DATA commands with an error reply, and ``drop_data`` hangs up in the
    middle of the next DATA commands without answering. ``delay`` (seconds) makes
    it a slow server: each message is answered that long after it arrives. It
    offers PIPELINING (RFC 2920), as mail servers do, unless ``pipelining`` is false.
    """

    def __init__(
        self,
        port: int | None = None,
        delay: float = 0.0,
        pipelining: bool = True,
        **smtp_parameters,
    ) -> None:
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.envelopes: list = []
        self.sessions: set[int] = set()
        self.refused: dict[str, str] = {}
        self.sender_refusal: str | None = None
        self.data_faults: list[str | None] = []
        self.lock = threading.Lock()
        self.delay = delay
        self.pipelining = pipelining
        self.running = False
        self.smtp_parameters = smtp_parameters
        self.controller: Controller | None = None

    def refuse(self, address: str, reply: str = "550 5.1.1 No such user here") -> None:
        """Reject this recipient at RCPT time from now on."""
        self.refused[address] = reply

    def refuse_sender(self, reply: str | None) -> None:
        """Answer MAIL FROM with ``reply`` from now on (None: accept it again)."""
        self.sender_refusal = reply

    def fail_data(self, reply: str, times: int = 1) -> None:
        """Answer the next ``times`` DATA commands with ``reply`` instead of accepting."""
        self.data_faults.extend([reply] * times)

    def drop_data(self, times: int = 1) -> None:
        """Close the connection during the next ``times`` DATA commands, without a reply."""
        self.data_faults.extend([None] * times)

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        """Offer PIPELINING too (aiosmtpd reads pipelined commands, but does not say so)."""
        session.host_name = hostname
        if self.pipelining:
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        """Accept the sender (unless told not to), and note which connection is in use."""
        with self.lock:
            self.sessions.add(id(session))
        if self.sender_refusal:
            return self.sender_refusal
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        """Accept a recipient unless told to refuse it."""
        if address in self.refused:
            return self.refused[address]
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        """Accept and record a message, or fail as told."""
        with self.lock:
            fault = self.data_faults.pop(0) if self.data_faults else "accept"
        if fault is None:
            server.transport.close()
            return "421 4.3.0 gone"  # never reaches the client: the connection is closed
        if fault != "accept":
            return fault
        if self.delay:
            await asyncio.sleep(self.delay)
        with self.lock:
            self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def start(self) -> None:
        """Listen (again, after a stop: same port, same records)."""
        self.controller = Controller(
            self, hostname=self.host, port=self.port, enable_SMTPUTF8=True, **self.smtp_parameters
        )
        self.controller.start()
        self.running = True

    def stop(self) -> None:
        """Stop listening (again, harmlessly)."""
        if self.running:
            self.controller.stop()
            self.running = False

    @property
    def raw_messages(self) -> list[bytes]:
        """The accepted messages, byte for byte as they came over the wire."""
        with self.lock:
            return [e.original_content for e in self.envelopes]

    @property
    def messages(self) -> list[EmailMessage]:
        """The accepted messages, parsed."""
        return [message_from_bytes(raw, policy=policy.default) for raw in self.raw_messages]

    @property
    def recipients(self) -> list[str]:
        """Every accepted recipient, in order, once per delivered message."""
        with self.lock:
            return [to for e in self.envelopes for to in e.rcpt_tos]

    def settings(self) -> dict:
        """App settings that send mail to this server."""
        return {"MAIL_SERVER": self.host, "MAIL_PORT": self.port}


def password_checker(username: str, password: str):
    """An aiosmtpd authenticator accepting exactly one login."""

    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = auth_data.login == username.encode() and auth_data.password == password.encode()
        return AuthResult(success=ok, handled=False)

    return authenticate
