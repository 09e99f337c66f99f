"""Reading one report email safely: its headers, its fields, the original it quotes.

Everything here is bounded and linear in the size of the input, because the
bounce address is public and a report may be written by anyone. The standard
library's parser reads ``Content-*`` parameters in quadratic time (a 1 MB
Content-Type header takes minutes), so :func:`parseable` cuts such fields and
refuses messages with more parts than any report has; header values are read
raw (never through the structured header classes) and cut to a fixed size.
"""

import base64
import binascii
import quopri
import re
from email import policy
from email.header import decode_header, make_header
from email.message import Message
from email.parser import BytesParser

MAX_PARSED_BYTES = 2 * 1024 * 1024  # the parts a report is read from come first
MAX_PARTS = 1000  # lines that may open a MIME part; real reports have a handful
MAX_CONTENT_FIELD = 1024  # a Content-* header longer than this is cut
MAX_HEADER_VALUE = 16 * 1024
MAX_HEADERS = 1000
MAX_BLOCKS = 100  # field blocks read from one delivery-status part
MAX_IDS = 20

CONTENT_FIELD = re.compile(rb"(?im)^content-[a-z0-9-]*:[^\n]*\n(?:[ \t][^\n]*\n)*")
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
MESSAGE_ID = re.compile(r"<[^<>\s\x00-\x1f]{1,250}>")
FIELD_NAME = re.compile(r"[!-9;-~]{1,100}")  # RFC 5322 ftext
ADDRESS = re.compile(r"[^@\s<>()\[\],;:\\\"\x00-\x1f]{1,64}@[^@\s<>()\[\],;:\\\"\x00-\x1f]{1,253}")
# An enhanced status code (RFC 3463) not inside a dotted number such as an IP address.
ENHANCED_CODE = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
BASIC_CODE = re.compile(r"(?<![\d.])([245]\d\d)(?=[\s:-]|$)")
ORIGINAL_TYPES = {
    "message/rfc822",
    "message/global",
    "text/rfc822-headers",
    "message/rfc822-headers",
    "message/global-headers",
}
Fields = dict[str, str]


def _cut_content_field(match: re.Match) -> bytes:
    field = match.group(0)
    return field if len(field) <= MAX_CONTENT_FIELD else field[:MAX_CONTENT_FIELD] + b"\n"


def parseable(raw: bytes) -> Message | None:
    """The message, parsed from its first bytes with long ``Content-*`` fields cut; None when
    it has more parts than a report could."""
    window = raw[:MAX_PARSED_BYTES]
    if window.count(b"\n--") > MAX_PARTS:
        return None
    window = CONTENT_FIELD.sub(_cut_content_field, window)
    return BytesParser(policy=policy.default).parsebytes(window)


def clean(text: str, limit: int = MAX_HEADER_VALUE) -> str:
    """One line of printable text: undecodable bytes replaced, controls blanked, cut."""
    text = text[: limit * 4].encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return " ".join(CONTROL.sub(" ", text).split())[:limit]


def headers(message: Message, name: str) -> list[str]:
    """Every value of one header, raw (not parsed), unfolded and cut to a fixed size."""
    wanted = name.lower()
    found = []
    for number, (key, value) in enumerate(message.raw_items()):
        if number >= MAX_HEADERS:
            break
        if key.lower() == wanted:
            found.append(clean(str(value)))
    return found


def header(message: Message, name: str) -> str:
    """The first value of one header, or an empty string."""
    values = headers(message, name)
    return values[0] if values else ""


def decoded(value: str) -> str:
    """A header value with its RFC 2047 encoded words decoded (``=?utf-8?q?...?=``)."""
    try:
        return clean(str(make_header(decode_header(value))))
    except (ValueError, LookupError, UnicodeError, AssertionError):
        return value


def children(message: Message) -> list[Message]:
    """The direct parts of a multipart message; none for a single part."""
    payload = message.get_payload() if message.is_multipart() else None
    return [part for part in payload if isinstance(part, Message)] if payload else []


def text_of(part: Message) -> str:
    """A single part's content as text, whatever its transfer encoding and charset."""
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    try:
        return payload.decode(part.get_content_charset() or "utf-8", "replace")
    except LookupError:
        return payload.decode("utf-8", "replace")


