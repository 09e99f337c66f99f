"""The only code that knows about SMTP: turn outbox rows into MIME and hand them over.

With ``MAIL_SERVER`` set, mail goes out over SMTP using Flask-Mail's settings
(``MAIL_PORT``, ``MAIL_USE_TLS``, ``MAIL_USE_SSL``, ``MAIL_USERNAME``,
``MAIL_PASSWORD``). Without it, mail lands in the development mailbox.
"""

import smtplib
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

import idna
from flask import current_app

from newsletters.config import site_domain
from newsletters.extensions import mail
from newsletters.models import OutboxMessage
from newsletters.services import devmailbox

SMTP_TIMEOUT_SECONDS = 30


class DeliveryError(Exception):
    """Sending one message failed."""

    permanent = False

    def __init__(self, message: str, *, recipient_refused: bool = False) -> None:
        super().__init__(message)
        self.recipient_refused = recipient_refused


class TemporaryFailure(DeliveryError):
    """Worth trying again later: the server was away or said 4xx."""


class PermanentFailure(DeliveryError):
    """Will never work: the server said 5xx."""

    permanent = True


def smtp_address(address: str) -> tuple[str, bool]:
    """The address with its domain in ASCII (IDNA), and whether SMTPUTF8 is needed."""
    local, _, domain = address.rpartition("@")
    try:
        ascii_domain = idna.encode(domain, uts46=True).decode("ascii")
    except idna.IDNAError:
        ascii_domain = domain
    return f"{local}@{ascii_domain}", not local.isascii()


def build_mime(message: OutboxMessage) -> EmailMessage:
    """A multipart/alternative message with the headers every email carries."""
    to_address, needs_utf8 = smtp_address(message.to_address)
    mime = EmailMessage(policy=policy.SMTPUTF8 if needs_utf8 else policy.SMTP)
    config = current_app.config
    mime["From"] = config["MAIL_DEFAULT_SENDER"]
    mime["To"] = to_address
    mime["Subject"] = message.subject
    mime["Date"] = format_datetime(message.created_at)
    mime["Message-ID"] = message.message_id
    headers = {"List-Id": f"{config['SITE_NAME']} <newsletters.{site_domain(current_app)}>"}
    headers.update(message.headers or {})
    for name, value in headers.items():
        mime[name] = value
    mime.set_content(message.text_body)
    mime.add_alternative(message.html_body, subtype="html")
    return mime


class Pacer:
    """Spaces sends so they never exceed ``rate`` messages per second."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate if rate and rate > 0 else 0.0
        self.next_slot = 0.0

    def wait(self) -> None:
        """Sleep until the next send is allowed."""
        if not self.interval:
            return
        now = time.monotonic()
        if self.next_slot > now:
            time.sleep(self.next_slot - now)
        self.next_slot = max(now, self.next_slot) + self.interval


class MailboxTransport:
    """Delivers into the development mailbox."""

    def send(self, mime: EmailMessage, recipient: str) -> None:
        """Store the message as the recipient would receive it."""
        devmailbox.deliver(mime.as_bytes())

    def close(self) -> None:
        """Nothing to close."""


class SMTPTransport:
    """One SMTP connection, opened on first use and reused for every message."""

    def __init__(self) -> None:
        self.settings = current_app.extensions["mail"]
        self.envelope_from = parseaddr(current_app.config["MAIL_DEFAULT_SENDER"])[1]
        self.connection: smtplib.SMTP | None = None
        self.pacer = Pacer(current_app.config["MAIL_RATE_LIMIT"])

    def _connect(self) -> smtplib.SMTP:
        settings = self.settings
        smtp_class = smtplib.SMTP_SSL if settings.use_ssl else smtplib.SMTP
        connection = smtp_class(settings.server, settings.port, timeout=SMTP_TIMEOUT_SECONDS)
        if settings.use_tls:
            connection.starttls()
        if settings.username and settings.password:
            connection.login(settings.username, settings.password)
        return connection

    def send(self, mime: EmailMessage, recipient: str) -> None:
        """Send one message, classifying any failure as temporary or permanent."""
        address, needs_utf8 = smtp_address(recipient)
        options = ["SMTPUTF8"] if needs_utf8 else []
        self.pacer.wait()
        try:
            if self.connection is None:
                self.connection = self._connect()
            self.connection.send_message(mime, self.envelope_from, [address], mail_options=options)
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()))
            raise _classify(code, reply, recipient_refused=True) from exc
        except smtplib.SMTPResponseException as exc:
            if exc.smtp_code == 421:
                self._drop()
            raise _classify(exc.smtp_code, exc.smtp_error) from exc
        except (TimeoutError, smtplib.SMTPException, OSError) as exc:
            self._drop()
            raise TemporaryFailure(f"connection: {exc!r}") from exc

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


def _classify(code: int, reply: bytes | str, *, recipient_refused: bool = False) -> DeliveryError:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    error_class = PermanentFailure if 500 <= code < 600 else TemporaryFailure
    return error_class(f"{code} {text}", recipient_refused=recipient_refused)


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
