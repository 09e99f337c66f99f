"""A newsletter's branding rules: a logo, an accent and a footer that carry no markup or CSS,
refused with the field's name when saved, and checked again whenever they are shown."""

import pytest
from sqlalchemy import select

from newsletters.errors import InvalidInput
from newsletters.extensions import db
from newsletters.models import Newsletter
from newsletters.services import branding, newsletter_settings
from newsletters.services.newsletter_settings import NewsletterInput

REFUSED_LOGOS = [
    ("http://cdn.example.com/logo.png", "https://"),
    ("javascript:alert(1)", "https://"),
    ("data:image/png;base64,iVBORw0KGgo=", "https://"),
    ("//cdn.example.com/logo.png", "https://"),
    ('https://x/a"onerror=alert(1)', "quotes"),
    ("https://x/a'onerror=alert(1)", "quotes"),
    ("https://x/a><script>alert(1)</script>", "angle brackets"),
    ("https://cdn.example.com/my logo.png", "spaces"),
    ("https://cdn.example.com/lo\ngo.png", "spaces"),
    ("https://cdn.example.com/\x00logo.png", "spaces"),
    ("https://cdn.example.com/\\logo.png", "special characters"),
    ("https://cdn.example.com/lógo.png", "special characters"),
    ("https://editor:secret@cdn.example.com/logo.png", "user name or password"),
    ("https:///logo.png", "names its host"),
    ("https://-/logo.png", "names its host"),
    ("https://cdn.example.com:http/logo.png", "cannot be read"),
    ("https://cdn.example.com/" + "a" * 2048, "at most 2048 characters"),
]
ACCEPTED_LOGOS = [
    "https://cdn.example.com/logo.png",
    "HTTPS://CDN.EXAMPLE.COM/Logo.PNG",
    "https://cdn.example.com:8443/brand/logo@2x.png?v=3&size=96#top",
    "https://203.0.113.7/logo.svg",
    "https://cdn.example.com/caf%C3%A9/logo.png",
]
REFUSED_ACCENTS = [
    "#fff",
    "red",
    "#12345g",
    "0b4f8a",
    "#0b4f8a0",
    "#0b4f8a;background:url(x)",
    "</style><script>alert(1)</script>",
    "rgb(1,2,3)",
    "#１２３４５６",  # full-width digits
]
REFUSED_FOOTERS = [
    ("<script>alert(1)</script>", "HTML tags"),
    ("Printed on <b>recycled</b> electrons", "HTML tags"),
    ("<!-- a comment -->", "HTML tags"),
    ("</style>", "HTML tags"),
    ("Two\tcolumns", "tabs and other controls"),
    ("Ring the \x07bell", "tabs and other controls"),
    ("Turned \u202earound", "tabs and other controls"),  # a right-to-left override
    ("x" * 1001, "at most 1,000 characters"),
]


@pytest.mark.parametrize(("url", "reason"), REFUSED_LOGOS)
def test_a_logo_is_an_https_url_with_nothing_that_could_leave_its_attribute(url, reason):
    with pytest.raises(InvalidInput) as refused:
        branding.clean_logo_url(url)
    assert reason in refused.value.message
    assert refused.value.field == "logo_url"


@pytest.mark.parametrize("url", ACCEPTED_LOGOS)
def test_an_ordinary_https_logo_url_is_kept_as_typed(url):
    assert branding.clean_logo_url(f"  {url} ") == url


def test_an_empty_logo_url_means_no_logo():
    assert branding.clean_logo_url("   ") is None
    assert branding.clean_logo_url(None) is None


@pytest.mark.parametrize("accent", REFUSED_ACCENTS)
def test_an_accent_is_exactly_six_hexadecimal_digits(accent):
    with pytest.raises(InvalidInput) as refused:
        branding.clean_accent(accent)
    assert "#0b4f8a" in refused.value.message and refused.value.field == "accent"


def test_an_accent_is_stored_in_lower_case_and_the_default_as_no_choice():
    assert branding.clean_accent(" #C0392B ") == "#c0392b"
    assert branding.clean_accent("#0B4F8A") is None  # what a colour picker left alone sends
    assert branding.clean_accent("") is None


