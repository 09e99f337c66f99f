"""The console's API tokens page: owners list, create (secret shown once) and revoke."""

import re

from sqlalchemy import select

from newsletters.extensions import db
from newsletters.models import ApiToken, AuditLog
from tests.support.admin import action_token
from tests.support.readers import add_newsletter

STORY = {"newsletter": "the-weekly", "title": "Budget", "url": "https://news.example.com/b"}
SECRET = re.compile(r"<code data-new-secret>((?:nl|pk)_[A-Za-z0-9_-]+)</code>")


def _create(client, **fields):
    data = {"csrf_token": action_token(client, "/admin/tokens"), "kind": "secret", **fields}
    return client.post("/admin/tokens", data=data)


def _audit(app) -> list[tuple[str, str, dict]]:
    with app.app_context():
        return [
            (a.action, a.target, a.detail)
            for a in db.session.scalars(
                select(AuditLog).where(AuditLog.action.like("api_token.%")).order_by(AuditLog.id)
            )
        ]


def test_an_owner_creates_a_token_with_scopes_and_sees_the_secret_once(app, owner):
    add_newsletter(app)
    created = _create(owner, name="CMS", scopes=["stories:write", "subscribers:read"])
    assert created.status_code == 200
    assert created.headers["Cache-Control"] == "no-store"
    page = created.get_data(as_text=True)
    secret = SECRET.search(page)[1]
    assert "cannot be shown again" in page
    assert secret not in owner.get("/admin/tokens").get_data(as_text=True)
    listed = owner.get("/admin/tokens").get_data(as_text=True)
    assert "CMS" in listed and "subscribers:read" in listed and secret[:10] in listed
    answer = app.test_client().post(
        "/api/v1/stories", json=STORY, headers={"Authorization": f"Bearer {secret}"}
    )
    assert answer.status_code == 201
    [(action, target, detail)] = _audit(app)
    assert (action, target) == ("api_token.create", "CMS")
    assert detail["scopes"] == ["stories:write", "subscribers:read"]
    assert secret not in str(detail)


def test_a_publishable_key_is_created_with_its_origins(app, owner):
    created = _create(
        owner, name="Pages", kind="publishable", origins="https://www.publisher.example"
    )
    assert created.status_code == 200
    assert SECRET.search(created.get_data(as_text=True))[1].startswith("pk_")
    with app.app_context():
        key = db.session.scalar(select(ApiToken))
        assert (key.kind.value, key.origin_list) == (
            "publishable",
            ["https://www.publisher.example"],
        )


def test_bad_requests_are_400_and_create_nothing(app, owner):
    for fields in (
        {"name": "x", "scopes": ["stories:write", "everything"]},
        {"name": "x", "scopes": []},
        {"name": "", "scopes": ["stories:write"]},
        {"name": "x", "kind": "publishable", "origins": "not-an-origin"},
        {"name": "x", "kind": "publishable", "origins": ""},
    ):
        response = _create(owner, **fields)
        assert response.status_code == 400, fields
    page = _create(owner, name="x", scopes=["everything"]).get_data(as_text=True)
    assert "Valid scopes: stories:write" in page
    with app.app_context():
        assert db.session.scalar(select(ApiToken)) is None
    assert _audit(app) == []


def test_revoking_from_the_console_is_audited_and_kills_the_token(app, owner):
    add_newsletter(app)
    secret = SECRET.search(_create(owner, name="CMS", scopes=["stories:write"]).get_data(True))[1]
    with app.app_context():
        token_id = db.session.scalar(select(ApiToken.id))
    without_csrf = owner.post(f"/admin/tokens/{token_id}/revoke")
    assert without_csrf.status_code == 400
    revoked = owner.post(
        f"/admin/tokens/{token_id}/revoke", data={"csrf_token": action_token(owner)}
    )
    assert revoked.status_code == 302
    page = owner.get("/admin/tokens").get_data(as_text=True)
    assert "Revoked “CMS”" in page
    assert f"/admin/tokens/{token_id}/revoke" not in page  # no button on a revoked token
    answer = app.test_client().post(
        "/api/v1/stories", json=STORY, headers={"Authorization": f"Bearer {secret}"}
    )
    assert answer.status_code == 401
    assert [action for action, _, _ in _audit(app)] == ["api_token.create", "api_token.revoke"]
    unknown = owner.post("/admin/tokens/999/revoke", data={"csrf_token": action_token(owner)})
    assert unknown.status_code == 404


def test_editors_cannot_see_or_change_tokens(app, owner, editor):
    _create(owner, name="CMS", scopes=["stories:write"])
    with app.app_context():
        token_id = db.session.scalar(select(ApiToken.id))
    token = action_token(editor)
    assert editor.get("/admin/tokens").status_code == 403
    assert editor.post("/admin/tokens", data={"csrf_token": token, "name": "x"}).status_code == 403
    refused = editor.post(f"/admin/tokens/{token_id}/revoke", data={"csrf_token": token})
    assert refused.status_code == 403
    with app.app_context():
        assert db.session.scalar(select(ApiToken.revoked_at)) is None
    assert "API tokens" not in editor.get("/admin/").get_data(as_text=True)
    assert "API tokens" in owner.get("/admin/").get_data(as_text=True)