def _decode_transfer(part: Message, text: str) -> str:
    encoding = header(part, "Content-Transfer-Encoding").lower()
    try:
        if encoding == "base64":
            return base64.b64decode(text.encode("ascii", "ignore")).decode("utf-8", "replace")
        if encoding == "quoted-printable":
            return quopri.decodestring(text.encode("utf-8", "surrogateescape")).decode(
                "utf-8", "replace"
            )
    except (binascii.Error, ValueError):
        return ""
    return text


def source_text(part: Message) -> str:
    """The text of a ``message/*`` part that holds header-like fields (delivery-status,
    feedback-report), rebuilt from how the parser split it and decoded if need be."""
    payload = part.get_payload()
    if not isinstance(payload, list):
        return text_of(part)
    chunks = []
    for block in payload[:MAX_BLOCKS]:
        if isinstance(block, Message):
            chunks.append("\n".join(f"{key}: {value}" for key, value in block.raw_items()))
            body = block.get_payload()
            if isinstance(body, str) and body.strip():
                chunks.append(body)
    return _decode_transfer(part, "\n\n".join(chunks))


def fields(text: str) -> Fields:
    """``Name: value`` lines (folded lines joined), keyed by lower-case name, first one kept."""
    found: Fields = {}
    current = None
    for line in text.splitlines()[: MAX_HEADERS * 4]:
        if line[:1] in (" ", "\t"):
            if current is not None and len(found[current]) < MAX_HEADER_VALUE:
                found[current] += " " + line.strip()
            continue
        name, colon, value = line.partition(":")
        name = name.strip().lower()
        current = None
        if colon and FIELD_NAME.fullmatch(name) and name not in found:
            found[name] = value.strip()
            current = name
    return {name: clean(value) for name, value in found.items()}


def field_blocks(part: Message) -> list[Fields]:
    """The blank-line separated blocks of fields in a delivery-status or feedback-report part."""
    blocks = re.split(r"\n[ \t]*\n", source_text(part).replace("\r\n", "\n"))
    return [found for block in blocks[:MAX_BLOCKS] if (found := fields(block))]


def header_section(text: str) -> str:
    """The header lines at the start of ``text`` (a quoted original), up to the first blank."""
    text = text.replace("\r\n", "\n").lstrip("\n")
    return text.split("\n\n", 1)[0][:MAX_PARSED_BYTES]


def original_headers(message: Message) -> str:
    """The header section of the original message a report returns (attached as
    message/rfc822 or text/rfc822-headers), or an empty string."""
    for part in children(message):
        kind = part.get_content_type()
        if kind not in ORIGINAL_TYPES:
            continue
        inner = part.get_payload()
        if isinstance(inner, list) and inner and isinstance(inner[0], Message):
            return "\n".join(f"{key}: {value}" for key, value in inner[0].raw_items())
        return header_section(text_of(part))
    return ""


def message_ids(*values: str) -> list[str]:
    """Every ``<...>`` Message-ID in the given header values, in order, once."""
    found: list[str] = []
    for value in values:
        for message_id in MESSAGE_ID.findall(value):
            if message_id not in found and len(found) < MAX_IDS:
                found.append(message_id)
    return found


def address(value: str) -> str | None:
    """The address in a recipient field (``rfc822; Ann@Example.com``), lower-cased; None when it
    is absent, redacted or not an address."""
    _, semicolon, rest = value.rpartition(";")
    candidate = (rest if semicolon else value).strip().strip("<>").strip()
    if "redacted" in candidate.lower() or not ADDRESS.fullmatch(candidate):
        return None
    local = candidate.rpartition("@")[0]
    if len(candidate) > 254 or set(local) <= set("xX*#.-_"):
        return None  # too long, or a local part masked out (xxxx@, ***@)
    return candidate.lower()


def smtp_code(text: str) -> str:
    """The most specific status code in a diagnostic text: ``5.1.1``, else ``550``, else ''."""
    if match := ENHANCED_CODE.search(text):
        return ".".join(match.groups())
    match = BASIC_CODE.search(text)
    return match.group(1) if match else ""
