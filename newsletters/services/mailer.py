"""The only code that knows about SMTP: turn outbox rows into signed MIME and hand them over.

With ``MAIL_SERVER`` set, mail goes out over SMTP using Flask-Mail's settings
(``MAIL_PORT``, ``MAIL_USE_TLS``, ``MAIL_USE_SSL``, ``MAIL_USERNAME``,
``MAIL_PASSWORD``). Without it, mail lands in the development mailbox.
"""

import binascii
import functools
import re
import secrets
import smtplib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from email import policy
from email.headerregistry import Address
from email.utils import format_datetime, parseaddr
from pathlib import Path

import dkim
import idna
from flask import current_app

from newsletters.config import site_domain
from newsletters.extensions import mail
from newsletters.models import OutboxMessage
from newsletters.services import devmailbox
from newsletters.services.messages import clean_header_text

SMTP_TIMEOUT_SECONDS = 30
# Signed, so no relay can add, drop or alter them without breaking the signature.
DKIM_HEADERS = [
    b"from", b"to", b"subject", b"date", b"message-id", b"mime-version", b"content-type",
    b"list-id", b"list-unsubscribe", b"list-unsubscribe-post",
]  # fmt: skip
ENHANCED_MAILBOX_STATUS = re.compile(r"^5\.1\.\d")


class DeliveryError(Exception):
    """Sending one message failed."""

    permanent = False

    def __init__(self, message: str, *, bad_recipient: bool = False) -> None:
        super().__init__(message)
        # The server said this address does not exist: suppress it.
        self.bad_recipient = bad_recipient


class TemporaryFailure(DeliveryError):
    """Worth trying again later: the server was away, said 4xx, or refused our login."""


class ServerUnavailable(TemporaryFailure):
    """No connection could be made (or the login was refused): no message can go now."""


class PermanentFailure(DeliveryError):
    """Will never work as it is: the server said 5xx."""

    permanent = True


def smtp_address(address: str) -> tuple[str, bool]:
    """The address with its domain in ASCII (IDNA), and whether SMTPUTF8 is needed."""
    local, _, domain = address.rpartition("@")
    try:
        ascii_domain = idna.encode(domain, uts46=True).decode("ascii")
    except idna.IDNAError:
        ascii_domain = domain
    return f"{local}@{ascii_domain}", not local.isascii()


def sender(name: str | None = None) -> Address:
    """``MAIL_DEFAULT_SENDER`` (optionally under another display name) as a safe address."""
    default_name, address = parseaddr(current_app.config["MAIL_DEFAULT_SENDER"])
    return Address(display_name=clean_header_text(name or default_name), addr_spec=address)


def list_id(local_part: str = "newsletters", name: str | None = None) -> str:
    """A List-Id on the site's domain, e.g. ``The Weekly <the-weekly.example.com>``."""
    return f"{name or current_app.config['SITE_NAME']} <{local_part}.{site_domain(current_app)}>"


def header_line(name: str, value: str, *, utf8: bool = False) -> bytes:
    """One header line. ASCII goes as is (URLs must never be encoded-words); other
    text is RFC 2047-encoded, or raw UTF-8 when the message travels with SMTPUTF8."""
    value = clean_header_text(value)
    if value.isascii():
        return f"{name}: {value}\r\n".encode("ascii")
    folding = policy.SMTPUTF8 if utf8 else policy.SMTP
    return folding.fold_binary(name, folding.header_factory(name, value))


def _quoted_printable(text: str) -> bytes:
    encoded = binascii.b2a_qp(text.replace("\r\n", "\n").encode("utf-8"), istext=True)
    return encoded.replace(b"\n", b"\r\n")


