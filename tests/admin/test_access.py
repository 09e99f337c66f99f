"""Nobody gets into /admin without signing in; editors don't get what only owners may do."""

import uuid

import pytest
from sqlalchemy import func, select

from newsletters.extensions import db
from newsletters.models import AdminUser, AuditLog
from tests.support.admin import PASSWORD, action_token, create_admin, sign_in
from tests.support.reader import csrf_token_in

OWNER_ONLY = {
    "admin.team",
    "admin.erase_subscriber",
    "admin.api_tokens_page",
    "admin.revoke_api_token",
    "admin.reset_two_factor",
    "admin.webhooks_page",
    "admin.webhook_page",
    "admin.disable_webhook",
    "admin.enable_webhook",
    "admin.replay_webhook_delivery",
}
SIGN_IN_PAGES = {"admin.login", "admin.login_code"}


def _admin_urls(app):
    """Every /admin URL rule with sample values, and its methods."""
    samples = {
        "uuid": str(uuid.uuid4()),
        "slug": "the-weekly",
        "key": "the-weekly",  # an issue's id, or a newsletter's slug (its next issue)
        "suppression_id": 1,
        "token_id": 1,
        "endpoint_id": str(uuid.uuid4()),
        "delivery_id": str(uuid.uuid4()),
    }
    with app.test_request_context():
        from flask import url_for

        for rule in app.url_map.iter_rules():
            if not rule.rule.startswith("/admin") or rule.endpoint in SIGN_IN_PAGES:
                continue
            values = {name: samples[name] for name in rule.arguments}
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield rule.endpoint, method, url_for(rule.endpoint, **values)


def test_the_walk_covers_the_whole_console(app):
    endpoints = {endpoint for endpoint, _, _ in _admin_urls(app)}
    assert len(endpoints) >= 25
    assert {"admin.dashboard", "admin.erase_subscriber", "admin.apply_import"} <= endpoints


def test_every_admin_page_and_action_needs_a_signed_in_admin(app, client):
    token = csrf_token_in(client.get("/admin/login").get_data(as_text=True))
    with app.app_context():
        before = db.session.scalar(select(func.count()).select_from(AuditLog))
    for endpoint, method, url in _admin_urls(app):
        if method == "GET":
            response = client.get(url)
            assert response.status_code == 302, endpoint
            assert response.location.startswith("/admin/login?next="), endpoint
        else:
            response = client.post(url, data={"csrf_token": token})
            assert response.status_code == 401, endpoint
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AuditLog)) == before


def test_editors_cannot_manage_admins_or_erase_readers(app, editor):
    token = action_token(editor)
    for endpoint, method, url in _admin_urls(app):
        if endpoint not in OWNER_ONLY:
            continue
        response = (
            editor.get(url) if method == "GET" else editor.post(url, data={"csrf_token": token})
        )
        assert response.status_code == 403, (endpoint, method)
    assert "Team" not in editor.get("/admin/").get_data(as_text=True)


def test_signing_in_and_out(app, client):
    create_admin(app, "owner@publisher.example")
    refused = sign_in(client, "owner@publisher.example", "wrong password")
    assert refused.status_code == 400
    assert "don't match" in refused.get_data(as_text=True).replace("&#39;", "'")
    signed_in = sign_in(client, "Owner@Publisher.example", next_url="/admin/subscribers")
    assert signed_in.status_code == 302 and signed_in.location == "/admin/subscribers"
    assert client.get("/admin/").status_code == 200
    client.post("/admin/logout", data={"csrf_token": action_token(client)})
    assert client.get("/admin/").status_code == 302


def test_next_cannot_lead_off_site(app, client):
    create_admin(app, "owner@publisher.example")
    for evil in ("https://evil.example/admin", "//evil.example/admin", "/public-page"):
        response = sign_in(client, "owner@publisher.example", next_url=evil)
        assert response.location == "/admin/", evil
        client.post("/admin/logout", data={"csrf_token": action_token(client)})


def test_five_failures_in_a_minute_slow_the_address_down(app, client):
    create_admin(app, "owner@publisher.example")
    for _ in range(5):
        sign_in(client, "owner@publisher.example", "wrong password")
    slowed = sign_in(client, "owner@publisher.example", PASSWORD)
    assert slowed.status_code == 429
    assert "Too many sign-in attempts" in slowed.get_data(as_text=True)
    assert 0 < int(slowed.headers["Retry-After"]) <= 60


def test_login_attempts_are_rate_limited(app, client):
    create_admin(app, "owner@publisher.example")
    codes = [sign_in(client, f"nobody{n}@example.com", "x").status_code for n in range(11)]
    assert codes[:10] == [400] * 10 and codes[10] == 429


def test_passwords_are_stored_as_argon2id_at_owasp_parameters(app):
    create_admin(app, "owner@publisher.example")
    with app.app_context():
        stored = db.session.scalar(select(AdminUser.password_hash))
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$") and PASSWORD not in stored


def test_an_older_scrypt_hash_still_signs_in_and_is_upgraded(app, client):
    from werkzeug.security import generate_password_hash

    create_admin(app, "owner@publisher.example")
    with app.app_context():
        admin = db.session.scalar(select(AdminUser))
        admin.password_hash = generate_password_hash(PASSWORD, method="scrypt")
        db.session.commit()
    assert sign_in(client, "owner@publisher.example").status_code == 302
    with app.app_context():
        assert db.session.scalar(select(AdminUser.password_hash)).startswith("$argon2id$")


def test_admin_create_prompts_for_the_password_twice(app, runner):
    result = runner.invoke(
        args=["admin", "create", "new@publisher.example"], input=f"{PASSWORD}\n{PASSWORD}\n"
    )
    assert result.exit_code == 0, result.output
    assert "can now sign in" in result.output
    mismatch = runner.invoke(
        args=["admin", "create", "other@publisher.example"],
        input="one password\ntwo password\n" * 3,
    )
    assert mismatch.exit_code != 0
    short = runner.invoke(args=["admin", "create", "x@publisher.example"], input="short\nshort\n")
    assert short.exit_code == 1 and "at least 12 characters" in short.output


@pytest.mark.parametrize("role", ["owner", "editor"])
def test_every_console_page_renders_for_a_signed_in_admin(app, client, role):
    sign_in(client, create_admin(app, f"{role}@publisher.example", role))
    for url in (
        "/admin/",
        "/admin/newsletters",
        "/admin/newsletters/new",
        "/admin/subscribers",
        "/admin/imports/new",
        "/admin/stories",
        "/admin/stories/new",
        "/admin/issues",
        "/admin/suppressions",
        "/admin/deliverability",
        "/admin/audit",
        "/admin/account",
    ):
        assert client.get(url).status_code == 200, url
