"""The development mailbox: where mail goes when no SMTP server is configured.

It is a Maildir under the instance folder, so the web server, the CLI and any
worker can all write to it safely, and ``/dev/mailbox`` can show it.
"""

import mailbox
import os
import re
from dataclasses import dataclass
from datetime import datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import parsedate_to_datetime

from flask import current_app

LINK_PATTERN = re.compile(r"https?://[^\s<>\"')]+")
KEY_TIME_PATTERN = re.compile(r"^(\d+)\.M(\d+)P")


@dataclass(frozen=True)
class StoredMail:
    """One message in the development mailbox."""

    key: str
    message: EmailMessage
    raw: bytes

    @property
    def date(self) -> datetime | None:
        """When the message says it was written."""
        value = self.message["Date"]
        return parsedate_to_datetime(value) if value else None

    def part(self, subtype: str) -> str:
        """The decoded text of the ``text/<subtype>`` alternative, or an empty string."""
        body = self.message.get_body(preferencelist=(subtype,))
        return body.get_content() if body is not None else ""

    @property
    def links(self) -> list[str]:
        """Every distinct http(s) link in the text part, so a developer can click through."""
        return list(dict.fromkeys(LINK_PATTERN.findall(self.part("plain"))))


def _maildir() -> mailbox.Maildir:
    """The mailbox, made if need be; two requests may be the first at the same moment."""
    path = current_app.config["DEV_MAILBOX_PATH"]
    for folder in ("tmp", "new", "cur"):
        # Maildir(create=True) fails when another thread creates the folder in between.
        os.makedirs(os.path.join(path, folder), exist_ok=True)
    return mailbox.Maildir(path, create=False)


def deliver(raw: bytes) -> str:
    """Store a message and return its key."""
    return _maildir().add(raw)


def _load(key: str, raw: bytes) -> StoredMail:
    message = message_from_bytes(raw, policy=policy.default)
    return StoredMail(key=key, message=message, raw=raw)  # type: ignore[arg-type]


def _delivery_order(key: str) -> tuple[int, int, str]:
    """Maildir keys start with the delivery time in seconds and microseconds."""
    match = KEY_TIME_PATTERN.match(key)
    return (int(match[1]), int(match[2]), key) if match else (0, 0, key)


def list_messages() -> list[StoredMail]:
    """Every stored message, newest first."""
    box = _maildir()
    keys = sorted(box.keys(), key=_delivery_order, reverse=True)
    return [_load(key, box.get_bytes(key)) for key in keys]


def get_message(key: str) -> StoredMail | None:
    """One message by key, or None when there is no such message."""
    box = _maildir()
    try:
        return _load(key, box.get_bytes(key))
    except KeyError:
        return None


def clear() -> None:
    """Remove every stored message."""
    box = _maildir()
    for key in list(box.keys()):
        box.discard(key)
