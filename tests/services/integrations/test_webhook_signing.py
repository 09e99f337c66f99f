"""Signatures any Standard Webhooks library accepts."""

import base64

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from newsletters.services.integrations import webhook_signing

# The example in the Standard Webhooks specification.
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_the_signature_of_the_specifications_example():
    assert webhook_signing.sign(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY) == SPEC_SIGNATURE


def test_a_new_secret_has_the_prefix_and_enough_random_bytes():
    secret = webhook_signing.new_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) >= 24
    assert secret != webhook_signing.new_secret()


def test_the_library_verifies_our_headers_and_refuses_a_changed_body():
    import time

    secret, now = webhook_signing.new_secret(), int(time.time())
    body = b'{"type":"issue.sent"}'
    headers = webhook_signing.headers(secret, "msg_1", now, body, "test")
    assert headers["Content-Type"] == "application/json"
    Webhook(secret).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(b'{"type":"issue.sent "}', headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(webhook_signing.new_secret()).verify(body, headers)
