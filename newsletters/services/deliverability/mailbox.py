"""Poll the bounce mailbox: read each new message, act on what it reports, then file it.

Each message is read whole, sorted by :func:`reports.parse_report`, and stored:

- a bounce or a complaint is applied (:func:`events.apply`) and filed in
  ``Processed``, whether or not it named a message of ours;
- an auto-reply or a delay notice is stored as ignored and filed in ``Processed``;
- anything else is stored as kept and filed in ``Unrecognised`` for a person.

The report is committed before the message is filed, so a poll cut off in
between loses nothing: the next poll finds the report already stored and only
files the message. Nothing is deleted before it was stored; over POP3, which
has no folders, mail that was not understood is never deleted at all. A poll
reads at most ``MAX_NEW_MESSAGES`` new messages, and does not read a message
over ``MAX_MESSAGE_BYTES``: its header is kept and it goes to ``Unrecognised``.
"""

import hashlib
import imaplib
import logging
import poplib
import re
from dataclasses import dataclass

from flask import current_app

from newsletters.models import BounceKind
from newsletters.services.deliverability import events, reports
from newsletters.services.deliverability.imap_folder import FilingFailed, ImapFolder
from newsletters.services.deliverability.mailbox_address import (
    PROCESSED,
    SETTING,
    UNRECOGNISED,
    LoginRefused,
    MailboxAddress,
    MailboxSettingInvalid,
    MailboxUnavailable,
    parse_mailbox_url,
    without_password,
)
from newsletters.services.deliverability.pop3_maildrop import Pop3Maildrop

log = logging.getLogger(__name__)

SOURCE = "mailbox"
MAX_NEW_MESSAGES = 500  # per poll; the rest waits for the next one
MAX_READ_MESSAGES = 5000  # per poll, counting mail stored by earlier polls
MAX_MESSAGE_BYTES = 10 * 1024 * 1024
MAX_HEADER_BYTES = 64 * 1024  # of a message too big to read: what is kept of its header
MESSAGE_ID = re.compile(rb"(?im)^message-id:[ \t]*(<[!-=?-~]{1,250}>)")
# What a dropped connection or a confused server raises; anything else is one message's fault.
SESSION_ERRORS = (OSError, EOFError, imaplib.IMAP4.error, poplib.error_proto)

__all__ = [
    "MailboxSettingInvalid",
    "MailboxUnavailable",
    "PollReport",
    "configured",
    "poll",
]


@dataclass
class PollReport:
    """What one poll did, message by message."""

    mailbox: str
    fetched: int = 0  # messages read from the server
    applied: int = 0  # new bounces and complaints that named a message of ours
    unmatched: int = 0  # new bounces and complaints that named nothing we sent
    ignored: int = 0  # new auto-replies and delay notices
    kept: int = 0  # new mail that was not understood, left for a person
    replayed: int = 0  # stored by an earlier poll: filed now, applied then
    errors: int = 0  # messages left where they were, to be tried again
    more_waiting: bool = False  # the poll stopped at its limit

    @property
    def new(self) -> int:
        """Messages stored for the first time by this poll."""
        return self.applied + self.unmatched + self.ignored + self.kept

    def summary(self) -> str:
        """One line for the command line, the task log or cron's mail."""
        line = (
            f"Bounce mailbox {self.mailbox}: read {self.fetched}; {self.applied} applied, "
            f"{self.unmatched} unmatched, {self.ignored} ignored, {self.kept} kept for a person "
            f"(Unrecognised), {self.replayed} seen before, {self.errors} failed."
        )
        if self.more_waiting:
            line += " More mail is waiting; the next poll goes on."
        return line


def configured() -> bool:
    """Whether a bounce mailbox is set up to be polled."""
    return bool(current_app.config[SETTING].strip())


def _session(address: MailboxAddress) -> ImapFolder | Pop3Maildrop:
    return ImapFolder(address) if address.protocol == "imap" else Pop3Maildrop(address)


def _unavailable(
    address: MailboxAddress, error: BaseException, report: PollReport
) -> MailboxUnavailable:
    if isinstance(error, LoginRefused):
        why = f"the server refused the login for {address.user!r}: {error}"
    elif isinstance(error, (imaplib.IMAP4.abort, EOFError)):
        why = f"the connection was lost: {error}"
    elif isinstance(error, (imaplib.IMAP4.error, poplib.error_proto)):
        why = f"the server answered: {error}"
    else:
        why = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    message = f"The bounce mailbox {address} could not be read: {why}"
    return MailboxUnavailable(without_password(message, address), report)


