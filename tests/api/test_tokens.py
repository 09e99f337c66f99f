"""API tokens carry scopes; a revoked token is dead; archived newsletters take no stories."""

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade
from sqlalchemy import func, select, update

from newsletters.extensions import db
from newsletters.models import ApiToken, Newsletter, Story
from tests.support.readers import add_newsletter

STORY = {
    "newsletter": "the-weekly",
    "title": "Rivers are running higher",
    "url": "https://news.example.com/rivers",
}


@pytest.fixture(autouse=True)
def weekly_newsletter(app):
    return add_newsletter(app)


def _token(runner, name: str, *args: str) -> str:
    result = runner.invoke(args=["admin", "token", name, *args])
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()[-1]


def _post(client, token, body=STORY):
    return client.post("/api/v1/stories", json=body, headers={"Authorization": f"Bearer {token}"})


def _stories(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Story))


def test_filing_a_story_needs_the_stories_write_scope(app, client, runner):
    readers_only = _token(runner, "crm", "--scopes", "subscribers:read,subscribers:write")
    refused = _post(client, readers_only)
    assert refused.status_code == 403
    error = refused.get_json()["error"]
    assert error["code"] == "forbidden" and "stories:write" in error["message"]
    assert _stories(app) == 0
    writer = _token(runner, "cms", "--scopes", "stories:write")
    assert _post(client, writer).status_code == 201
    assert _stories(app) == 1


def test_a_token_revoked_by_command_gets_401(app, client, runner):
    token = _token(runner, "cms")
    assert _post(client, token).status_code == 201
    assert runner.invoke(args=["admin", "token-revoke", "cms"]).exit_code == 0
    answer = _post(client, token, {**STORY, "url": "https://news.example.com/other"})
    assert answer.status_code == 401
    assert answer.get_json()["error"]["code"] == "unauthorized"
    assert _stories(app) == 1


def test_an_archived_newsletter_takes_no_stories(app, client, runner, weekly_newsletter):
    token = _token(runner, "cms")
    with app.app_context():
        db.session.execute(
            update(Newsletter).where(Newsletter.id == weekly_newsletter).values(is_archived=True)
        )
        db.session.commit()
    refused = _post(client, token)
    assert refused.status_code == 400
    assert "archived" in refused.get_json()["error"]["message"]
    assert _stories(app) == 0


def test_the_description_names_the_scopes_and_the_key(client):
    document = client.get("/api/v1/openapi.json").get_json()
    stories = document["paths"]["/stories"]["post"]
    assert stories["security"] == [{"bearer": ["stories:write"]}]
    assert "403" in stories["responses"]
    signup = document["paths"]["/subscriptions"]["post"]
    assert {"publishableKey": []} in signup["security"]
    assert {"401", "403"} <= set(signup["responses"])
    scheme = document["components"]["securitySchemes"]["publishableKey"]
    assert (scheme["in"], scheme["name"]) == ("header", "X-Publishable-Key")


def test_tokens_made_before_scopes_keep_filing_stories(app):
    """The migration gives every existing token the one thing it could do: stories:write."""
    with app.app_context():
        downgrade(revision="a2d5e7c1b9f0")
        db.session.execute(
            sa.text(
                "INSERT INTO api_token (name, token_hash, prefix, created_at) "
                "VALUES ('old cms', :hash, 'nl_oldtoke', CURRENT_TIMESTAMP)"
            ),
            {"hash": "0" * 64},
        )
        db.session.commit()
        upgrade()
        old = db.session.scalar(select(ApiToken).where(ApiToken.name == "old cms"))
        assert (old.scope_list, old.kind.value, old.origin_list) == (
            ["stories:write"],
            "secret",
            [],
        )
