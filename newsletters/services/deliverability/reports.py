"""Sorting one email that arrived in the bounce mailbox: what it says happened, and to whom.

What it says happened (its kind, status and detail) is read by
:mod:`.report_verdicts`, where the rules for each kind of report are; this module
finds the reader it is about, and never raises: any error while reading yields
UNKNOWN, so a hostile or broken message is kept, never lost and never acted on.

The recipient address is only a hint (anyone can mail the bounce address);
what finds the reader is the signed VERP token, looked for in the report's
envelope headers, in the returned original's headers (attached, or quoted
below a bounce's "copy of the message" line), in Message-IDs, and in the
DSN and ARF fields that carry our return path.

Why our own parser and not flufl.bounce (Mailman's detectors, which does
install with pip): it returns only two sets of addresses (temporary and
permanent), with no status code or diagnostic, reads no ARF complaints and
no VERP token, and re-raises a detector's exception; every fact this module
returns would still have to be read here. The standard library's email package
already splits a delivery-status part into its field blocks.
"""

import hashlib
from dataclasses import dataclass

from newsletters.models.bounce import BounceKind
from newsletters.services.deliverability import report_reading as read
from newsletters.services.deliverability.events import BounceEvent
from newsletters.services.deliverability.report_verdicts import Verdict, read_verdict
from newsletters.services.mail.verp import find_tokens

MAX_DETAIL = 1000
MAX_TOKENS = 20
MAX_STORED_BYTES = 10 * 1024 * 1024
ENVELOPE_HEADERS = ("To", "Delivered-To", "X-Original-To", "Envelope-To", "Return-Path")


@dataclass(frozen=True)
class ParsedReport:
    """What one email in the bounce mailbox says: its kind, its key, and how to find the reader."""

    kind: BounceKind
    event_key: str  # the report's own Message-ID, else "sha256:<hex of the raw bytes>"
    email: str | None  # the failed recipient as reported, lower-cased; a hint only
    tokens: tuple[str, ...]  # VERP tokens found in the report and the original it returns
    message_ids: tuple[str, ...]  # the original's Message-ID, and those it replies to
    status: str  # "5.1.1", "4.2.2", "550", an ARF feedback type, or ""
    detail: str  # the Diagnostic-Code or a short summary, at most 1000 characters

    def to_event(self, raw: bytes) -> BounceEvent:
        """This report as an event from the mailbox, whose address alone is never trusted."""
        text = raw[:MAX_STORED_BYTES].decode("utf-8", "replace").replace("\x00", "\ufffd")
        return BounceEvent(
            source="mailbox",
            event_key=self.event_key,
            kind=self.kind,
            email=self.email,
            tokens=self.tokens,
            message_ids=self.message_ids,
            status=self.status,
            detail=self.detail,
            raw=text,
            trusted_email=False,
        )


def parse_report(raw: bytes) -> ParsedReport:
    """Sort one raw email from the bounce mailbox; never raises (unreadable is UNKNOWN)."""
    fallback = "sha256:" + hashlib.sha256(raw).hexdigest()
    try:
        message = read.parseable(raw)
        if message is None:
            return _unreadable(fallback, "more MIME parts than any report has")
        return _assemble(message, fallback, read_verdict(message))
    except Exception as exc:  # hostile input is kept for a person, never lost
        return _unreadable(fallback, f"the message could not be read ({type(exc).__name__})")


def _unreadable(event_key: str, why: str) -> ParsedReport:
    return ParsedReport(BounceKind.UNKNOWN, event_key, None, (), (), "", f"Unreadable: {why}")


def _assemble(message, fallback: str, verdict: Verdict) -> ParsedReport:
    original = verdict.original or read.original_headers(message)
    ids = read.message_ids(
        read.fields(original).get("message-id", ""),
        *read.headers(message, "In-Reply-To"),
        *read.headers(message, "References"),
    )
    envelope = [value for name in ENVELOPE_HEADERS for value in read.headers(message, name)]
    tokens: list[str] = []
    for text in (*envelope, *verdict.clues, original, *ids):
        tokens.extend(token for token in find_tokens(text) if token not in tokens)
    own_ids = read.message_ids(read.header(message, "Message-ID"))
    return ParsedReport(
        kind=verdict.kind,
        event_key=own_ids[0] if own_ids else fallback,
        email=verdict.email,
        tokens=tuple(tokens[:MAX_TOKENS]),
        message_ids=tuple(ids),
        status=verdict.status[:32],
        detail=read.clean(verdict.detail, MAX_DETAIL),
    )
