"""What counts as an email address, and when two are the same reader."""

import pytest

from newsletters.errors import InvalidEmail
from newsletters.services.core.addresses import mask_email, normalize_email


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Reader@Example.COM ", "reader@example.com"),
        ("first.last+news@example.co.uk", "first.last+news@example.co.uk"),
        ("leser@bücher.example", "leser@bücher.example"),
        ("leser@xn--bcher-kva.example", "leser@bücher.example"),
        ("用户@例子.广告", "用户@例子.广告"),
    ],
)
def test_addresses_are_normalised(ctx, raw, expected):
    assert normalize_email(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "reader",
        "reader@",
        "@example.com",
        "a b@example.com",
        "reader@example",
        "x" * 250 + "@example.com",
        "reader@example.com\r\nBcc: victim@example.com",
    ],
)
def test_bad_addresses_are_refused(ctx, raw):
    with pytest.raises(InvalidEmail):
        normalize_email(raw)


def test_logs_see_only_a_masked_address():
    assert mask_email("reader@example.com") == "r***@example.com"
