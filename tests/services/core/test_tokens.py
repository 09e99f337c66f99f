"""Link tokens: one salt per purpose, expiry for confirm links, key rotation."""

import time

import pytest

from newsletters.errors import ExpiredToken, InvalidToken
from newsletters.services.core.tokens import Purpose, make_token, read_token
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
