"""The only code that knows about SMTP: hand messages to the server, and sort its answers.

With ``MAIL_SERVER`` set, mail goes out over SMTP using Flask-Mail's settings
(``MAIL_PORT``, ``MAIL_USE_TLS``, ``MAIL_USE_SSL``, ``MAIL_USERNAME``,
``MAIL_PASSWORD``). Without it, mail lands in the development mailbox.
"""

import re
import smtplib
import socket
from collections.abc import Iterator
from contextlib import contextmanager

from flask import current_app

from newsletters.extensions import mail
from newsletters.services.mail import devmailbox, pace
from newsletters.services.mail.mime import sender, smtp_address
from newsletters.services.mail.pipelining import Settled, Step, Submitted, content, run_group

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

    def submit(
        self, raw: bytes, recipient: str, envelope_from: str | None = None, key: object = None
    ) -> list[Settled]:
        """Store the message at once: it is settled as soon as it is submitted."""
        self.send(raw, recipient, envelope_from)
        return [Settled(key)]

    def finish(self) -> list[Settled]:
        """Nothing is ever left waiting."""
        return []

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
    """One SMTP connection, opened on first use and reused for every message.

    :meth:`submit` hands over a message and returns what became known meanwhile;
    :meth:`finish` ends the last one. When the server offers PIPELINING (RFC 2920),
    the end of the previous message and the next one's MAIL, RCPT and DATA go in
    one write, so a message costs one round trip instead of four. A message's final
    dot is held until the next call, so the caller can record the previous outcome
    before another message can be delivered: if the machine dies, at most one
    message per connection was delivered and not recorded.
    """

    def __init__(self) -> None:
        self.settings = current_app.extensions["mail"]
        self.envelope_from = sender().addr_spec
        self.connection: smtplib.SMTP | None = None
        self.pipelining = False
        self.pacer = pace.app_pacer()
        self.connections_opened = 0
        self.open: Submitted | None = None  # sent but for its final dot
        self.reset_due = False  # a refusal left a transaction to clear

    def _connect(self) -> smtplib.SMTP:
        """A logged-in connection, or ServerUnavailable: no message is to blame for that."""
        try:
            connection = _open_connection(self.settings, SMTP_TIMEOUT_SECONDS)
            connection.ehlo_or_helo_if_needed()
            # Commands follow content without waiting for a reply: do not let Nagle hold them.
            connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except (smtplib.SMTPException, OSError) as exc:
            # Not the message's fault: keep it and try again once the server or settings are fixed.
            raise ServerUnavailable(f"connecting to {self.settings.server}: {exc!r}") from exc
        self.connections_opened += 1
        self.pipelining = connection.has_extn("pipelining")
        self.reset_due = False
        return connection

    def send(self, raw: bytes, recipient: str, envelope_from: str | None = None) -> None:
        """Send one message now, raising its DeliveryError if it failed."""
        if self.open is not None:
            raise RuntimeError("send() while a submitted message is not finished")
        for settled in self.submit(raw, recipient, envelope_from) + self.finish():
            if settled.error is not None:
                raise settled.error

    def submit(
        self, raw: bytes, recipient: str, envelope_from: str | None = None, key: object = None
    ) -> list[Settled]:
        """Hand one message over; returns the outcomes now known (this message's and the
        previous one's). ``key`` names the message in them.

        ``envelope_from`` is the message's own return path (``MAIL FROM``), when it has
        one; else the sender's address. Raises DomainBusy (nothing sent, nothing settled)
        when the recipient's domain has no slot, and ServerUnavailable when no
        connection can be made (then nothing is waiting either).
        """
        address, needs_utf8 = smtp_address(recipient)
        if self.connection is None:
            self.connection = self._connect()
        domain = pace.domain_of(address)
        retry_in = self.pacer.wait_for(domain)
        if retry_in:
            raise DomainBusy(domain, retry_in)
        message = Submitted(key, domain)
        if needs_utf8 and not self.connection.has_extn("smtputf8"):
            return [Settled(key, TemporaryFailure("the server does not support SMTPUTF8"))]
        option = " SMTPUTF8" if needs_utf8 else ""
        # MAIL, RCPT and DATA, each reply checked; after a refusal the rest say nothing new.
        transaction = [
            Step(
                f"MAIL FROM:<{envelope_from or self.envelope_from}>{option}\r\n".encode(),
                self._after_mail,
                message,
            ),
            Step(f"RCPT TO:<{address}>\r\n".encode(), self._after_rcpt, message, True),
            Step(b"DATA\r\n", self._after_data, message, True),
        ]
        return self._exchange(message, transaction, raw)

    def finish(self) -> list[Settled]:
        """End the last submitted message and return its outcome (nothing if none waits)."""
        return self._exchange(None, [], b"") if self.open is not None else []

    def _exchange(
        self, message: Submitted | None, transaction: list[Step], raw: bytes
    ) -> list[Settled]:
        previous, self.open = self.open, None
        settled: list[Settled] = []
        steps = transaction
        if message is not None and self.reset_due:  # RFC 2920 lets RSET lead a group, like the dot
            steps = [Step(b"RSET\r\n", self._reset), *steps]
        if previous is not None:
            steps = [Step(b".\r\n", self._ended, previous), *steps]
        try:
            run_group(self.connection, self.pipelining, steps, settled)
            if message is not None and message.error is None:
                self.connection.send(content(raw))  # all but the dot: that waits for the next call
                self.open = message
        except (smtplib.SMTPException, OSError) as exc:
            self._drop()
            lost = TemporaryFailure(f"connection lost: {exc!r}")
            known = {id(s.key) for s in settled}
            for waiting in (previous, message):
                if waiting is not None and id(waiting.key) not in known:
                    settled.append(Settled(waiting.key, waiting.error or lost))
            return settled
        if message is not None and message.error is not None:
            settled.append(Settled(message.key, message.error))
            self.reset_due = True
        return settled

    def _after_mail(self, message: Submitted, code: int, reply: bytes) -> None:
        if code != 250:  # our own From: a settings problem, not the message's. Keep it.
            error = TemporaryFailure(f"sender refused: {code} {reply!r}")
            self._refused(message, code, error, slow=code == 421)

    def _after_rcpt(self, message: Submitted, code: int, reply: bytes) -> None:
        if code not in (250, 251):
            error = _classify(code, reply, at_recipient=True)
            self._refused(message, code, error, slow=400 <= code < 500)

    def _after_data(self, message: Submitted, code: int, reply: bytes) -> None:
        if code != 354:
            self._refused(message, code, _classify(code, reply), slow=400 <= code < 500)
        elif message.error is not None:  # DATA accepted after a refusal: send nothing
            self.connection.send(b".\r\n")
            self.connection.getreply()

    def _refused(self, message: Submitted, code: int, error: DeliveryError, *, slow: bool) -> None:
        """Note the first refusal of a message; a 421 means the server is hanging up."""
        if message.error is None:
            message.error = error
            if slow:  # a 4xx asks for less mail: slow the recipient's domain, and it alone
                self.pacer.slow_down(message.domain)
        if code == 421:
            raise smtplib.SMTPResponseException(code, "the server is closing the connection")

    def _ended(self, message: Submitted, code: int, reply: bytes) -> Settled:
        """The reply to a message's final dot: 250, or it was not taken."""
        if code != 250:
            self._refused(message, code, _classify(code, reply), slow=400 <= code < 500)
        return Settled(message.key, message.error)

    def _reset(self, _: None, code: int, reply: bytes) -> None:
        self.reset_due = False
        if code == 421:
            raise smtplib.SMTPResponseException(code, reply)

    def _drop(self) -> None:
        connection, self.connection = self.connection, None
        self.open = None  # never ended, so never delivered
        if connection is not None:
            try:
                connection.close()
            except OSError:
                pass

    def close(self) -> None:
        """Say goodbye to the server, if we ever said hello; a message never ended is dropped."""
        if self.open is not None:
            self._drop()
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
