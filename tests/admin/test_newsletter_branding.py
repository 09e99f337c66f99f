"""The newsletter form's branding fieldset and archive switch: saved, shown again, shown as a
sample issue, and every value that could carry markup or CSS refused with a 400."""

import html
import re

import pytest
from sqlalchemy import select, update

from newsletters.extensions import db
from newsletters.models import AuditLog, Newsletter
from tests.support.admin import action_token

LOGO = "https://cdn.example.com/brand/logo.png?v=2&size=96"
FOOTER = "Published by Example Media Ltd, 1 High Street.\r\nWe <3 our readers & writers."
FORM = {"name": "The Weekly", "slug": "the-weekly", "cadence": "weekly", "send_day": "mon",
        "send_hour": "8", "public": "y"}  # fmt: skip
BRANDED = {"brand_logo_url": LOGO, "brand_accent": "#c0392b", "brand_footer": "Yours, the desk."}


def _post(client, path, **data):
    return client.post(path, data={"csrf_token": action_token(client), **data})


def _row(app, slug="the-weekly") -> tuple:
    with app.app_context():
        n = db.session.scalar(select(Newsletter).filter_by(slug=slug))
        return (n.name, n.brand_logo_url, n.brand_accent, n.brand_footer, n.web_archive)


def _key(app) -> str:
    with app.app_context():
        return str(db.session.scalar(select(Newsletter.uuid)))


def test_branding_and_the_archive_switch_are_saved_and_shown_again(app, owner):
    form = {**FORM, "logo_url": f" {LOGO} ", "accent": "#C0392B", "footer": FOOTER}
    created = _post(owner, "/admin/newsletters/new", **form)  # "archive" left unticked
    assert created.status_code == 302
    footer = "Published by Example Media Ltd, 1 High Street.\nWe <3 our readers & writers."
    assert _row(app) == ("The Weekly", LOGO, "#c0392b", footer, False)

    page = owner.get(f"/admin/newsletters/{_key(app)}/edit").get_data(as_text=True)
    assert f'value="{html.escape(LOGO)}"' in page
    assert re.search(r'<input[^>]*id="accent"[^>]*type="color"[^>]*value="#c0392b"', page)
    assert html.escape(footer, quote=False) in page and "We <3" not in page
    archive = re.search(r'<input[^>]*id="archive"[^>]*>', page)[0]
    assert "checked" not in archive
    assert "A private newsletter never appears in the archive" in page
    assert f'src="/admin/newsletters/{_key(app)}/sample"' in page

    _post(owner, f"/admin/newsletters/{_key(app)}/edit", **form, archive="y")
    assert _row(app)[4] is True
    page = owner.get(f"/admin/newsletters/{_key(app)}/edit").get_data(as_text=True)
    assert "checked" in re.search(r'<input[^>]*id="archive"[^>]*>', page)[0]


def test_the_sample_issue_shows_the_saved_logo_and_accent(app, owner):
    _post(owner, "/admin/newsletters/new", **FORM, logo_url=LOGO, accent="#c0392b", footer=FOOTER)
    sample = owner.get(f"/admin/newsletters/{_key(app)}/sample")
    assert sample.status_code == 200
    assert "img-src *" in sample.headers["Content-Security-Policy"]  # the logo may load
    body = sample.get_data(as_text=True)
    logo = re.search(r'<img class="masthead__logo"[^>]*>', body)
    assert logo and 'src="https://cdn.example.com/brand/logo.png?v=2&amp;size=96"' in logo[0]
    assert 'alt="The Weekly"' in body and "#c0392b" in body
    assert "We &lt;3 our readers &amp; writers." in body


def test_a_newsletter_without_branding_starts_from_the_default_colour(app, owner, weekly):
    page = owner.get(f"/admin/newsletters/{_key(app)}/edit").get_data(as_text=True)
    assert re.search(r'<input[^>]*id="accent"[^>]*value="#0b4f8a"', page)
    assert "checked" in re.search(r'<input[^>]*id="archive"[^>]*>', page)[0]
    saved = _post(owner, f"/admin/newsletters/{_key(app)}/edit", **FORM, accent="#0b4f8a")
    assert saved.status_code == 302
    assert _row(app)[1:3] == (None, None)  # still no choice: it follows the default


BAD = [
    ("logo_url", "http://cdn.example.com/logo.png", "starts with https://"),
    ("logo_url", "javascript:alert(1)", "starts with https://"),
    ("logo_url", "data:image/svg+xml,<svg onload=alert(1)>", "angle brackets"),
    ("logo_url", 'https://x/a"onerror=alert(1)', "quotes"),
    ("logo_url", "https://editor:secret@cdn.example.com/logo.png", "user name or password"),
    ("logo_url", "https://cdn.example.com/" + "a" * 2100, "at most 2048 characters"),
    ("accent", "#fff", "six hexadecimal digits"),
    ("accent", "red", "six hexadecimal digits"),
    ("accent", "#12345g", "six hexadecimal digits"),
    ("accent", "</style><script>alert(1)</script>", "six hexadecimal digits"),
    ("accent", "#c0392b;background:url(https://evil.example/x)", "six hexadecimal digits"),
    ("footer", "<script>alert(1)</script>", "HTML tags"),
    ("footer", "Bold <b>claims</b>", "HTML tags"),
    ("footer", "a\tb", "tabs and other controls"),
    ("footer", "x" * 1001, "at most 1,000 characters"),
]


@pytest.mark.parametrize(("field", "value", "reason"), BAD)
def test_a_value_that_could_carry_markup_or_css_is_refused_and_nothing_changes(
    app, owner, weekly, field, value, reason
):
    with app.app_context():
        db.session.execute(update(Newsletter).values(**BRANDED))
        db.session.commit()
    before = _row(app)
    good = {"logo_url": LOGO, "accent": "#c0392b", "footer": "Yours, the desk.", "archive": "y"}
    form = {**FORM, **good, "name": "Renamed", field: value}
    refused = _post(owner, f"/admin/newsletters/{_key(app)}/edit", **form)
    assert refused.status_code == 400
    page = refused.get_data(as_text=True)
    error = re.search(rf'<p class="field__error" id="{field}-error">([^<]*)</p>', page)
    assert error and reason in html.unescape(error[1])
    assert _row(app) == before
    assert "<script>alert" not in page and "<b>claims" not in page
    with app.app_context():
        assert db.session.scalar(select(AuditLog).filter_by(action="newsletter.update")) is None


def test_a_form_that_fails_its_own_checks_answers_400_too(app, owner, weekly):
    refused = _post(owner, f"/admin/newsletters/{_key(app)}/edit", **{**FORM, "name": ""})
    assert refused.status_code == 400
    assert _row(app)[0] == "The Weekly"