class MessageTemplate:
    """A message rendered once, then turned into wire bytes for each recipient.

    Everything common is encoded once. Per recipient only ``To``, ``Message-ID``,
    their own headers (``List-Unsubscribe``) and their own links change: the
    links are written into the text and HTML as placeholders and replaced
    here. The result is multipart/alternative, both parts quoted-printable UTF-8.
    """

    def __init__(
        self,
        *,
        subject: str,
        text: str,
        html: str,
        date: datetime,
        from_name: str | None = None,
        list_id_value: str | None = None,
    ) -> None:
        self.boundary = f"=_{secrets.token_hex(16)}"
        common = {
            "From": str(sender(from_name)),
            "Subject": subject,
            "Date": format_datetime(date),
            "List-Id": list_id_value or list_id(),
        }
        self.head = b"".join(header_line(name, value) for name, value in common.items())
        self.mime_head = (
            b'MIME-Version: 1.0\r\nContent-Type: multipart/alternative;\r\n boundary="'
            + self.boundary.encode()
            + b'"\r\n\r\n'
        )
        self.text = text
        self.html = html

    def _part(self, subtype: str, body: str) -> bytes:
        return (
            (
                f'--{self.boundary}\r\nContent-Type: text/{subtype}; charset="utf-8"\r\n'
                "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
            ).encode()
            + _quoted_printable(body)
            + b"\r\n"
        )

    def render(
        self,
        to: str,
        message_id: str,
        *,
        headers: dict[str, str] | None = None,
        links: dict[str, str] | None = None,
    ) -> bytes:
        """The bytes for one recipient, DKIM-signed when a key is configured."""
        address, needs_utf8 = smtp_address(to)
        text, html = self.text, self.html
        for placeholder, url in (links or {}).items():
            text = text.replace(placeholder, url)
            html = html.replace(placeholder, url)
        own = [header_line("To", address, utf8=needs_utf8), header_line("Message-ID", message_id)]
        own += [header_line(name, value) for name, value in (headers or {}).items()]
        raw = b"".join(
            [
                self.head,
                *own,
                self.mime_head,
                self._part("plain", text),
                self._part("html", html),
                f"--{self.boundary}--\r\n".encode(),
            ]
        )
        return dkim_sign(raw)


def message_bytes(message: OutboxMessage) -> bytes:
    """An outbox message exactly as it goes over the wire."""
    headers = dict(message.headers or {})
    template = MessageTemplate(
        subject=message.subject,
        text=message.text_body,
        html=message.html_body,
        date=message.created_at,
        list_id_value=headers.pop("List-Id", None),
    )
    return template.render(message.to_address, message.message_id, headers=headers)


def dkim_sign(raw: bytes) -> bytes:
    """Prepend a DKIM-Signature when ``DKIM_PRIVATE_KEY`` and ``DKIM_SELECTOR`` are set."""
    config = current_app.config
    if not (config["DKIM_PRIVATE_KEY"] and config["DKIM_SELECTOR"]):
        return raw
    domain = config["DKIM_DOMAIN"] or sender().domain
    signature = dkim.sign(
        raw,
        config["DKIM_SELECTOR"].encode("ascii"),
        domain.encode("ascii"),
        _dkim_key(config["DKIM_PRIVATE_KEY"]),
        include_headers=DKIM_HEADERS,
    )
    return signature + raw


@functools.lru_cache(maxsize=4)
def _dkim_key(setting: str) -> bytes:
    """The PEM key itself, or read from the file the setting names."""
    if setting.lstrip().startswith("-----BEGIN"):
        return setting.strip().encode("ascii")
    return Path(setting).read_bytes()


class Pacer:
    """Spaces sends so that one process never exceeds ``rate`` messages per second."""

    def __init__(self, rate: float, clock=time.monotonic, sleep=time.sleep) -> None:
        self.interval = 1.0 / rate if rate and rate > 0 else 0.0
        self.next_slot = 0.0
        self.clock = clock
        self.sleep = sleep
        self.lock = threading.Lock()

    def wait(self) -> None:
        """Sleep until the next send is allowed."""
        if not self.interval:
            return
        with self.lock:
            now = self.clock()
            slot = max(now, self.next_slot)
            self.next_slot = slot + self.interval
        if slot > now:
            self.sleep(slot - now)


