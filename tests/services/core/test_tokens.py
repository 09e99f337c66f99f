"""Link tokens: one salt per purpose, expiry for confirm links, key rotation."""

import random
import time
import uuid

import pytest
from itsdangerous import TimestampSigner

from newsletters.errors import ExpiredToken, InvalidToken
from newsletters.services.core.tokens import (
    Purpose,
    TokenMaker,
    make_token,
    read_token,
    serializer,
)
from tests.support.tokens import tamper


def test_a_token_reads_back_for_its_own_purpose_only(app):
    with app.app_context():
        token = make_token(Purpose.PREFERENCES, {"s": "abc"})
        assert read_token(Purpose.PREFERENCES, token) == {"s": "abc"}
        for other in (Purpose.CONFIRM, Purpose.UNSUBSCRIBE, Purpose.SIGNUP_FORM):
            with pytest.raises(InvalidToken):
                read_token(other, token)


def test_a_tampered_token_is_refused(app):
    with app.app_context():
        token = make_token(Purpose.CONFIRM, {"s": "abc"})
        payload, rest = token.split(".", 1)
        with pytest.raises(InvalidToken):
            read_token(Purpose.CONFIRM, payload[:-2] + "xx." + rest)
        with pytest.raises(InvalidToken):
            read_token(Purpose.CONFIRM, tamper(token))


def test_confirm_links_expire(app):
    app.config["CONFIRM_TOKEN_MAX_AGE"] = 1
    with app.app_context():
        token = make_token(Purpose.CONFIRM, {"s": "abc"})
        time.sleep(2.1)
        with pytest.raises(ExpiredToken):
            read_token(Purpose.CONFIRM, token)


def test_old_links_survive_a_key_rotation(app):
    with app.app_context():
        old = make_token(Purpose.UNSUBSCRIBE, {"s": "abc"})
    app.config["SECRET_KEY_FALLBACKS"] = [app.config["SECRET_KEY"]]
    app.config["SECRET_KEY"] = "the-new-key"
    with app.app_context():
        assert read_token(Purpose.UNSUBSCRIBE, old) == {"s": "abc"}
        new = make_token(Purpose.UNSUBSCRIBE, {"s": "abc"})
    app.config["SECRET_KEY_FALLBACKS"] = []
    with app.app_context():
        assert read_token(Purpose.UNSUBSCRIBE, new) == {"s": "abc"}
        with pytest.raises(InvalidToken):
            read_token(Purpose.UNSUBSCRIBE, old)


SIGNED_AT = 1_764_590_000


class SignedAt(TimestampSigner):
    """itsdangerous's own signer, at a fixed second."""

    def get_timestamp(self) -> int:
        return SIGNED_AT


def reader_payloads(count: int):
    """What an issue's links name (readers, newsletters, issues), and odd payloads of every
    size, deflated or not."""
    rng = random.Random(17)
    for _ in range(count):
        reader = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        other = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        yield {"s": reader}
        yield {"s": reader, "n": other}
        yield {"s": reader, "n": None}
        yield {"s": reader, "i": other}
    for size in range(0, 240):
        yield {"s": "é" * (size // 2) + "a" * size}
        yield ["x" * size, size]
    for size in range(0, 600, 7):  # repeats ever further apart
        text = rng.randbytes(size).hex()
        yield {"s": text + text[:24]}


def test_a_token_maker_makes_the_very_tokens_itsdangerous_makes(app):
    app.config["SECRET_KEY_FALLBACKS"] = ["an-older-key"]
    with app.app_context():
        for purpose in (Purpose.PREFERENCES, Purpose.UNSUBSCRIBE, Purpose.VIEW):
            maker = TokenMaker(purpose, clock=lambda: SIGNED_AT + 0.9)
            reference = serializer(purpose)
            reference.signer = SignedAt
            made = [
                (maker.dumps(payload), reference.dumps(payload))
                for payload in reader_payloads(2000)
            ]
            assert [ours for ours, _ in made] == [theirs for _, theirs in made]
            # Both forms occur: deflated (a leading dot) and plain.
            assert {ours.startswith(".") for ours, _ in made} == {True, False}


def test_a_token_maker_s_tokens_read_back_and_keep_time(app):
    with app.app_context():
        maker = TokenMaker(Purpose.UNSUBSCRIBE)
        token = maker.dumps({"s": "abc", "n": "def"})
        assert read_token(Purpose.UNSUBSCRIBE, token) == {"s": "abc", "n": "def"}
        with pytest.raises(InvalidToken):
            read_token(Purpose.PREFERENCES, token)
        # The timestamp is the second it was made: an old one expires.
        app.config["LINK_TOKEN_MAX_AGE"] = 10
        old = TokenMaker(Purpose.UNSUBSCRIBE, clock=lambda: time.time() - 60).dumps({"s": "abc"})
        with pytest.raises(ExpiredToken):
            read_token(Purpose.UNSUBSCRIBE, old)
