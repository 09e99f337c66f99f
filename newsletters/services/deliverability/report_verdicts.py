"""What one email in the bounce mailbox says happened: its kind, status and detail.

How a report is sorted, in this order:

1. A ``multipart/report`` with a delivery-status part (RFC 3464) is read per
   recipient. The most telling recipient counts (failed, then delayed, then the
   rest). ``Action: failed`` with a permanent 5.x.x status is HARD when the
   code is about the address: 5.1.x (but not 5.1.7/5.1.8, which are about our
   sender address), 5.2.0, 5.2.1 (disabled), 5.4.1, 5.4.4 (no such host),
   5.5.0 (Exchange's "mailbox unavailable") and the bare 5.0.0. Every other
   5.x.x is SOFT: 5.2.2 (mailbox full) and 5.2.3, 5.3.x, 5.4.x, 5.6.x, and
   5.7.x, the policy and spam blocks: they reject the message, not the
   address, which is alive and takes other mail. ``failed`` with a 4.x.x
   status is SOFT (the remote gave up on a temporary failure). A bare x.0.0
   status yields to a more specific code of the same class in the
   Diagnostic-Code (Exim reports 5.0.0 with the real 5.1.1 beside it); with
   no Status at all the Diagnostic-Code's code decides, where a bare 552 is
   SOFT and any other 5xx HARD; ``failed`` with no code at all is SOFT.
   ``delayed`` is a WARNING (still queued); ``delivered``, ``relayed`` and
   ``expanded`` are a WARNING too, with a detail saying there is nothing to do.
2. A ``multipart/report`` with a feedback-report part (ARF, RFC 5965) is a
   COMPLAINT for the feedback types abuse, fraud, virus and other, with the
   type as status. ``not-spam``, ``auth-failure`` and anything else are
   UNKNOWN: kept for a person, nothing automatic.
3. A report whose machine-readable part is missing or unreadable, or a report
   of another type (read receipts), is UNKNOWN: it is kept, not guessed at.
4. A plain-text bounce counts only on strong evidence: From MAILER-DAEMON or
   postmaster, AND an ``X-Failed-Recipients`` header (Exim) or a clear
   failure phrase ("This is a permanent error", qmail's and Yahoo's "unable
   to deliver your message"). Its status code decides as above; with no code
   it is HARD, or SOFT when the server says it gave up retrying. A delay
   warning from the same servers is a WARNING. Without such evidence it is
   UNKNOWN.
5. An auto-reply (RFC 3834 ``Auto-Submitted`` other than ``no``,
   ``X-Autoreply``, ``X-Autorespond``, ``Precedence: auto_reply``, or a
   subject such as "Out of Office", "Automatic reply", "Abwesenheitsnotiz",
   "Respuesta automática") is AUTOREPLY. Bounces carry ``Auto-Submitted`` too,
   so this is asked only after the steps above, and never of a mail server.
6. Everything else is UNKNOWN: a person wrote to the bounce address, and the
   message must be kept.

Any error while reading yields UNKNOWN, so a hostile or broken message is kept,
never lost and never acted on. Only the first 2 MB are parsed (the parts a
report is read from come first; the rest is the original's body).
"""

import re
from dataclasses import dataclass

from newsletters.models.bounce import BounceKind
from newsletters.services.deliverability import report_reading as read

DSN_PARTS = ("message/delivery-status", "message/global-delivery-status")
COMPLAINT_TYPES = {"abuse", "fraud", "virus", "other"}
ACTION_RANK = {"failed": 0, "delayed": 1, "delivered": 2, "relayed": 2, "expanded": 2}
# 5.x.x codes that mean the address itself will never take mail (subject.detail).
HARD_DETAILS = {"0.0", "2.0", "2.1", "4.1", "4.4", "5.0"}
SENDER_ADDRESS_DETAILS = {"1.7", "1.8"}  # our own return path was refused, not the reader

