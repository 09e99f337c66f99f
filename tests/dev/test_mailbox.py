"""The development mailbox: every email the app sent, readable in the browser."""

from tests.support.reader import add_demo_newsletters, sign_up


def test_the_mailbox_lists_and_shows_every_message(app, client):
    add_demo_newsletters(app)
    empty = client.get("/dev/mailbox")
    assert empty.status_code == 200 and "No mail yet" in empty.get_data(as_text=True)

    sign_up(client, "reader@example.com", "the-weekly")
    listing = client.get("/dev/mailbox").get_data(as_text=True)
    assert "Confirm your subscription to The Weekly" in listing
    assert "reader@example.com" in listing
    detail_path = listing.split('href="/dev/mailbox/', 1)[1].split('"', 1)[0]

    detail = client.get(f"/dev/mailbox/{detail_path}").get_data(as_text=True)
    assert "http://newsletters.test/confirm/" in detail  # the link, ready to click
    html = client.get(f"/dev/mailbox/{detail_path}/html")
    assert html.headers["Content-Type"].startswith("text/html")
    assert "Yes, subscribe me" in html.get_data(as_text=True)
    text = client.get(f"/dev/mailbox/{detail_path}/text")
    assert text.headers["Content-Type"].startswith("text/plain")
    assert "To confirm, open this link" in text.get_data(as_text=True)
    raw = client.get(f"/dev/mailbox/{detail_path}/raw").get_data(as_text=True)
    assert "Content-Type: multipart/alternative" in raw and "Message-ID:" in raw


def test_an_unknown_message_is_a_404(client):
    assert client.get("/dev/mailbox/no-such-message").status_code == 404