def probe() -> tuple[bool, str]:
    """Sign in as a poll would and read nothing: whether that works, and what was found."""
    try:
        address = parse_mailbox_url(current_app.config[SETTING])
    except MailboxSettingInvalid as error:
        return False, str(error)
    session = _session(address)
    try:
        session.open()
    except (*SESSION_ERRORS, LoginRefused) as error:
        return False, str(_unavailable(address, error, PollReport(mailbox=str(address))))
    finally:
        session.close(finished=True)  # nothing was marked: a clean sign-out deletes nothing
    return True, f"{address} answers and accepts our login"


def poll(url: str | None = None) -> PollReport:
    """Read, store and file the new mail of ``BOUNCE_MAILBOX_URL`` (or ``url``).

    Raises :class:`MailboxSettingInvalid` for an unusable URL and
    :class:`MailboxUnavailable` when the server cannot be reached, refuses the
    login or goes away halfway; what was committed before then stands.
    """
    address = parse_mailbox_url(url if url is not None else current_app.config[SETTING])
    report = PollReport(mailbox=str(address))
    session = _session(address)
    finished = False
    try:
        session.open()
        for ident, size in session.candidates():
            if report.new >= MAX_NEW_MESSAGES or report.fetched >= MAX_READ_MESSAGES:
                report.more_waiting = True
                break
            _read_and_file(session, ident, size, report)
        finished = True
        session.close(finished=True)
    except (*SESSION_ERRORS, LoginRefused) as error:
        log.warning("bounce mailbox poll stopped: %s", without_password(str(error), address))
        raise _unavailable(address, error, report) from None
    finally:
        if not finished:
            session.close(finished=False)
    log.info(report.summary())
    return report


def _read_and_file(session, ident: str, size: int, report: PollReport) -> None:
    """One message: read, store (committed), then file. A failure leaves it for the next poll."""
    try:
        if size > MAX_MESSAGE_BYTES:
            header = session.fetch_headers(ident)
            if header is None:
                return
            report.fetched += 1
            applied, destination = _keep_oversized(header, size), UNRECOGNISED
        else:
            raw = session.fetch(ident)
            if raw is None:
                return  # filed meanwhile by a poll running at the same time
            report.fetched += 1
            applied, destination = _store(raw)
        _count(report, applied)
        session.file(ident, destination)
    except SESSION_ERRORS:
        raise
    except FilingFailed as error:
        report.errors += 1
        log.warning("bounce mailbox: could not file message %s: %s", ident, error)
    except Exception:
        report.errors += 1
        log.exception(
            "bounce mailbox: message %s could not be stored; left for the next poll", ident
        )


def _store(raw: bytes) -> tuple[events.Applied, str]:
    """Sort one message and commit what it says; where it is to be filed."""
    parsed = reports.parse_report(raw)
    event = parsed.to_event(raw)
    if parsed.kind in events.ACTIONABLE:
        return events.apply(event), PROCESSED
    applied = events.record_unhandled(
        event.source, event.event_key, event.kind, event.raw, event.detail
    )
    return applied, UNRECOGNISED if parsed.kind == BounceKind.UNKNOWN else PROCESSED


def _keep_oversized(header: bytes, size: int) -> events.Applied:
    """Keep the header of a message too big to read; the message goes to a person."""
    header = header[:MAX_HEADER_BYTES]
    found = MESSAGE_ID.search(header)
    normalised = header.replace(b"\r\n", b"\n").strip()
    key = found.group(1).decode() if found else "sha256:" + hashlib.sha256(normalised).hexdigest()
    text = header.decode("utf-8", errors="replace").replace("\x00", "")
    detail = f"{size} bytes, over the {MAX_MESSAGE_BYTES} a poll reads: only its header was kept"
    return events.record_unhandled(SOURCE, f"oversized:{key}", BounceKind.UNKNOWN, text, detail)


def _count(report: PollReport, applied: events.Applied) -> None:
    if applied.replayed:
        report.replayed += 1
    elif applied.outcome == "unmatched":
        report.unmatched += 1
    elif applied.outcome == "ignored":
        report.ignored += 1
    elif applied.outcome == "kept":
        report.kept += 1
    else:
        report.applied += 1
