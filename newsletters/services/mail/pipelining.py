"""SMTP commands in groups (RFC 2920 PIPELINING), and the outcome of a submitted message.

A group is written at once when the server offers PIPELINING, and command by
command otherwise; either way every reply is read, in order, and handed to its
command's check. RFC 2920 lets only the last command of a group (here DATA)
change what the client must do next, and lets the end of a message's content,
and RSET, lead a group: so a group is ``[.] [RSET] MAIL RCPT DATA``.
"""

import re
import smtplib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from newsletters.services.mail.smtp import DeliveryError

DOT_AT_LINE_START = re.compile(rb"(?m)^\.")


@dataclass(frozen=True, slots=True)
class Settled:
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


class Group:
    """Commands whose replies are read in order, each given to its check.

    Pipelined, the whole group goes in one write and every reply is read, even after
    a refusal. Otherwise each command waits for the previous reply, and a command
    whose ``unless`` says so (the rest of a refused transaction) is not sent at all.
    """

    def __init__(self, connection: smtplib.SMTP, pipelined: bool) -> None:
        self.connection = connection
        self.pipelined = pipelined
        self.steps: list[tuple[bytes, Callable, Callable[[], bool] | None]] = []

    def add(self, line: bytes, check: Callable, unless: Callable[[], bool] | None = None) -> None:
        """A command (with its CRLF) and the check of its reply, ``check(code, text)``."""
        self.steps.append((line, check, unless))

    def run(self) -> Iterator:
        """Send, read and check; yields what the checks return, as soon as they return it."""
        if self.pipelined:
            self.connection.send(b"".join(line for line, _, _ in self.steps))
        for line, check, unless in self.steps:
            if not self.pipelined:
                if unless is not None and unless():
                    continue
                self.connection.send(line)
            if (result := check(*self.connection.getreply())) is not None:
                yield result


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