DAEMON = re.compile(r"(?:^|<)\s*(?:mailer-daemon|postmaster)(?:@|>|\s|$)", re.I)
COPY_MARKER = re.compile(
    r"(?im)^[ \t]*-{2,}[^\n]{0,80}?(?:copy of the message|original message|below this line)"
)
PERMANENT = re.compile(
    r"permanent error|permanent fatal error|failed permanently|unable to deliver your message"
    r"|could not be delivered|user unknown|unknown user|no such user",
    re.I,
)
GAVE_UP = re.compile(r"retry timeout exceeded|retry time not reached|too long in the queue", re.I)
DELAYED = re.compile(
    r"has not yet been delivered|warning message only|delivery attempts will continue"
    r"|will keep trying|still being retried",
    re.I,
)
QUOTED_RECIPIENT = re.compile(r"(?m)^<([^<>\s]{1,254})>:")
AUTO_SUBJECT = re.compile(
    r"\s*(?:auto(?:matic)?[ -]?(?:reply|response)|autoreply|auto:|out of (?:the )?office"
    r"|abwesenheitsnotiz|automatische antwort|respuesta autom[aá]tica|r[ée]ponse automatique"
    r"|risposta automatica|automatisch antwoord)",
    re.I,
)


@dataclass(frozen=True)
class Verdict:
    """What a report says happened, and the text the reader's token may be in."""

    kind: BounceKind
    status: str = ""
    detail: str = ""
    email: str | None = None
    clues: tuple[str, ...] = ()  # more text our return path may be quoted in
    original: str = ""  # the header section of an original quoted in the text


def read_verdict(message) -> Verdict:
    """What this message says happened: the first of the rules above that fits it."""
    subject = read.decoded(read.header(message, "Subject"))
    if message.get_content_type() == "multipart/report":
        if dsn := _part(message, DSN_PARTS):
            return _from_dsn(dsn)
        if arf := _part(message, ("message/feedback-report",)):
            return _from_arf(arf)
        kind = message.get_param("report-type") or "none"
        detail = f"A report with no delivery-status or feedback part (type {kind}): {subject}"
        return Verdict(BounceKind.UNKNOWN, detail=detail)
    if DAEMON.search(read.header(message, "From")):
        return _from_plain_bounce(message, subject)
    if _is_auto_reply(message, subject):
        return Verdict(BounceKind.AUTOREPLY, detail=f"Automatic reply: {subject}")
    return Verdict(BounceKind.UNKNOWN, detail=f"Not a delivery report: {subject}")


def _part(message, types: tuple[str, ...]):
    return next((part for part in read.children(message) if part.get_content_type() in types), None)


def failure_kind(code: str) -> BounceKind:
    """HARD or SOFT for a delivery that failed with ``code`` (``5.1.1``, ``550`` or '')."""
    if not code.startswith("5"):
        return BounceKind.SOFT  # a temporary failure given up on, or no reason given
    if "." not in code:
        return BounceKind.SOFT if code == "552" else BounceKind.HARD
    _, subject, detail = code.split(".")
    about_address = subject == "1" and f"{subject}.{detail}" not in SENDER_ADDRESS_DETAILS
    hard = about_address or f"{subject}.{detail}" in HARD_DETAILS
    return BounceKind.HARD if hard else BounceKind.SOFT


def _status(block: read.Fields) -> str:
    status = read.smtp_code(block.get("status", ""))
    diagnostic = read.smtp_code(block.get("diagnostic-code", ""))
    if "." not in status:
        return diagnostic or status
    if status.endswith(".0.0") and "." in diagnostic and diagnostic[0] == status[0]:
        return diagnostic
    return status


def _action(block: read.Fields) -> str:
    words = block.get("action", "").lower().split()
    if words and words[0] in ACTION_RANK:
        return words[0]
    code = _status(block)
    return {"5": "failed", "4": "delayed", "2": "delivered"}.get(code[:1], "")


