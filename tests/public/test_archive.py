"""The public archive's pages, after a real issue went out by SMTP: which newsletters are
there, their issues, one issue as it was sent, and what the pages carry."""

import re

import pytest
from sqlalchemy import update

from newsletters.extensions import db
from newsletters.models import IssueStatus, Newsletter
from newsletters.public.archive import accent_href
from newsletters.services.branding import Brand
from tests.support.archive import (
    SITE,
    add_past_issues,
    archive_routes,
    assert_no_reader_token,
    send_issue,
)
from tests.support.mail import html_of
from tests.support.reader import csrf_token_in, statuses


@pytest.fixture
def settings(settings, smtp_server):
    settings.update(smtp_server.settings())
    return settings


@pytest.fixture
def sent(app, runner, smtp_server):
    return send_issue(app, runner, smtp_server)


def _page(client, path: str, status: int = 200) -> str:
    response = client.get(path)
    assert response.status_code == status, (path, response.status_code)
    return response.get_data(as_text=True)


# --- which newsletters have an archive -----------------------------------------------------


def test_the_archive_lists_public_newsletters_with_their_archive_on_and_nothing_else(
    app, runner, client, smtp_server, sent
):
    private = send_issue(app, runner, smtp_server, "insiders", "Insiders Only", is_public=False)
    send_issue(app, runner, smtp_server, "quiet-room", "Quiet Room", web_archive=False)
    retired = send_issue(app, runner, smtp_server, "old-times", "Old Times")
    with app.app_context():
        db.session.execute(
            update(Newsletter).where(Newsletter.slug == "old-times").values(is_archived=True)
        )
        db.session.commit()

    page = _page(client, "/archive")
    assert "The Weekly" in page and sent.subject in page
    assert "Old Times" in page and "No longer published" in page
    assert "Insiders Only" not in page and "insiders" not in page
    assert "Quiet Room" not in page and "quiet-room" not in page
    # The retired one's past issues stay readable, with no signup box.
    issue_page = _page(client, f"/archive/old-times/{retired.issue_uuid}")
    assert retired.subject in issue_page
    assert 'action="/subscribe"' not in issue_page
    assert "no longer published" in issue_page
    # The private one is not found anywhere, though its archive setting is on.
    for path in archive_routes(private):
        assert client.get(path).status_code == 404, path


def test_archive_pages_are_cached_and_set_no_cookie(client, sent):
    index = client.get("/archive")
    assert index.headers["Cache-Control"] == "public, max-age=300"
    feed = client.get(f"/archive/{sent.slug}/feed.xml")
    assert feed.headers["Cache-Control"] == "public, max-age=300"
    # A page with a signup form is kept by the reader's own browser only: its form token
    # is for one visitor, and may be posted a few times at most.
    for path in archive_routes(sent)[:2]:
        response = client.get(path)
        assert response.headers["Cache-Control"] == "private, max-age=300", path
    for path in ["/archive", *archive_routes(sent)]:
        assert "Set-Cookie" not in client.get(path).headers, path


# --- one newsletter's issues ---------------------------------------------------------------


def test_a_newsletters_page_lists_its_issues_newest_first_twenty_to_a_page(app, client, sent):
    older = add_past_issues(app, sent.slug, 22)  # 23 issues in all
    with app.app_context():
        draft = add_past_issues(app, sent.slug, 1, status=IssueStatus.DRAFT)
    first = _page(client, f"/archive/{sent.slug}")
    titles = re.findall(r'class="issue-row__title"><a href="[^"]+">([^<]+)</a>', first)
    assert titles == [sent.subject] + [f"Week {n}" for n in range(1, 20)]
    assert 'rel="next" href="/archive/the-weekly?page=2"' in first
    second = _page(client, f"/archive/{sent.slug}?page=2")
    titles = re.findall(r'class="issue-row__title"><a href="[^"]+">([^<]+)</a>', second)
    assert titles == ["Week 20", "Week 21", "Week 22"]
    assert "Page 2 of 2" in second
    assert f'<link rel="canonical" href="{SITE}/archive/the-weekly?page=2">' in second
    assert older[-1] in second
    assert draft[0] not in first + second  # a draft never went out
    assert client.get(f"/archive/{sent.slug}/{draft[0]}").status_code == 404


@pytest.mark.parametrize(
    "page", ["0", "-1", "abc", "1.5", "2", "99999999999999999999", "1e3", " 1"]
)
def test_a_bad_page_number_is_a_clear_4xx(client, sent, page):
    response = client.get(f"/archive/{sent.slug}", query_string={"page": page})
    assert 400 <= response.status_code < 500
    assert response.status_code == (404 if page == "2" else 400)


# --- one issue -----------------------------------------------------------------------------


def test_the_issue_page_shows_the_issue_as_sent_and_no_reader_token(client, sent):
    page = _page(client, f"/archive/{sent.slug}/{sent.issue_uuid}")
    assert f'<h1 class="issue__title">{sent.subject}</h1>' in page
    for title in sent.story_titles:
        assert title in page
    assert 'src="https://images.example.com/lead.jpg"' in page
    assert "Manage preferences" not in page and "You're receiving" not in page
    assert_no_reader_token(page, sent)
    # Every reader's mail points here, the same link for all of them.
    url = f"{SITE}/archive/{sent.slug}/{sent.issue_uuid}"
    assert sent.view_links() == [url] * len(sent.messages)
    assert all(f'href="{url}"' in html_of(m) for m in sent.messages)


