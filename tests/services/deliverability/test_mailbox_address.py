"""BOUNCE_MAILBOX_URL: read as an operator writes it, and never shown with its password."""

import pytest

from newsletters.services.deliverability.mailbox_address import (
    MailboxSettingInvalid,
    masked,
    parse_mailbox_url,
)


@pytest.mark.parametrize(
    ("url", "port", "folder"),
    [
        ("imap://bounces:pw@mail.example.com", 143, "INBOX"),
        ("imaps://bounces:pw@mail.example.com/", 993, "INBOX"),
        ("pop3://bounces:pw@mail.example.com", 110, "INBOX"),
        ("pop3s://bounces:pw@mail.example.com:1995", 1995, "INBOX"),
        ("IMAPS://bounces:pw@Mail.Example.com/Bounces%20In", 993, "Bounces In"),
    ],
)
def test_ports_default_by_scheme_and_the_folder_to_the_inbox(url, port, folder):
    address = parse_mailbox_url(url)
    assert (address.host, address.port, address.folder) == ("mail.example.com", port, folder)


def test_the_user_and_password_are_percent_decoded_and_never_shown():
    address = parse_mailbox_url("imaps://bounces%40example.com:p%40ss%2Fw%25rd@mail.example.com")
    assert (address.user, address.password) == ("bounces@example.com", "p@ss/w%rd")
    shown = f"{address} {address!r}"
    assert "p@ss" not in shown and "p%40ss" not in shown
    assert str(address) == "imaps://bounces@example.com@mail.example.com:993/INBOX"


@pytest.mark.parametrize(
    "url",
    [
        "imap://bounces:s3cret@mail.example.com:99999/",
        "imap://bounces:s3cret@/INBOX",
        "smtp://bounces:s3cret@mail.example.com",
        "imap://bounces:s3cret@mail.example.com/Caf%C3%A9",
        "bounces:s3cret@mail.example.com",
    ],
)
def test_an_unusable_url_names_the_setting_and_hides_the_password(url):
    with pytest.raises(MailboxSettingInvalid) as refused:
        parse_mailbox_url(url)
    assert str(refused.value).startswith("BOUNCE_MAILBOX_URL is not valid")
    assert "s3cret" not in str(refused.value)


def test_masking_keeps_the_user_and_host_so_the_operator_knows_which_url_it_was():
    assert masked("imaps://bounces:s3:cr@t@mail.example.com/X") == (
        "imaps://bounces:***@mail.example.com/X"
    )
