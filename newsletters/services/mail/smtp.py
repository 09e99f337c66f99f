"""The only code that knows about SMTP: hand messages to the server, and sort its answers.

With ``MAIL_SERVER`` set, mail goes out over SMTP using Flask-Mail's settings
(``MAIL_PORT``, ``MAIL_USE_TLS``, ``MAIL_USE_SSL``, ``MAIL_USERNAME``,
``MAIL_PASSWORD``). Without it, mail lands in the development mailbox.
"""

import re
import smtplib
from collections.abc import Iterator
from contextlib import contextmanager

from flask import current_app

from newsletters.extensions import mail
from newsletters.services.mail import devmailbox, pace
from newsletters.services.mail.mime import sender, smtp_address

SMTP_TIMEOUT_SECONDS = 30
# A health check should answer quickly even when the server does not.
PROBE_TIMEOUT_SECONDS = 10
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


class DomainBusy(TemporaryFailure):
    """Not sent, not tried: the recipient's domain is paced, or slowed after a 4xx, and its
    next slot is ``retry_in`` seconds away (see ``pace``). Send to other domains meanwhile."""

    def __init__(self, domain: str, retry_in: float) -> None:
        super().__init__(f"{domain} is being paced: its next slot is in {retry_in:.1f} s")
        self.domain = domain
        self.retry_in = retry_in


class MailboxTransport:
    """Delivers into the development mailbox."""

    def send(self, raw: bytes, recipient: str, envelope_from: str | None = None) -> None:
        """Store the message as the recipient would receive it."""
        devmailbox.deliver(raw)

    def close(self) -> None:
        """Nothing to close."""


def _open_connection(settings, timeout: float) -> smtplib.SMTP:
    """Connect, start TLS and log in as the settings say; ``smtplib``'s errors pass through."""
    smtp_class = smtplib.SMTP_SSL if settings.use_ssl else smtplib.SMTP
    connection = smtp_class(settings.server, settings.port, timeout=timeout)
    try:
        if settings.use_tls:
            connection.starttls()
        if settings.username and settings.password:
            connection.login(settings.username, settings.password)
    except BaseException:
        connection.close()
        raise
    return connection


def probe(timeout: float = PROBE_TIMEOUT_SECONDS) -> str | None:
    """Connect and log in as sending does, then say NOOP: None if all went well, else why not."""
    try:
        connection = _open_connection(current_app.extensions["mail"], timeout)
        try:
            connection.noop()
            connection.quit()
        finally:
            connection.close()
    except (smtplib.SMTPException, OSError) as exc:
        return repr(exc)
    return None


class SMTPTransport:
    """One SMTP connection, opened on first use and reused for every message."""

    def __init__(self) -> None:
        self.settings = current_app.extensions["mail"]
        self.envelope_from = sender().addr_spec
        self.connection: smtplib.SMTP | None = None
        self.pacer = pace.app_pacer()
        self.connections_opened = 0

    def _connect(self) -> smtplib.SMTP:
        """A logged-in connection, or ServerUnavailable: no message is to blame for that."""
        try:
            connection = _open_connection(self.settings, SMTP_TIMEOUT_SECONDS)
        except (smtplib.SMTPException, OSError) as exc:
            # Not the message's fault: keep it and try again once the server or settings are fixed.
            raise ServerUnavailable(f"connecting to {self.settings.server}: {exc!r}") from exc
        self.connections_opened += 1
        return connection

    def send(self, raw: bytes, recipient: str, envelope_from: str | None = None) -> None:
        """Send one message, classifying any failure as temporary or permanent.

        ``envelope_from`` is the message's own return path (``MAIL FROM``), when
        it has one; else the sender's address.
        """
        address, needs_utf8 = smtp_address(recipient)
        if self.connection is None:
            self.connection = self._connect()
        domain = pace.domain_of(address)
        retry_in = self.pacer.wait_for(domain)
        if retry_in:
            raise DomainBusy(domain, retry_in)
        try:
            _transaction(
                self.connection, envelope_from or self.envelope_from, address, raw, utf8=needs_utf8
            )
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()))
            if code == 421:
                self._drop()
            self._slow_down_on(code, domain)
            raise _classify(code, reply, at_recipient=True) from exc
        except smtplib.SMTPSenderRefused as exc:
            if exc.smtp_code == 421:  # closing: too much mail, whoever it is from
                self.pacer.slow_down(domain)
            # Our own From was refused: a settings problem, not this message's. Keep it.
            raise TemporaryFailure(f"sender refused: {exc.smtp_code} {exc.smtp_error!r}") from exc
        except smtplib.SMTPResponseException as exc:
            if exc.smtp_code == 421:  # the server is closing the connection
                self._drop()
            self._slow_down_on(exc.smtp_code, domain)
            raise _classify(exc.smtp_code, exc.smtp_error) from exc
        except (smtplib.SMTPException, OSError) as exc:
            self._drop()
            raise TemporaryFailure(f"connection lost: {exc!r}") from exc

    def _slow_down_on(self, code: int, domain: str) -> None:
        """A 4xx (a 421 too) asks for less mail: slow the recipient's domain, and it alone."""
        if 400 <= code < 500:
            self.pacer.slow_down(domain)

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


def _transaction(
    connection: smtplib.SMTP, envelope_from: str, address: str, raw: bytes, *, utf8: bool
) -> None:
    """One message, as ``smtplib``'s ``sendmail`` sends it, raising the same errors.

    ``sendmail`` parses both addresses again and scans the whole message with a
    regular expression for lines to dot-stuff, on every message: that was half
    the client's CPU in a 20,000-reader issue. Our addresses are already plain
    (checked at signup, made ASCII by :func:`smtp_address`), and quoted-printable
    bodies almost never start a line with a dot, so this only stuffs when one does.
    """
    connection.ehlo_or_helo_if_needed()
    option = ""
    if utf8:
        if not connection.has_extn("smtputf8"):
            raise smtplib.SMTPNotSupportedError("the server does not support SMTPUTF8")
        connection.command_encoding, option = "utf-8", " SMTPUTF8"
    code, reply = _command(connection, "mail", f"FROM:<{envelope_from}>{option}")
    if code != 250:
        _abandon(connection, code)
        raise smtplib.SMTPSenderRefused(code, reply, envelope_from)
    code, reply = _command(connection, "rcpt", f"TO:<{address}>")
    if code not in (250, 251):
        _abandon(connection, code)
        raise smtplib.SMTPRecipientsRefused({address: (code, reply)})
    code, reply = _command(connection, "data", "")
    if code != 354:
        _abandon(connection, code)
        raise smtplib.SMTPDataError(code, reply)
    if raw.startswith(b".") or b"\n." in raw:
        raw = DOT_AT_LINE_START.sub(b"..", raw)
    if not raw.endswith(b"\r\n"):
        raw += b"\r\n"
    connection.send(raw + b".\r\n")
    code, reply = connection.getreply()
    if code != 250:
        _abandon(connection, code)
        raise smtplib.SMTPDataError(code, reply)


DOT_AT_LINE_START = re.compile(rb"(?m)^\.")


def _command(connection: smtplib.SMTP, verb: str, argument: str) -> tuple[int, bytes]:
    connection.putcmd(verb, argument)
    return connection.getreply()


def _abandon(connection: smtplib.SMTP, code: int) -> None:
    """After a refusal: reset the transaction, or hang up when the server is closing (421)."""
    if code == 421:
        connection.close()
        return
    try:
        connection.rset()
    except smtplib.SMTPServerDisconnected:
        pass


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
