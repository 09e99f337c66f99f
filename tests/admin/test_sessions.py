"""Admin sessions end on the server: at sign-out, on a new password, when idle or old."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from newsletters.admin import sessions
from newsletters.extensions import db
from newsletters.models import AdminUser, AuditLog, utcnow
from tests.support.admin import PASSWORD, action_token, create_admin, sign_in
from tests.support.reader import csrf_token_in

OWNER = "owner@publisher.example"
NEW_PASSWORD = "violet submarine orchestra lantern"


@pytest.fixture
def owner_and_thief(app):
    """The owner's signed-in browser, and another holding a copy of its session cookie."""
    owner = app.test_client()
    assert sign_in(owner, create_admin(app, OWNER)).status_code == 302
    thief = app.test_client()
    thief.set_cookie("session", owner.get_cookie("session").value)
    assert thief.get("/admin/subscribers").status_code == 200
    return owner, thief


def _shut_out(client) -> bool:
    """True when the console sends this browser to the sign-in page and refuses its posts."""
    page = client.get("/admin/subscribers")
    sign_in_page = client.get("/admin/login")
    if page.status_code != 302 or sign_in_page.status_code != 200:
        return False
    token = csrf_token_in(sign_in_page.get_data(as_text=True))
    posted = client.post(
        "/admin/suppressions", data={"csrf_token": token, "email": "x@example.com", "note": "x"}
    )
    return page.location.startswith("/admin/login") and posted.status_code == 401


def _move_clock(monkeypatch, minutes: float) -> None:
    """Move the sessions' clock ``minutes`` on from now."""
    moment = utcnow() + timedelta(minutes=minutes)
    monkeypatch.setattr(sessions, "utcnow", lambda: moment)


def test_signing_out_kills_every_copy_of_the_session(app, owner_and_thief):
    owner, thief = owner_and_thief
    owner.post("/admin/logout", data={"csrf_token": action_token(owner)})
    assert _shut_out(thief)
    assert _shut_out(owner)
    with app.app_context():
        assert db.session.scalar(select(AuditLog.action).order_by(AuditLog.id.desc())) == (
            "admin.logout"
        )


def test_a_new_password_kills_every_other_session_and_keeps_this_one(app, owner_and_thief):
    owner, thief = owner_and_thief
    changed = owner.post(
        "/admin/account/password",
        data={
            "csrf_token": action_token(owner, "/admin/account"),
            "current_password": PASSWORD,
            "new_password": NEW_PASSWORD,
            "repeat_password": NEW_PASSWORD,
        },
    )
    assert changed.status_code == 302 and changed.location == "/admin/account"
    assert "Your password is changed" in owner.get("/admin/account").get_data(as_text=True)
    assert owner.get("/admin/subscribers").status_code == 200
    assert _shut_out(thief)
    stranger = app.test_client()
    assert sign_in(stranger, OWNER, PASSWORD).status_code == 400
    assert sign_in(stranger, OWNER, NEW_PASSWORD).status_code == 302


@pytest.mark.parametrize(
    ("field", "current", "new", "repeat", "message"),
    [
        ("current_password", "not my password", NEW_PASSWORD, NEW_PASSWORD, "not your current"),
        ("repeat_password", PASSWORD, NEW_PASSWORD, NEW_PASSWORD + "!", "not the same"),
        ("new_password", PASSWORD, "aaaaaaaaaaaa", "aaaaaaaaaaaa", "too easy to guess"),
    ],
)
def test_a_refused_password_change_changes_nothing(
    app, owner_and_thief, field, current, new, repeat, message
):
    owner, thief = owner_and_thief
    with app.app_context():
        before = db.session.scalar(select(AdminUser.password_hash))
    refused = owner.post(
        "/admin/account/password",
        data={
            "csrf_token": action_token(owner, "/admin/account"),
            "current_password": current,
            "new_password": new,
            "repeat_password": repeat,
        },
    )
    assert refused.status_code == 400
    assert message in refused.get_data(as_text=True)
    assert f'id="{field}-error"' in refused.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(AdminUser.password_hash)) == before
    assert thief.get("/admin/subscribers").status_code == 200


