"""The embeddable 'Stay connected' box: framable by the publisher's sites only."""

import pytest

from tests.support.reader import add_demo_newsletters, checked_boxes, csrf_token_in, statuses

PUBLISHER = "https://www.publisher.example"


@pytest.fixture
def settings(settings):
    settings["EMBED_ALLOWED_ORIGINS"] = [PUBLISHER, "https://blog.publisher.example"]
    return settings


@pytest.fixture(autouse=True)
def demo(app):
    add_demo_newsletters(app)


def test_the_box_shows_the_chosen_newsletters_ticked(client):
    response = client.get("/embed/signup?newsletters=ai-digest,climate-report")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Stay connected" in page
    assert checked_boxes(page) == {"ai-digest", "climate-report"}
    assert "The Weekly" not in page
    assert 'type="email"' in page and "Unsubscribe at any time" in page


def test_only_the_publishers_origins_may_frame_the_box(client):
    box = client.get("/embed/signup?newsletters=ai-digest")
    policy = box.headers["Content-Security-Policy"]
    assert (
        "frame-ancestors 'self' https://www.publisher.example https://blog.publisher.example"
        in policy
    )
    assert "X-Frame-Options" not in box.headers
    page = client.get("/")
    assert "frame-ancestors 'self'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Frame-Options"] == "SAMEORIGIN"


def test_unknown_newsletters_are_left_out_and_none_at_all_is_404(client):
    page = client.get("/embed/signup?newsletters=nope,the-weekly").get_data(as_text=True)
    assert checked_boxes(page) == {"the-weekly"}
    assert client.get("/embed/signup?newsletters=nope").status_code == 404
    assert client.get("/embed/signup").status_code == 404


def _post_from_box(app, client, **fields):
    page = client.get("/embed/signup?newsletters=ai-digest,the-weekly").get_data(as_text=True)
    iframe = app.test_client()  # a cross-site iframe sends no cookies
    data = {
        "csrf_token": csrf_token_in(page),
        "source": "embed",
        "shown": "ai-digest,the-weekly",
        "newsletters": ["ai-digest"],
        "email": "reader@example.com",
        **fields,
    }
    return iframe.post("/subscribe", data=data)


def test_signing_up_without_script_answers_inside_the_box(app, client):
    response = _post_from_box(app, client)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Thank you for submitting your email!" in page
    assert 'target="_blank"' in page and "Explore more newsletters" in page
    assert (
        "frame-ancestors 'self' https://www.publisher.example"
        in response.headers["Content-Security-Policy"]
    )
    assert statuses(app, "reader@example.com") == {"ai-digest": "pending"}


def test_a_mistake_redraws_the_same_box(app, client):
    response = _post_from_box(app, client, email="not-an-address")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Stay connected" in page and "Please enter a valid email address" in page
    assert checked_boxes(page) == {"ai-digest"}
    assert "climate-report" not in page
    assert (
        "frame-ancestors 'self' https://www.publisher.example"
        in response.headers["Content-Security-Policy"]
    )