def _from_dsn(part) -> Verdict:
    blocks = read.field_blocks(part)
    about = {"final-recipient", "original-recipient", "action", "status"}
    recipients = [block for block in blocks if about & block.keys()]
    if not recipients:
        return Verdict(BounceKind.UNKNOWN, detail="A delivery report naming no recipient")
    chosen = min(recipients, key=lambda block: ACTION_RANK.get(_action(block), 3))
    action, status = _action(chosen), _status(chosen)
    email = read.address(chosen.get("original-recipient", "")) or read.address(
        chosen.get("final-recipient", "")
    )
    clues = tuple(value for block in blocks if block not in recipients for value in block.values())
    diagnostic = chosen.get("diagnostic-code", "")
    if action == "failed":
        kind, summary = failure_kind(status), "Delivery failed"
    elif action == "delayed":
        kind, summary = BounceKind.WARNING, "Delivery delayed: the message is still queued"
    elif action:
        kind = BounceKind.WARNING
        summary = f"Delivery notice ({action}): nothing failed, nothing to do"
    else:
        kind, summary = BounceKind.UNKNOWN, "A delivery report that says neither what nor why"
    detail = f"{summary}. {diagnostic}" if action != "failed" else diagnostic or summary
    return Verdict(kind, status, detail, email, clues)


def _from_arf(part) -> Verdict:
    blocks = read.field_blocks(part)
    report = blocks[0] if blocks else {}
    words = report.get("feedback-type", "").lower().split()
    feedback = words[0] if words else ""
    kind = BounceKind.COMPLAINT if feedback in COMPLAINT_TYPES else BounceKind.UNKNOWN
    reporter = report.get("user-agent") or report.get("reporting-mta") or "an unnamed reporter"
    detail = f"Feedback report ({feedback or 'no type'}) from {reporter}"
    if kind == BounceKind.UNKNOWN:
        detail += ": not a complaint, kept for a person"
    clues = (report.get("original-mail-from", ""), report.get("original-envelope-id", ""))
    return Verdict(kind, feedback, detail, read.address(report.get("original-rcpt-to", "")), clues)


def _first_text(message) -> str:
    if not message.is_multipart():
        return read.text_of(message) if message.get_content_maintype() == "text" else ""
    for part in read.children(message):
        if part.get_content_type() == "text/plain":
            return read.text_of(part)
        if part.get_content_type() == "multipart/alternative":
            return _first_text(part)
    return ""


def _from_plain_bounce(message, subject: str) -> Verdict:
    text = _first_text(message)
    marker = COPY_MARKER.search(text)
    failure = text[: marker.start()] if marker else text
    quoted = read.header_section(text[marker.end() :].partition("\n")[2]) if marker else ""
    failed = read.headers(message, "X-Failed-Recipients")
    if not failed and (DELAYED.search(failure) or subject.lower().startswith("warning:")):
        detail = f"Delivery delayed: {subject}"
        return Verdict(BounceKind.WARNING, read.smtp_code(failure), detail, original=quoted)
    if not failed and not PERMANENT.search(failure):
        detail = f"A message from a mail server that reports no failure: {subject}"
        return Verdict(BounceKind.UNKNOWN, detail=detail, original=quoted)
    code = read.smtp_code(failure)
    if code:
        kind = failure_kind(code)
        line = next((line for line in failure.splitlines() if code in line), failure)
    else:
        kind = BounceKind.SOFT if GAVE_UP.search(failure) else BounceKind.HARD
        line = failure
    if failed:
        email = read.address(failed[0].split(",")[0])
    else:
        quoted_recipient = QUOTED_RECIPIENT.search(failure)
        email = read.address(quoted_recipient.group(1)) if quoted_recipient else None
    return Verdict(kind, code, line, email, original=quoted)


def _is_auto_reply(message, subject: str) -> bool:
    submitted = read.header(message, "Auto-Submitted").split(";")[0].strip().lower()
    if submitted and submitted != "no":
        return True
    if any(read.headers(message, name) for name in ("X-Autoreply", "X-Autorespond")):
        return True
    if read.header(message, "Precedence").lower() == "auto_reply":
        return True
    return AUTO_SUBJECT.match(subject) is not None
