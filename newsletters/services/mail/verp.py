"""The return path that names its message: ``bounces+<token>@BOUNCE_DOMAIN``.

A bounce goes to the envelope sender (``MAIL FROM``), so putting a signed token
naming the message there lets a report find its delivery, reader and issue
without trusting the report's body. The same token sits in the Message-ID of
issue emails, which is what a complaint report (whose recipient providers
redact) usually keeps.

A token is ``<kind><id in base 36>-<MAC>``: ``d`` for an issue's delivery row,
``o`` for an outbox message. The MAC is 80 bits of HMAC-SHA256 under a key
derived from ``SECRET_KEY`` (old keys in ``SECRET_KEY_FALLBACKS`` still read),
in lower-case base 32, because some mail servers fold the local part's case.
``bounces+d1z2-abcdefghijklmnop@`` is 29 characters: well inside the 64 that a
local part may have.
"""

import base64
import functools
import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import Literal
from uuid import UUID

from flask import current_app

from newsletters.config import site_domain

KINDS = {"d": "delivery", "o": "outbox"}
TOKEN = re.compile(r"(?<![0-9a-z])([do][0-9a-z]{1,13})-([a-z2-7]{16})(?![0-9a-z])")
LOCAL_PART_PREFIX = "bounces+"
MAC_BYTES = 10


@dataclass(frozen=True)
class MessageRef:
    """Which message a token names: an issue's delivery row or an outbox message."""

    kind: Literal["delivery", "outbox"]
    row_id: int


@functools.lru_cache(maxsize=8)
def _keyed(key: str) -> "hmac.HMAC":
    """An HMAC under the key derived from ``key``, to be copied for each token."""
    derived = hashlib.sha256(b"newsletters.verp\0" + key.encode("utf-8")).digest()
    return hmac.new(derived, digestmod=hashlib.sha256)


def _mac(key: str, body: str) -> str:
    mac = _keyed(key).copy()
    mac.update(body.encode("ascii"))
    return base64.b32encode(mac.digest()[:MAC_BYTES]).decode("ascii").lower()


def _keys() -> list[str]:
    config = current_app.config
    return [config["SECRET_KEY"], *config.get("SECRET_KEY_FALLBACKS", [])]


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if not number:
            return out


def _token(kind: str, row_id: int) -> str:
    body = f"{kind}{_base36(row_id)}"
    return f"{body}-{_mac(current_app.config['SECRET_KEY'], body)}"


def token_for_delivery(delivery_id: int) -> str:
    """The token naming one reader's copy of an issue."""
    return _token("d", delivery_id)


def token_for_outbox(outbox_id: int) -> str:
    """The token naming one outbox message (a confirmation, a welcome...)."""
    return _token("o", outbox_id)


def return_path(token: str) -> str | None:
    """The envelope sender carrying ``token``, or None when no bounce domain is set."""
    domain = current_app.config["BOUNCE_DOMAIN"]
    return f"{LOCAL_PART_PREFIX}{token}@{domain}" if domain else None


def delivery_message_id(issue_uuid: UUID | str, token: str) -> str:
    """The Message-ID of one reader's copy of an issue, from its token: the same on every retry."""
    return f"<{issue_uuid}.{token}@{site_domain(current_app)}>"


def read_token(token: str) -> MessageRef | None:
    """The message a token names, or None when it is malformed, forged or tampered with."""
    match = TOKEN.fullmatch(token.strip().lower())
    if match is None:
        return None
    body, mac = match.groups()
    if not any(hmac.compare_digest(_mac(key, body), mac) for key in _keys()):
        return None
    return MessageRef(kind=KINDS[body[0]], row_id=int(body[1:], 36))  # type: ignore[arg-type]


def find_tokens(text: str) -> list[str]:
    """Every token-shaped string in ``text`` (addresses, Message-IDs, headers), in order, once."""
    found: list[str] = []
    for body, mac in TOKEN.findall(text.lower()):
        token = f"{body}-{mac}"
        if token not in found:
            found.append(token)
    return found