_pacers: dict[float, Pacer] = {}


def process_pacer(rate: float) -> Pacer:
    """The one pacer this process shares between all its connections."""
    return _pacers.setdefault(rate, Pacer(rate))


class MailboxTransport:
    """Delivers into the development mailbox."""

    def send(self, raw: bytes, recipient: str) -> None:
        """Store the message as the recipient would receive it."""
        devmailbox.deliver(raw)

    def close(self) -> None:
        """Nothing to close."""


class SMTPTransport:
    """One SMTP connection, opened on first use and reused for every message."""

    def __init__(self) -> None:
        self.settings = current_app.extensions["mail"]
        self.envelope_from = sender().addr_spec
        self.connection: smtplib.SMTP | None = None
        self.pacer = process_pacer(current_app.config["MAIL_RATE_LIMIT"])
        self.connections_opened = 0

    def _connect(self) -> smtplib.SMTP:
        settings = self.settings
        smtp_class = smtplib.SMTP_SSL if settings.use_ssl else smtplib.SMTP
        connection = None
        try:
            connection = smtp_class(settings.server, settings.port, timeout=SMTP_TIMEOUT_SECONDS)
            if settings.use_tls:
                connection.starttls()
            if settings.username and settings.password:
                connection.login(settings.username, settings.password)
        except (smtplib.SMTPException, OSError) as exc:
            if connection is not None:
                connection.close()
            # Not the message's fault: keep it and try again once the server or settings are fixed.
            raise ServerUnavailable(f"connecting to {settings.server}: {exc!r}") from exc
        self.connections_opened += 1
        return connection

    def send(self, raw: bytes, recipient: str) -> None:
        """Send one message, classifying any failure as temporary or permanent."""
        address, needs_utf8 = smtp_address(recipient)
        options = ["SMTPUTF8"] if needs_utf8 else []
        if self.connection is None:
            self.connection = self._connect()
        self.pacer.wait()
        try:
            self.connection.sendmail(self.envelope_from, [address], raw, mail_options=options)
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()))
            if code == 421:
                self._drop()
            raise _classify(code, reply, at_recipient=True) from exc
        except smtplib.SMTPSenderRefused as exc:
            # Our own From was refused: a settings problem, not this message's. Keep it.
            raise TemporaryFailure(f"sender refused: {exc.smtp_code} {exc.smtp_error!r}") from exc
        except smtplib.SMTPResponseException as exc:
            if exc.smtp_code == 421:  # the server is closing the connection
                self._drop()
            raise _classify(exc.smtp_code, exc.smtp_error) from exc
        except (smtplib.SMTPException, OSError) as exc:
            self._drop()
            raise TemporaryFailure(f"connection lost: {exc!r}") from exc

    def _drop(self) -> None:
        connection, self.connection = self.connection, None
        if connection is not None:
            try:
                connection.close()
            except OSError:
                pass

    def close(self) -> None:
        """Say goodbye to the server, if we ever said hello."""
        if self.connection is not None:
            try:
                self.connection.quit()
            except (smtplib.SMTPException, OSError):
                pass
            self.connection = None


def _classify(code: int, reply: bytes | str, *, at_recipient: bool = False) -> DeliveryError:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    if not 500 <= code < 600:
        return TemporaryFailure(f"{code} {text}")
    bad_recipient = at_recipient or bool(ENHANCED_MAILBOX_STATUS.match(text))
    return PermanentFailure(f"{code} {text}", bad_recipient=bad_recipient)


@contextmanager
def open_transport() -> Iterator[MailboxTransport | SMTPTransport]:
    """The transport the settings ask for, closed when the block ends."""
    transport = SMTPTransport() if current_app.config["MAIL_SERVER"] else MailboxTransport()
    try:
        yield transport
    finally:
        transport.close()


def init_app(app) -> None:
    """Bind Flask-Mail, whose settings the SMTP transport reads."""
    mail.init_app(app)
