"""Email as bytes on the wire: headers, multipart/alternative parts, DKIM.

A message template is rendered once and personalised per recipient as bytes,
which is what lets an issue go to many readers quickly; transactional mail
uses the same builder, so there is one way a message is made.
"""

import binascii
import functools
import re
import secrets
import unicodedata
from datetime import datetime
from email import policy
from email.headerregistry import Address
from email.utils import format_datetime, parseaddr
from pathlib import Path

import idna
from flask import current_app

from newsletters.config import site_domain
from newsletters.models import OutboxMessage
from newsletters.services.mail.links import READER_PLACEHOLDERS
from newsletters.services.mail.render import clean_header_text, subject_text

# Signed, so no relay can add, drop or alter them without breaking the signature.
DKIM_HEADERS = [
    b"from", b"to", b"subject", b"date", b"message-id", b"mime-version", b"content-type",
    b"list-id", b"list-unsubscribe", b"list-unsubscribe-post", b"feedback-id",
]  # fmt: skip
# Gmail's feedback loop: the SenderId, last of up to four fields, is 5 to 15 characters.
FEEDBACK_SENDER_LENGTH = (5, 15)


def smtp_address(address: str) -> tuple[str, bool]:
    """The address with its domain in ASCII (IDNA), and whether SMTPUTF8 is needed."""
    local, _, domain = address.rpartition("@")
    if domain.isascii():  # checked at signup; only an international domain needs IDNA
        return address, not local.isascii()
    try:
        ascii_domain = idna.encode(domain, uts46=True).decode("ascii")
    except idna.IDNAError:
        ascii_domain = domain
    return f"{local}@{ascii_domain}", not local.isascii()


def sender(name: str | None = None) -> Address:
    """``MAIL_DEFAULT_SENDER`` (optionally under another display name) as a safe address."""
    default_name, address = parseaddr(current_app.config["MAIL_DEFAULT_SENDER"])
    return Address(display_name=clean_header_text(name or default_name), addr_spec=address)


def list_id(local_part: str = "newsletters", name: str | None = None) -> str:
    """A List-Id on the site's domain, e.g. ``The Weekly <the-weekly.example.com>``."""
    return f"{name or current_app.config['SITE_NAME']} <{local_part}.{site_domain(current_app)}>"


def feedback_id(campaign: str, customer: str, mail_type: str) -> str:
    """Gmail's ``Feedback-ID: campaign:customer:mail type:SenderId``, with the site as sender.

    Gmail's Postmaster Tools count spam reports for each field, read from the
    right; the SenderId (from ``SITE_NAME``) stays the same for all our mail.
    No field names a reader: each is shared by a whole mailing.
    """
    low, high = FEEDBACK_SENDER_LENGTH
    words = _feedback_field(current_app.config["SITE_NAME"]).split("-")
    sender_id = "-".join(w for w in words if w) or "newsletters"
    if len(sender_id) > high:
        sender_id = sender_id.replace("-", "")[:high]
    if len(sender_id) < low:
        sender_id = f"{sender_id}-mail"
    fields = (campaign, customer, mail_type)
    return ":".join([*(_feedback_field(f) for f in fields), sender_id])