def test_guessing_the_current_password_on_the_account_page_is_slowed_down(app, owner_and_thief):
    owner, _ = owner_and_thief
    token = action_token(owner, "/admin/account")
    codes = [
        owner.post(
            "/admin/account/password",
            data={
                "csrf_token": token,
                "current_password": f"guess number {n}",
                "new_password": NEW_PASSWORD,
                "repeat_password": NEW_PASSWORD,
            },
        ).status_code
        for n in range(6)
    ]
    assert codes == [400] * 5 + [429]


def test_signing_out_of_all_other_sessions(app, owner_and_thief):
    owner, thief = owner_and_thief
    ended = owner.post(
        "/admin/account/sessions/end", data={"csrf_token": action_token(owner, "/admin/account")}
    )
    assert ended.status_code == 302
    assert owner.get("/admin/subscribers").status_code == 200
    assert _shut_out(thief)


def test_an_idle_session_ends_and_each_request_keeps_it_alive(app, client, monkeypatch):
    sign_in(client, create_admin(app, OWNER))
    for minutes in (29, 58, 87):  # each request within 30 minutes of the one before
        _move_clock(monkeypatch, minutes)
        assert client.get("/admin/subscribers").status_code == 200, minutes
    _move_clock(monkeypatch, 87 + 31)
    gone = client.get("/admin/subscribers")
    assert gone.status_code == 302 and gone.location.startswith("/admin/login")
    page = client.get(gone.location).get_data(as_text=True)
    assert "signed out after 30 minutes without activity" in page
    _move_clock(monkeypatch, 87 + 32)
    assert _shut_out(client)  # and it does not come back


def test_a_session_ends_after_its_longest_life_however_busy(app, client, monkeypatch):
    sign_in(client, create_admin(app, OWNER))
    minutes = 0
    while minutes < 12 * 60:
        assert client.get("/admin/").status_code == 200, minutes
        minutes += 25
        _move_clock(monkeypatch, minutes)
    gone = client.get("/admin/")
    assert gone.status_code == 302 and gone.location.startswith("/admin/login")
    assert "12 hours after signing in" in client.get(gone.location).get_data(as_text=True)
    assert _shut_out(client)


def test_the_session_limits_are_settings(settings, make_app, monkeypatch):
    app = make_app({**settings, "ADMIN_SESSION_IDLE_MINUTES": 5, "ADMIN_SESSION_MAX_HOURS": 1})
    client = app.test_client()
    sign_in(client, create_admin(app, OWNER))
    _move_clock(monkeypatch, 4)
    assert client.get("/admin/").status_code == 200
    _move_clock(monkeypatch, 10)
    assert _shut_out(client)


def test_a_session_without_its_token_or_clocks_is_refused(app, client):
    sign_in(client, create_admin(app, OWNER))
    with app.app_context():
        admin = db.session.scalar(select(AdminUser))
        public_id = str(admin.uuid)
    with client.session_transaction() as session:
        session["_user_id"] = public_id  # how sessions named an admin before tokens
    assert _shut_out(client)
    sign_in(client, OWNER)
    with client.session_transaction() as session:
        del session[sessions.SEEN_AT]
    assert _shut_out(client)


def test_the_upgrade_gives_every_existing_admin_a_token_of_their_own(app):
    from flask_migrate import downgrade, upgrade
    from sqlalchemy import text

    with app.app_context():
        downgrade(revision="92bd6de314bf")
        with db.engine.begin() as connection:
            for n in range(3):
                connection.execute(
                    text(
                        "INSERT INTO admin_user (uuid, email, password_hash, role, is_enabled, "
                        "failed_logins, created_at) VALUES (:uuid, :email, 'x', 'owner', :yes, 0, "
                        ":now)"
                    ),
                    {
                        "uuid": f"00000000-0000-0000-0000-00000000000{n}",
                        "email": f"admin{n}@publisher.example",
                        "yes": True,
                        "now": utcnow(),
                    },
                )
        upgrade()
        tokens = list(db.session.scalars(select(AdminUser.session_token)))
    assert len(tokens) == 3 and len(set(tokens)) == 3
    assert all(len(token) >= 40 for token in tokens)