def test_the_issue_page_has_a_signup_box_that_signs_up_for_this_newsletter(app, client, sent):
    page = _page(client, f"/archive/{sent.slug}/{sent.issue_uuid}")
    box = page[page.index('id="subscribe"') :]
    assert 'action="/subscribe"' in box
    assert re.search(r'name="newsletters" value="the-weekly"[^>]*checked', box)
    response = client.post(
        "/subscribe",
        data={
            "csrf_token": csrf_token_in(box),
            "email": "new.reader@example.com",
            "newsletters": "the-weekly",
            "website": "",
            "source": "form",
        },
    )
    assert response.status_code == 200
    assert statuses(app, "new.reader@example.com") == {"the-weekly": "pending"}


def test_the_issue_page_carries_the_metadata_that_makes_it_shareable(app, client, sent):
    with app.app_context():
        db.session.execute(
            update(Newsletter)
            .where(Newsletter.slug == sent.slug)
            .values(brand_logo_url="https://cdn.example.com/weekly.png")
        )
        db.session.commit()
    page = _page(client, f"/archive/{sent.slug}/{sent.issue_uuid}")
    url = f"{SITE}/archive/{sent.slug}/{sent.issue_uuid}"
    assert f"<title>{sent.subject} · The Daily Ledger</title>" in page
    assert '<meta name="description" content="In this issue: Story number 0' in page
    assert f'<link rel="canonical" href="{url}">' in page
    assert f'<meta property="og:url" content="{url}">' in page
    assert f'<meta property="og:title" content="{sent.subject}">' in page
    assert '<meta property="og:type" content="article">' in page
    assert '<meta property="og:site_name" content="The Daily Ledger">' in page
    assert '<meta property="og:description" content="In this issue: Story number 0' in page
    assert '<meta property="og:image" content="https://cdn.example.com/weekly.png">' in page
    assert (
        f'<link rel="alternate" type="application/atom+xml" title="{sent.subject}" '
        f'href="{SITE}/archive/{sent.slug}/feed.xml">'
    ) in page


def test_the_issue_page_may_show_https_pictures_and_still_runs_no_inline_script(client, sent):
    policy = client.get(f"/archive/{sent.slug}/{sent.issue_uuid}").headers[
        "Content-Security-Policy"
    ]
    assert "img-src 'self' data: https:;" in policy
    assert "script-src 'self';" in policy and "unsafe-inline" not in policy
    assert "style-src 'self';" in policy
    # Everywhere else, images stay on this site.
    assert "img-src 'self' data:;" in client.get("/").headers["Content-Security-Policy"]


@pytest.mark.parametrize(
    "path",
    [
        "/archive/no-such-newsletter",
        "/archive/no-such-newsletter/feed.xml",
        "/archive/the-weekly/00000000-0000-0000-0000-000000000000",
        "/archive/the-weekly/not-a-uuid",
        "/archive/the-weekly/1",
    ],
)
def test_what_is_not_in_the_archive_is_page_not_found(client, sent, path):
    response = client.get(path)
    assert response.status_code == 404
    assert "Page not found" in response.get_data(as_text=True)


def test_an_issue_is_found_only_under_its_own_newsletter(app, runner, client, smtp_server, sent):
    other = send_issue(app, runner, smtp_server, "ai-digest", "AI Digest")
    assert client.get(f"/archive/ai-digest/{sent.issue_uuid}").status_code == 404
    assert client.get(f"/archive/ai-digest/{other.issue_uuid}").status_code == 200


# --- branding ------------------------------------------------------------------------------


def test_the_accent_reaches_the_page_only_as_a_checked_colour(app, client, sent):
    def brand(**values):
        with app.app_context():
            db.session.execute(update(Newsletter).values(**values))
            db.session.commit()

    brand(brand_accent="#8a1c0b", brand_footer="Made by the Tom & Jerry desk\nIn Springfield")
    page = _page(client, f"/archive/{sent.slug}")
    assert '<link rel="stylesheet" href="/brand/8a1c0b.css">' in page
    assert "Made by the Tom &amp; Jerry desk<br>In Springfield" in page
    css = client.get("/brand/8a1c0b.css")
    assert css.headers["Content-Type"] == "text/css; charset=utf-8"
    assert "--brand: #8a1c0b;" in css.get_data(as_text=True)
    assert "--accent: #8a1c0b;" in css.get_data(as_text=True)  # dark enough for text
    # A light accent colours the rules, never text a reader must read.
    light = client.get("/brand/ffd84a.css").get_data(as_text=True)
    assert "--brand: #ffd84a;" in light and "--accent" not in light
    # A value written straight into the database never reaches CSS.
    brand(brand_accent="red;}", brand_footer="<script>alert(1)</script>")
    page = _page(client, f"/archive/{sent.slug}")
    assert "/brand/" not in page and "<script>alert" not in page
    for bad in ["zzzzzz", "8A1C0B", "8a1c0", "8a1c0b0"]:
        assert client.get(f"/brand/{bad}.css").status_code == 404, bad


def test_only_a_checked_colour_becomes_a_stylesheet_address(app):
    with app.test_request_context():
        assert accent_href(Brand(None, "#8a1c0b", "")) == "/brand/8a1c0b.css"
        for bad in ["red;}", "#8A1C0B", "#8a1c0b;x", "#8a1c0", "8a1c0b", "#0b4f8a"]:
            assert accent_href(Brand(None, bad, "")) is None, bad  # the last is the default


def test_every_public_page_leads_to_the_archive(client, sent):
    for path in ("/", "/preferences", "/archive"):
        page = client.get(path)
        assert page.status_code == 200, path
        assert 'href="/archive"' in page.get_data(as_text=True), path
    assert 'href="/archive" aria-current="page"' in client.get("/archive").get_data(as_text=True)
