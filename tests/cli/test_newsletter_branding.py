"""flask newsletter add takes the branding and the archive switch, by the console's rules."""

from sqlalchemy import func, select

from newsletters.extensions import db
from newsletters.models import Newsletter


def _add(runner, *options):
    return runner.invoke(args=["newsletter", "add", "science", "--name", "Science", *options])


def test_a_newsletter_is_added_with_its_branding_and_without_an_archive(app, runner):
    result = _add(
        runner,
        "--logo-url", "https://cdn.example.com/science.png",
        "--accent", "#1E6B3A",
        "--footer", "Science is published by Example Media.\nReply to write to us.",
        "--no-archive",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    with app.app_context():
        n = db.session.scalar(select(Newsletter))
        assert (n.brand_logo_url, n.brand_accent, n.brand_footer, n.web_archive) == (
            "https://cdn.example.com/science.png",
            "#1e6b3a",
            "Science is published by Example Media.\nReply to write to us.",
            False,
        )


def test_without_the_options_there_is_no_branding_and_an_archive(app, runner):
    assert _add(runner).exit_code == 0
    with app.app_context():
        n = db.session.scalar(select(Newsletter))
        assert (n.brand_logo_url, n.brand_accent, n.brand_footer, n.web_archive) == (
            None,
            None,
            "",
            True,
        )


def test_a_bad_value_is_refused_and_nothing_is_added(app, runner):
    for option, value, reason in [
        ("--logo-url", "http://cdn.example.com/science.png", "starts with https://"),
        ("--accent", "red", "six hexadecimal digits"),
        ("--footer", "<img src=x onerror=alert(1)>", "HTML tags"),
    ]:
        result = _add(runner, option, value)
        assert result.exit_code == 1 and reason in result.output, result.output
    with app.app_context():
        assert db.session.scalar(select(func.count(Newsletter.id))) == 0
