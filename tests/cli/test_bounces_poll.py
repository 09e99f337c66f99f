"""flask bounces poll: reads the bounce mailbox once, says what it did, and fails loudly."""

from urllib.parse import quote

import pytest
from sqlalchemy import func, select

from newsletters.extensions import db
from newsletters.models import BounceReport, Suppression
from tests.support import bounce_mail
from tests.support.bounces import BOUNCE_DOMAIN, sent_issue


@pytest.fixture
def settings(settings, smtp_server):
    settings.update(smtp_server.settings(), BOUNCE_DOMAIN=BOUNCE_DOMAIN)
    return settings


@pytest.fixture
def report(app, runner, smtp_server, weekly) -> bytes:
    """A hard bounce of a copy of this week's issue that the app really sent."""
    sent_issue(app, runner, smtp_server, weekly, count=1)
    [(address, (original, return_path))] = bounce_mail.sent_copies(smtp_server).items()
    return bounce_mail.dsn(original, return_path, address)


def _poll(app, runner, url: str, *options: str):
    app.config["BOUNCE_MAILBOX_URL"] = url
    return runner.invoke(args=["bounces", "poll", *options])


def _rows(app) -> tuple[int, int]:
    with app.app_context():
        return (
            db.session.scalar(select(func.count(BounceReport.id))),
            db.session.scalar(select(func.count(Suppression.id))),
        )


def test_without_a_mailbox_the_command_says_so_and_cron_stays_quiet(app, runner):
    result = _poll(app, runner, "")
    assert result.exit_code == 0
    assert "BOUNCE_MAILBOX_URL is not set" in result.output
    quiet = _poll(app, runner, "", "--quiet")
    assert (quiet.exit_code, quiet.output) == (0, "")


def test_a_poll_says_what_it_did_and_a_quiet_one_says_nothing_when_nothing_was_new(
    app, runner, report, dovecot
):
    dovecot.deliver(report)
    dovecot.deliver(bounce_mail.person_wrote(f"bounces@{BOUNCE_DOMAIN}"))
    result = _poll(app, runner, dovecot.imap_url, "--quiet")
    assert result.exit_code == 0, result.output
    assert "read 2; 1 applied, 0 unmatched, 0 ignored, 1 kept for a person" in result.output
    assert f"imap://bounces@localhost:{dovecot.ports['imap']}/INBOX" in result.output
    assert dovecot.password not in result.output
    assert _rows(app) == (2, 1)
    again = _poll(app, runner, dovecot.imap_url, "--quiet")
    assert (again.exit_code, again.output) == (0, "")
    assert "read 0" in _poll(app, runner, dovecot.imap_url).output


@pytest.mark.parametrize("scheme", ["imap", "pop3"])
@pytest.mark.parametrize("fault", ["server down", "wrong password"])
def test_a_mailbox_that_cannot_be_read_fails_loudly_and_the_next_poll_catches_up(
    app, runner, report, dovecot, scheme, fault
):
    dovecot.deliver(report)
    wrong = "n0t-the:p@ssword"
    if fault == "server down":
        dovecot.stop()
        url = dovecot.url(scheme)
    else:
        url = dovecot.url(scheme, password=wrong)
    result = _poll(app, runner, url)
    assert result.exit_code == 1
    assert f"The bounce mailbox {scheme}://bounces@localhost:{dovecot.ports[scheme]}" in (
        result.output
    )
    assert "could not be read" in result.output and "the next poll tries again" in result.output
    if fault == "server down":
        assert "ConnectionRefusedError" in result.output
    else:
        assert "refused the login for 'bounces'" in result.output
    for secret in (dovecot.password, quote(dovecot.password, safe=""), wrong, quote(wrong)):
        assert secret not in result.output
    assert _rows(app) == (0, 0)  # nothing applied
    dovecot.start()
    assert dovecot.list("INBOX") == [report]  # nothing lost
    caught_up = _poll(app, runner, dovecot.url(scheme))
    assert caught_up.exit_code == 0, caught_up.output
    assert "1 applied" in caught_up.output
    assert _rows(app) == (1, 1) and dovecot.list("INBOX") == []


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("imap://bounces:hunter2@mail.example.com:port/INBOX", "the port must be a number"),
        ("https://bounces:hunter2@mail.example.com/", "must start with imap://"),
        ("imaps://mail.example.com/INBOX", "needs user:password@"),
        ("pop3s://bounces:hunter2@mail.example.com/Archive", "POP3 has no folders"),
        ("imaps://bounces:hunt#er2@mail.example.com/", "percent-encode"),
        ("imaps://bounces:hunter2@mail.example.com/Processed", "where read mail is filed"),
    ],
)
def test_an_unusable_url_is_named_and_its_password_is_not_shown(app, runner, url, why):
    result = _poll(app, runner, url)
    assert result.exit_code == 1
    assert "BOUNCE_MAILBOX_URL is not valid" in result.output and why in result.output
    assert "hunter2" not in result.output and "hunt" not in result.output
    assert _rows(app) == (0, 0)


@pytest.mark.parametrize("scheme", ["imap", "pop3"])
def test_flask_check_signs_in_to_the_bounce_mailbox_and_reads_nothing(
    app, runner, report, dovecot, scheme
):
    dovecot.deliver(report)
    app.config["BOUNCE_MAILBOX_URL"] = dovecot.url(scheme)
    result = runner.invoke(args=["check"])
    assert f"ok        bounce mailbox: {scheme}://bounces@localhost" in result.output
    assert dovecot.list("INBOX") == [report] and _rows(app) == (0, 0)
    app.config["BOUNCE_MAILBOX_URL"] = dovecot.url(scheme, password="n0t-it")
    refused = runner.invoke(args=["check"])
    assert refused.exit_code == 1
    assert "FAILED    bounce mailbox: The bounce mailbox" in refused.output
    assert "refused the login" in refused.output and "n0t-it" not in refused.output
    assert dovecot.list("INBOX") == [report]
