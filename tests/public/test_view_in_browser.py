""" "View in browser" without a public archive: each reader's own signed copy of an issue."""

import re
from uuid import UUID

import pytest
from sqlalchemy import select

from newsletters.extensions import db
from newsletters.models import Newsletter, Subscriber
from newsletters.services.core.tokens import Purpose, read_token
from tests.support.archive import SITE, archive_routes, send_issue, view_link_in
from tests.support.mail import text_of
from tests.support.tokens import tamper


@pytest.fixture
def settings(settings, smtp_server):
    settings.update(smtp_server.settings())
    return settings


def test_with_the_archive_off_every_route_is_404_and_readers_get_their_own_copy(
    app, runner, client, smtp_server
):
    sent = send_issue(app, runner, smtp_server, web_archive=False)
    for path in archive_routes(sent):
        assert client.get(path).status_code == 404, path
    assert "The Weekly" not in client.get("/archive").get_data(as_text=True)

    links = sent.view_links()
    assert len(set(links)) == len(links) == 3  # one of their own for every reader
    with app.app_context():
        owners = {}
        for link in links:
            assert link.startswith(f"{SITE}/view/")
            payload = read_token(Purpose.VIEW, link.rsplit("/", 1)[1])
            assert payload["i"] == sent.issue_uuid
            owners[link] = payload["s"]
        newsletter = str(db.session.scalar(select(Newsletter.uuid)))
    assert sorted(owners.values()) == sorted(sent.subscriber_uuids)

    for message in sent.messages:
        link = view_link_in(message)
        response = client.get(link.removeprefix(SITE))
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["Referrer-Policy"] == "no-referrer"
        page = response.get_data(as_text=True)
        assert '<meta name="robots" content="noindex, nofollow">' in page
        assert sent.subject in page and all(t in page for t in sent.story_titles)
        # The reader's own working links, for this newsletter.
        unsubscribe = re.search(r'href="http://newsletters\.test/unsubscribe/([^"]+)"', page)[1]
        with app.app_context():
            assert read_token(Purpose.UNSUBSCRIBE, unsubscribe) == {
                "s": owners[link],
                "n": newsletter,
            }
        assert client.get(f"/unsubscribe/{unsubscribe}").status_code == 200


def test_a_private_newsletters_mail_links_to_each_readers_own_copy(
    app, runner, client, smtp_server
):
    sent = send_issue(app, runner, smtp_server, "insiders", "Insiders", is_public=False)
    assert all(link.startswith(f"{SITE}/view/") for link in sent.view_links())
    for path in archive_routes(sent):
        assert client.get(path).status_code == 404, path


@pytest.mark.parametrize("how", ["tampered", "truncated", "another purpose", "garbage"])
def test_a_bad_view_link_is_a_400_page_not_a_crash(app, runner, client, smtp_server, how):
    sent = send_issue(app, runner, smtp_server, web_archive=False)
    token = sent.view_links()[0].rsplit("/", 1)[1]
    unsubscribe = re.search(r"/unsubscribe/(\S+)", text_of(sent.messages[0]))[1]
    bad = {
        "tampered": tamper(token),
        "truncated": token[:-6],
        "another purpose": unsubscribe,
        "garbage": "x" * 40,
    }[how]
    response = client.get(f"/view/{bad}")
    assert response.status_code == 400
    assert "This link doesn&#39;t work" in response.get_data(as_text=True)


def test_an_erased_readers_view_link_stops_working(app, runner, client, smtp_server):
    sent = send_issue(app, runner, smtp_server, web_archive=False)
    link = sent.view_links()[0].removeprefix(SITE)
    assert client.get(link).status_code == 200
    with app.app_context():
        owner = UUID(read_token(Purpose.VIEW, link.rsplit("/", 1)[1])["s"])
        db.session.delete(db.session.scalar(select(Subscriber).where(Subscriber.uuid == owner)))
        db.session.commit()
    assert client.get(link).status_code == 400