@pytest.mark.parametrize(("footer", "reason"), REFUSED_FOOTERS)
def test_a_footer_is_plain_text(footer, reason):
    with pytest.raises(InvalidInput) as refused:
        branding.clean_footer(footer)
    assert reason in refused.value.message and refused.value.field == "footer"


def test_a_footer_keeps_its_lines_and_what_plain_text_may_say():
    typed = "  Fish & Chips Ltd, 1 High St.\r\nWe <3 “our” readers > all 👩‍💻\r\n"
    kept = "Fish & Chips Ltd, 1 High St.\nWe <3 “our” readers > all 👩‍💻"
    assert branding.clean_footer(typed) == kept
    assert branding.clean_footer("x" * 1000) == "x" * 1000


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        ({}, ("the default", None, "#0b4f8a", "")),
        (
            {"brand_logo_url": "https://cdn.example.com/l.png", "brand_accent": "#C0392B",
             "brand_footer": "Line one\nLine two"},
            ("all of it", "https://cdn.example.com/l.png", "#c0392b", "Line one\nLine two"),
        ),
        (
            {"brand_logo_url": "javascript:alert(1)", "brand_accent": "red;x:y",
             "brand_footer": "<script>alert(1)</script>"},
            ("the default for each", None, "#0b4f8a", ""),
        ),
    ],
)  # fmt: skip
def test_what_is_shown_is_checked_again_and_falls_back_to_the_default(stored, shown):
    brand = branding.brand_of(Newsletter(slug="x", name="X", **stored))
    assert (brand.logo_url, brand.accent, brand.footer) == shown[1:]


def _form(**fields) -> NewsletterInput:
    return NewsletterInput(slug="the-weekly", name="The Weekly", **fields)


def _stored(app) -> tuple:
    with app.app_context():
        n = db.session.scalar(select(Newsletter).filter_by(slug="the-weekly"))
        return n.brand_logo_url, n.brand_accent, n.brand_footer, n.web_archive


def test_the_catalogue_saves_branding_and_refuses_a_bad_value_leaving_everything(app):
    with app.app_context():
        created = newsletter_settings.create_newsletter(
            _form(logo_url="https://cdn.example.com/logo.png", accent="#C0392B",
                  footer="Published by Example Media.\r\nReply to write to us.", archive=False)
        )  # fmt: skip
        key = str(created.uuid)
    saved = ("https://cdn.example.com/logo.png", "#c0392b", "Published by Example Media.\n"
             "Reply to write to us.", False)  # fmt: skip
    assert _stored(app) == saved
    for bad in (
        {"logo_url": "http://cdn.example.com/logo.png"},
        {"accent": "#fff"},
        {"footer": "<script>alert(1)</script>"},
    ):
        good = {"logo_url": saved[0], "accent": saved[1], "footer": saved[2], "archive": True}
        with app.app_context(), pytest.raises(InvalidInput) as refused:
            newsletter_settings.update_newsletter(key, _form(**{**good, **bad}))
        assert refused.value.field == next(iter(bad))
        assert _stored(app) == saved  # archive=True was refused along with the rest
    with app.app_context():
        newsletter_settings.update_newsletter(key, _form(logo_url="", accent="", footer=""))
    assert _stored(app) == (None, None, "", True)


@pytest.mark.parametrize(
    ("accent", "readable"),
    [("#c0392b", True), ("#767676", True), ("#777777", False), ("#ffdd00", False)],
)
def test_an_accent_too_light_to_read_links_in_is_refused_and_never_shown(app, accent, readable):
    with app.app_context():
        if readable:
            assert branding.clean_accent(accent) == accent
        else:
            with pytest.raises(InvalidInput, match="hard to read on white") as refused:
                branding.clean_accent(accent)
            assert refused.value.field == "accent" and "4.5:1" in refused.value.message
            # A stored one (from before the rule) falls back to the default colour.
            newsletter = Newsletter(slug="x", name="X", brand_accent=accent)
            assert branding.brand_of(newsletter).accent == branding.DEFAULT_ACCENT