def _feedback_field(text: str) -> str:
    """Text as one field: ASCII letters, digits, dots, underscores and hyphens only."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9._]+", "-", ascii_text.lower()).strip("-")


def header_line(name: str, value: str, *, utf8: bool = False) -> bytes:
    """One header line. ASCII goes as is (URLs must never be encoded-words); other
    text is RFC 2047-encoded, or raw UTF-8 when the message travels with SMTPUTF8."""
    value = clean_header_text(value)
    if value.isascii():
        return f"{name}: {value}\r\n".encode("ascii")
    folding = policy.SMTPUTF8 if utf8 else policy.SMTP
    return folding.fold_binary(name, folding.header_factory(name, value))


def _quoted_printable(text: str) -> bytes:
    encoded = binascii.b2a_qp(text.encode("utf-8"), istext=True)
    return encoded.replace(b"\n", b"\r\n")


def _encoded_once(text: str) -> list[bytes | str]:
    """A body quoted-printable encoded, except its lines that hold a reader's links: those
    stay text, to be filled in and encoded for each reader.

    ``b2a_qp`` starts afresh at every line break (its soft breaks and the encoding of
    spaces at a line's end look no further than the line), so encoding the body a run
    of lines at a time gives the very bytes of encoding it whole.
    """
    if "\r" in text.replace("\r\n", ""):  # a stray CR may change how b2a_qp breaks lines
        return [text.replace("\r\n", "\n")]
    pieces: list[bytes | str] = []
    run: list[str] = []  # lines of the same kind, not yet added

    def close_run(personal: bool) -> None:
        if run:
            joined = "".join(run)
            pieces.append(joined if personal else _quoted_printable(joined))
            run.clear()

    personal = False
    for line in text.replace("\r\n", "\n").split("\n"):
        own = any(placeholder in line for placeholder in READER_PLACEHOLDERS)
        if own != personal:
            close_run(personal)
            personal = own
        run.append(line + "\n")
    run[-1] = run[-1][:-1]  # the last line has no break after it
    close_run(personal)
    return pieces


class MessageTemplate:
    """A message rendered once, then turned into wire bytes for each recipient.

    Everything common is encoded once, the bodies too. Per recipient only ``To``,
    ``Message-ID``, their own headers (``List-Unsubscribe``) and their own links
    change: the links are written into the text and HTML as placeholders, and only
    the lines that hold one are filled in and encoded here. The result is
    multipart/alternative, both parts quoted-printable UTF-8.
    """

    def __init__(
        self,
        *,
        subject: str,
        text: str,
        html: str,
        date: datetime,
        from_name: str | None = None,
        list_id_value: str | None = None,
        feedback_id_value: str | None = None,
        language: str | None = None,
    ) -> None:
        self.boundary = f"=_{secrets.token_hex(16)}"
        common = {
            "From": str(sender(from_name)),
            "Subject": subject_text(subject),  # whatever was stored, the line fits RFC 5322
            "Date": format_datetime(date),
            "List-Id": list_id_value or list_id(),
        }
        if feedback_id_value:
            common["Feedback-ID"] = feedback_id_value
        if language:  # RFC 3282: the language the reader reads this message in
            common["Content-Language"] = language.replace("_", "-")
        self.head = b"".join(header_line(name, value) for name, value in common.items())
        self.mime_head = (
            b'MIME-Version: 1.0\r\nContent-Type: multipart/alternative;\r\n boundary="'
            + self.boundary.encode()
            + b'"\r\n\r\n'
        )
        self.body = self._merged(
            [
                *self._part("plain", text),
                *self._part("html", html),
                f"--{self.boundary}--\r\n".encode(),
            ]
        )

    def _part(self, subtype: str, body: str) -> list[bytes | str]:
        head = (
            f'--{self.boundary}\r\nContent-Type: text/{subtype}; charset="utf-8"\r\n'
            "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        ).encode()
        return [head, *_encoded_once(body), b"\r\n"]

    @staticmethod
    def _merged(pieces: list[bytes | str]) -> list[bytes | str]:
        """Neighbouring encoded pieces as one, so a reader's message is a handful of joins."""
        merged: list[bytes | str] = []
        for piece in pieces:
            if merged and isinstance(piece, bytes) and isinstance(merged[-1], bytes):
                merged[-1] += piece
            else:
                merged.append(piece)
        return merged

    def render(
        self,
        to: str,
        message_id: str,
        *,
        headers: dict[str, str] | None = None,
        links: dict[str, str] | None = None,
    ) -> bytes:
        """The bytes for one recipient, DKIM-signed when a key is configured."""
        links = links or {}
        if not set(links) <= set(READER_PLACEHOLDERS):
            raise ValueError(
                f"not a reader's link: {sorted(set(links) - set(READER_PLACEHOLDERS))}"
            )
        address, needs_utf8 = smtp_address(to)
        raw = [
            self.head,
            header_line("To", address, utf8=needs_utf8),
            header_line("Message-ID", message_id),
            *(header_line(name, value) for name, value in (headers or {}).items()),
            self.mime_head,
        ]
        for piece in self.body:
            if isinstance(piece, str):
                for placeholder, url in links.items():
                    piece = piece.replace(placeholder, url)
                piece = _quoted_printable(piece)
            raw.append(piece)
        return dkim_sign(b"".join(raw))


def message_bytes(message: OutboxMessage) -> bytes:
    """An outbox message exactly as it goes over the wire."""
    headers = dict(message.headers or {})
    template = MessageTemplate(
        subject=message.subject,
        text=message.text_body,
        html=message.html_body,
        date=message.created_at,
        list_id_value=headers.pop("List-Id", None),
        feedback_id_value=feedback_id(str(message.kind), "", "transactional"),
    )
    return template.render(message.to_address, message.message_id, headers=headers)


def dkim_sign(raw: bytes) -> bytes:
    """Prepend a DKIM-Signature when ``DKIM_PRIVATE_KEY`` and ``DKIM_SELECTOR`` are set."""
    config = current_app.config
    if not (config["DKIM_PRIVATE_KEY"] and config["DKIM_SELECTOR"]):
        return raw
    domain = config["DKIM_DOMAIN"] or sender().domain
    signature = dkim_signer()(
        raw,
        config["DKIM_SELECTOR"].encode("ascii"),
        domain.encode("ascii"),
        _dkim_key(config["DKIM_PRIVATE_KEY"]),
        include_headers=DKIM_HEADERS,
    )
    return signature + raw


@functools.cache
def dkim_signer():
    """dkimpy's ``sign``, signing through OpenSSL: both are loaded with the first message
    signed, so a process that signs none (a cron command with nothing to do) never loads
    dkimpy, its DNS resolver or ``cryptography``."""
    from newsletters.services.mail import dkim_signing

    dkim_signing.install()
    return dkim_signing.dkim.sign


@functools.lru_cache(maxsize=4)
def _dkim_key(setting: str) -> bytes:
    """The PEM key itself, or read from the file the setting names."""
    if setting.lstrip().startswith("-----BEGIN"):
        return setting.strip().encode("ascii")
    return Path(setting).read_bytes()
