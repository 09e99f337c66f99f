"""An issue wears its newsletter's branding: the logo at the top, the accent colour, and the
footer text above the unsubscribe links; and only ever values that pass the rules."""

import re

import pytest
from sqlalchemy import update

from newsletters.extensions import db
from newsletters.models import Newsletter
from newsletters.services.branding import DEFAULT_ACCENT
from tests.support.admin import action_token
from tests.support.mail import html_of, text_of
from tests.support.readers import add_readers

LOGO = "https://cdn.example.com/brand/weekly-logo.png?v=2&size=96"
ACCENT = "#c0392b"
FOOTER = 'Fish & Chips Media Ltd, 1 High Street.\r\nWe <3 "our" readers > all. &copy; &lt;b&gt;'


@pytest.fixture
def settings(settings, smtp_server):
    settings.update(smtp_server.settings())
    return settings


def _save_branding(app, client, weekly, **branding) -> None:
    """Save the newsletter's form in the console, as an admin would."""
    with app.app_context():
        key = str(db.session.get(Newsletter, weekly).uuid)
    form = {"name": "The Weekly", "slug": "the-weekly", "cadence": "weekly", "send_day": "mon",
            "send_hour": "8", "public": "y", "archive": "y", **branding}  # fmt: skip
    saved = client.post(
        f"/admin/newsletters/{key}/edit", data={"csrf_token": action_token(client), **form}
    )
    assert saved.status_code == 302, saved.get_data(as_text=True)


def _styles_of(html: str, css_class: str) -> str:
    """The inline style of the first element with this class (css-inline put it there)."""
    found = re.search(rf'<[^>]*class="{css_class}"[^>]*style="([^"]*)"', html)
    assert found, f"no .{css_class} with a style in the email"
    return found[1]


def test_the_issue_carries_the_logo_the_accent_and_the_footer_text(
    app, owner, runner, smtp_server, weekly
):
    _save_branding(app, owner, weekly, logo_url=LOGO, accent="#C0392B", footer=FOOTER)
    add_readers(app, weekly, 2)
    assert runner.invoke(args=["digest", "send"]).exit_code == 0
    message = smtp_server.messages[0]
    html, text = html_of(message), text_of(message).replace("\r\n", "\n")

    logo = re.search(r'<img class="masthead__logo"[^>]*>', html)
    assert logo, "no logo at the top of the issue"
    assert 'src="https://cdn.example.com/brand/weekly-logo.png?v=2&amp;size=96"' in logo[0]
    assert 'alt="The Weekly"' in logo[0] and 'height="48"' in logo[0]
    assert html.index("masthead__logo") < html.index("Story number 0")

    assert ACCENT in _styles_of(html, "container")  # the rule along the top
    assert ACCENT in _styles_of(html, "kicker")  # the date line
    assert html.count(ACCENT) >= 2 + 3  # and each story's "Read the story" link
    assert DEFAULT_ACCENT not in html

    footer = html[html.index('class="footer"') :]
    assert "Fish &amp; Chips Media Ltd, 1 High Street.<br>We &lt;3" in footer
    assert "readers &gt; all." in footer and "<3" not in html
    assert "all. &amp;copy; &amp;lt;b&amp;gt;" in footer  # the reader sees what was typed
    assert footer.index("Fish &amp; Chips") < footer.index("Unsubscribe from The Weekly")

    plain = 'Fish & Chips Media Ltd, 1 High Street.\nWe <3 "our" readers > all. &copy; &lt;b&gt;'
    assert plain in text and text.index(plain) < text.index("Unsubscribe from The Weekly")


def test_without_branding_the_issue_looks_as_it_always_did(app, runner, smtp_server, weekly):
    add_readers(app, weekly, 1)
    runner.invoke(args=["digest", "send"])
    html = html_of(smtp_server.messages[0])
    assert "<img" not in html and DEFAULT_ACCENT in _styles_of(html, "kicker")
    assert "brand-footer" not in html


@pytest.mark.parametrize(
    "stored",
    [
        {"brand_accent": "</style"},  # 7 characters: what the column holds
        {"brand_accent": "red;x:y"},
        {"brand_accent": "#FFF;}{"},
        {"brand_logo_url": "javascript:alert(1)"},
        {"brand_logo_url": 'https://cdn.example.com/"><script>alert(1)</script>'},
        {"brand_logo_url": "http://cdn.example.com/logo.png"},
        {"brand_footer": "<script>alert(1)</script>"},
        {"brand_footer": "Ring the \x07bell"},
    ],
)
def test_a_value_stored_past_the_rules_never_reaches_the_email(
    app, runner, smtp_server, weekly, stored
):
    with app.app_context():
        db.session.execute(update(Newsletter).values(**stored))  # past every check
        db.session.commit()
    add_readers(app, weekly, 1)
    assert runner.invoke(args=["digest", "send"]).exit_code == 0
    message = smtp_server.messages[0]
    html, text = html_of(message), text_of(message)
    value = next(iter(stored.values()))
    assert value not in html and value not in text
    assert "<script" not in html and "<img" not in html and "brand-footer" not in html
    assert DEFAULT_ACCENT in _styles_of(html, "kicker")  # the default instead
    assert "Read the story" in html  # the issue itself is whole
