"""POST /api/v1/stories: a CMS files stories with a bearer token an admin created."""

import pytest
from sqlalchemy import func, select

from newsletters.extensions import db
from newsletters.models import ApiToken, Story, utcnow
from tests.support.readers import add_newsletter

STORY = {
    "newsletter": "the-weekly",
    "title": "Rivers are running higher",
    "url": "https://news.example.com/rivers",
    "summary": "What the floods mean for towns downstream.",
}


@pytest.fixture
def token(app, runner):
    add_newsletter(app)
    result = runner.invoke(args=["admin", "token", "cms"])
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()[-1]


def _post(client, token, body, **kwargs):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post("/api/v1/stories", json=body, headers=headers, **kwargs)


def _stories(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Story))


def test_a_story_is_created_and_a_repeat_returns_it(app, client, token):
    created = _post(
        client, token, {**STORY, "guid": "cms-42", "published_at": "2026-11-27T08:00:00Z"}
    )
    assert created.status_code == 201
    story = created.get_json()["story"]
    assert story["title"] == STORY["title"] and story["guid"] == "cms-42"
    assert story["published_at"] == "2026-11-27T08:00:00+00:00"
    again = _post(client, token, {**STORY, "title": "Changed", "guid": "cms-42"})
    assert again.status_code == 200
    assert again.get_json()["story"] == story
    assert _stories(app) == 1


def test_without_a_guid_the_url_identifies_the_story(app, client, token):
    assert _post(client, token, STORY).status_code == 201
    assert _post(client, token, STORY).status_code == 200
    assert _stories(app) == 1


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer nl_wrong", "Basic dXNlcjpwYXNz", "nl_token-without-scheme"],
)
def test_missing_or_bad_tokens_get_401_and_nothing_is_written(app, client, token, authorization):
    headers = {"Authorization": authorization} if authorization is not None else {}
    response = client.post("/api/v1/stories", json=STORY, headers=headers)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert _stories(app) == 0


def test_a_revoked_token_is_refused(app, client, token):
    with app.app_context():
        db.session.query(ApiToken).update({"revoked_at": utcnow()})
        db.session.commit()
    assert _post(client, token, STORY).status_code == 401
    assert _stories(app) == 0


def test_tokens_are_stored_only_as_hashes(app, token):
    with app.app_context():
        stored = db.session.scalar(select(ApiToken))
        assert token not in (stored.token_hash, stored.prefix) and token.startswith(stored.prefix)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "x" * 301}, "title"),
        ({"title": "Two\nlines"}, "title"),
        ({"url": "ftp://news.example.com/x"}, "url"),
        ({"url": "not a url"}, "url"),
        ({"url": None}, "url"),
        ({"published_at": "last tuesday"}, "published_at"),
        ({"image_url": "javascript:alert(1)"}, "image_url"),
        ({"summary": 42}, "summary"),
    ],
)
def test_invalid_stories_get_400_naming_the_field(app, client, token, change, field):
    response = _post(client, token, {**STORY, **change})
    assert response.status_code == 400
    assert field in response.get_json()["error"]["message"]
    assert _stories(app) == 0


def test_an_unknown_newsletter_is_404(app, client, token):
    response = _post(client, token, {**STORY, "newsletter": "nope"})
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_a_body_that_is_not_a_json_object_is_400(app, client, token):
    response = client.post(
        "/api/v1/stories",
        data="[1, 2",
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 400
    assert response.get_json()["error"]["message"] == "The request body must be a JSON object."


def test_an_oversized_body_is_413(app, client, token):
    response = _post(client, token, {**STORY, "summary": "x" * 2_000_000})
    assert response.status_code == 413
    assert response.get_json()["error"]["code"]
    assert _stories(app) == 0


def test_the_public_newsletters_are_listed(app, client, token):
    body = client.get("/api/v1/newsletters").get_json()
    assert [n["slug"] for n in body["newsletters"]] == ["the-weekly"]
