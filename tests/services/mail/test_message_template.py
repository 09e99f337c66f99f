"""A message template encodes its bodies once and each reader's links per reader: the
reader gets the very bytes, and the very text, that encoding the whole body would give."""

import binascii
import email
import random
from datetime import UTC, datetime
from email import policy

import pytest

from newsletters.services.mail.links import (
    PREFERENCES_PLACEHOLDER,
    UNSUBSCRIBE_PLACEHOLDER,
    VIEW_PLACEHOLDER,
)
from newsletters.services.mail.mime import MessageTemplate

LINKS = {
    UNSUBSCRIBE_PLACEHOLDER: "https://news.test/unsubscribe/.eJwNyrkNgDAMAMBdXGM" + "x" * 90,
    PREFERENCES_PLACEHOLDER: "https://news.test/preferences/eyJzIjoiYWJjIn0.Z0x-_w.sig=",
    VIEW_PLACEHOLDER: "https://news.test/read/eyJzIjoiYWJjIn0.Z0x-_w.c2ln",
}
LONG = "A line far longer than seventy-six characters, so that it must be broken softly " * 3

BODIES = [
    f"Hello\n\nUnsubscribe: {UNSUBSCRIBE_PLACEHOLDER}\nPreferences: {PREFERENCES_PLACEHOLDER}",
    f"{LONG}{UNSUBSCRIBE_PLACEHOLDER}{LONG}\n{LONG}",  # a link in the middle of a long line
    f"{PREFERENCES_PLACEHOLDER}\n.\n. \nends with spaces   \n\t\n{VIEW_PLACEHOLDER}",
    f"crlf line endings\r\n{UNSUBSCRIBE_PLACEHOLDER}\r\nlast line\r\n",
    f'é = ü 🎉 {"ø" * 40}\n<a href="{UNSUBSCRIBE_PLACEHOLDER}">x</a>{"é" * 40}\n',
    f"{'=' * 30}{VIEW_PLACEHOLDER}{' ' * 80}\n{VIEW_PLACEHOLDER} \n",
    "no links at all\n" + LONG,
    f"a stray \r carriage return\r\r\n{UNSUBSCRIBE_PLACEHOLDER}\r\n",
    "",
]


def random_body(rng: random.Random) -> str:
    pieces = ["a", "word ", " ", "\t", "\n", "\r\n", ".", "=", "é", "🎉", "x" * 70, *LINKS]
    return "".join(rng.choice(pieces) for _ in range(rng.randint(0, 120)))


def filled(body: str) -> str:
    for placeholder, url in LINKS.items():
        body = body.replace(placeholder, url)
    return body


def encoded_whole(body: str) -> bytes:
    """The body encoded in one go, as a message was made before."""
    return binascii.b2a_qp(body.replace("\r\n", "\n").encode(), istext=True).replace(b"\n", b"\r\n")


def parts(raw: bytes) -> list[bytes]:
    """The encoded bodies of the message's two parts, as sent."""
    boundary = email.message_from_bytes(raw).get_boundary().encode()
    sections = raw.split(b"--" + boundary)[1:3]
    return [section.split(b"\r\n\r\n", 1)[1][: -len(b"\r\n")] for section in sections]


@pytest.fixture
def bodies():
    rng = random.Random(2920)
    return BODIES + [random_body(rng) for _ in range(300)]


def test_each_reader_gets_the_bytes_of_a_body_encoded_whole(app, bodies):
    with app.app_context():
        for text, html in zip(bodies, reversed(bodies), strict=True):
            template = MessageTemplate(
                subject="The Weekly", text=text, html=html, date=datetime.now(UTC)
            )
            raw = template.render("reader@example.com", "<1@news.test>", links=LINKS)
            assert parts(raw) == [encoded_whole(filled(text)), encoded_whole(filled(html))]


def test_each_reader_reads_their_own_links_in_both_parts(app, bodies):
    with app.app_context():
        # A stray CR reads back as a line break: the test above covers those bodies.
        for text in (body for body in bodies if "\r" not in body.replace("\r\n", "")):
            html = f"<p>{text}</p>"
            template = MessageTemplate(subject="Hi", text=text, html=html, date=datetime.now(UTC))
            for reader in range(2):
                links = {placeholder: f"{url}/{reader}" for placeholder, url in LINKS.items()}
                raw = template.render(
                    f"r{reader}@example.com", f"<{reader}@news.test>", links=links
                )
                message = email.message_from_bytes(raw, policy=policy.default)
                # Lines end in CRLF on the wire.
                plain, rich = (
                    part.get_content().replace("\r\n", "\n") for part in message.iter_parts()
                )
                expected = text.replace("\r\n", "\n")
                for placeholder, url in links.items():
                    expected = expected.replace(placeholder, url)
                assert plain == expected
                assert rich == f"<p>{expected}</p>"
                assert message["To"] == f"r{reader}@example.com"


def test_a_link_that_is_not_a_reader_s_is_refused(app):
    with app.app_context():
        template = MessageTemplate(subject="Hi", text="t", html="h", date=datetime.now(UTC))
        with pytest.raises(ValueError):
            template.render("r@example.com", "<1@news.test>", links={"__OTHER__": "x"})
