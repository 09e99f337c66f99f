"""SMTP commands in groups (RFC 2920 PIPELINING), and the outcome of a submitted message.

A group is written at once when the server offers PIPELINING, and command by
command otherwise; either way every reply is read, in order, and handed to its
command's check. RFC 2920 lets only the last command of a group (here DATA)
change what the client must do next, and lets the end of a message's content,
and RSET, lead a group: so a group is ``[.] [RSET] MAIL RCPT DATA``.
"""

import re
import smtplib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from newsletters.services.mail.smtp import DeliveryError

DOT_AT_LINE_START = re.compile(rb"(?m)^\.")


class Settled(NamedTuple):
    """What became of one submitted message: sent when ``error`` is None.

    ``key`` is whatever the caller named the message with (a delivery id, say).
    """

    key: object
    error: "DeliveryError | None" = None


@dataclass(slots=True)
class Submitted:
    """A message on its way: its key, its recipient's domain, and its first refusal."""

    key: object
    domain: str
    error: "DeliveryError | None" = None


class Step(NamedTuple):
    """One command of a group: its line (with its CRLF), the check of its reply,
    ``check(message, code, reply)``, the message it belongs to, and whether it goes
    unsaid once that message was refused (which only one by one can do)."""

    line: bytes
    check: Callable
    message: Submitted | None = None
    only_if_accepted: bool = False


def run_group(connection: smtplib.SMTP, pipelined: bool, steps: list[Step], results: list) -> None:
    """Send a group's commands, read their replies in order and check each one.

    Pipelined, the whole group goes in one write and every reply is read, even after
    a refusal. Otherwise each command waits for the previous reply. Whatever a check
    returns is appended to ``results`` at once, so what is known survives a failure
    later in the group.
    """
    if pipelined:
        connection.send(b"".join([step.line for step in steps]))
    for line, check, message, only_if_accepted in steps:
        if not pipelined:
            if only_if_accepted and message.error is not None:
                continue
            connection.send(line)
        if (result := check(message, *connection.getreply())) is not None:
            results.append(result)


def content(raw: bytes) -> bytes:
    """A message as DATA sends it, dot-stuffed and ending in CRLF, without the final dot.

    ``smtplib``'s ``sendmail`` regex-scans the whole message for lines to dot-stuff
    on every message: that was half the client's CPU in a 20,000-reader issue.
    Quoted-printable bodies almost never start a line with a dot, so this only
    stuffs when one does.
    """
    if raw.startswith(b".") or b"\n." in raw:
        raw = DOT_AT_LINE_START.sub(b"..", raw)
    if not raw.endswith(b"\r\n"):
        raw += b"\r\n"
    return raw
