"""Two-factor sign-in: enrol from the account page, then a code after the password."""

import hashlib
import re
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import select

from newsletters.extensions import db
from newsletters.models import AdminUser, AuditLog, utcnow
from newsletters.models.admin import AdminRecoveryCode
from newsletters.services.console import two_factor
from tests.support.admin import PASSWORD, action_token, create_admin, enter_code, sign_in
from tests.support.reader import csrf_token_in

OWNER = "owner@publisher.example"
EDITOR = "editor@publisher.example"
SECRET = re.compile(r"<code>([A-Z2-7]{32})</code>")
RECOVERY = re.compile(r"<code>([a-z2-9]{5}-[a-z2-9]{5})</code>")


def _enrol(client, pages: list | None = None) -> tuple[pyotp.TOTP, list[str]]:
    """Turn two-factor sign-in on from the account page, as an admin with a phone would;
    the page of recovery codes goes in ``pages`` when given."""
    started = client.post(
        "/admin/account/two-factor", data={"csrf_token": action_token(client, "/admin/account")}
    )
    assert started.status_code == 302
    page = client.get("/admin/account").get_data(as_text=True)
    totp = pyotp.TOTP(SECRET.search(page)[1])
    assert "otpauth://totp/" in page and totp.secret in page
    confirmed = client.post(
        "/admin/account/two-factor/confirm",
        data={"csrf_token": csrf_token_in(page.split('id="otpauth-uri"')[1]), "code": totp.now()},
    )
    assert confirmed.status_code == 200, confirmed.get_data(as_text=True)
    assert confirmed.headers["Cache-Control"] == "no-store"
    if pages is not None:
        pages.append(confirmed.get_data(as_text=True))
    codes = RECOVERY.findall(confirmed.get_data(as_text=True))
    assert len(codes) == 10 and len(set(codes)) == 10
    return totp, codes


def _later_code(totp: pyotp.TOTP, seconds: int) -> str:
    """The code the app will show ``seconds`` from now."""
    return totp.at(utcnow() + timedelta(seconds=seconds))


def _password_step(app, email: str = OWNER, ip: str = "203.0.113.5"):
    """A new browser that has given the right password; returns it and the answer."""
    browser = app.test_client()
    browser.environ_base["REMOTE_ADDR"] = ip
    return browser, sign_in(browser, email)


@pytest.fixture
def enrolled(app, client):
    """The owner, with two-factor sign-in on: their app and their recovery codes."""
    sign_in(client, create_admin(app, OWNER))
    return _enrol(client)


def test_enrol_then_sign_in_with_a_code_from_the_app(app, client):
    sign_in(client, create_admin(app, OWNER))
    copy = app.test_client()
    copy.set_cookie("session", client.get_cookie("session").value)
    totp, _ = _enrol(client)
    # Turning it on ends the sessions signed in with the password alone, except this one.
    assert client.get("/admin/subscribers").status_code == 200
    assert copy.get("/admin/subscribers").status_code == 302

    browser, answer = _password_step(app)
    assert answer.status_code == 302 and answer.location == "/admin/login/code"
    assert browser.get("/admin/subscribers").status_code == 302  # not in yet
    signed_in = enter_code(browser, _later_code(totp, 30))
    assert signed_in.status_code == 302 and signed_in.location == "/admin/"
    assert browser.get("/admin/subscribers").status_code == 200
    with app.app_context():
        entry = db.session.scalar(select(AuditLog).order_by(AuditLog.id.desc()))
        assert entry.action == "admin.login"
        assert entry.detail == {"second_factor": two_factor.APP}


def test_the_page_of_recovery_codes_belongs_to_the_new_session(app, client):
    sign_in(client, create_admin(app, OWNER))
    pages = []
    _enrol(client, pages)
    signed_out = client.post("/admin/logout", data={"csrf_token": csrf_token_in(pages[0])})
    assert signed_out.status_code == 302 and signed_out.location == "/admin/login"
    assert client.get("/admin/").status_code == 302


def test_a_code_is_good_once(app, enrolled, monkeypatch):
    totp, _ = enrolled
    code = _later_code(totp, 30)
    first, _ = _password_step(app)
    assert enter_code(first, code).status_code == 302
    second, _ = _password_step(app, ip="203.0.113.6")
    reused = enter_code(second, code)
    assert reused.status_code == 400
    assert "code didn&#39;t work" in reused.get_data(as_text=True)
    assert second.get("/admin/subscribers").status_code == 302
    # The next code, thirty seconds on, is fresh and works.
    moment = utcnow() + timedelta(seconds=60)
    monkeypatch.setattr(two_factor, "utcnow", lambda: moment)
    assert enter_code(second, totp.at(moment)).status_code == 302


def test_codes_from_far_off_steps_are_refused(app, enrolled):
    totp, _ = enrolled
    browser, _ = _password_step(app)
    for seconds in (-120, 120):
        assert enter_code(browser, _later_code(totp, seconds)).status_code == 400


def test_a_recovery_code_works_once(app, enrolled):
    _, codes = enrolled
    first, _ = _password_step(app)
    signed_in = enter_code(first, codes[0].upper().replace("-", " "))
    assert signed_in.status_code == 302
    assert "Recovery codes left: <strong>9</strong>" in first.get("/admin/account").get_data(
        as_text=True
    )
    second, _ = _password_step(app, ip="203.0.113.6")
    assert enter_code(second, codes[0]).status_code == 400
    assert enter_code(second, codes[1]).status_code == 302
    with app.app_context():
        entry = db.session.scalar(select(AuditLog).order_by(AuditLog.id.desc()))
        assert entry.detail == {"second_factor": two_factor.RECOVERY}


def test_recovery_codes_are_kept_only_as_hashes(app, enrolled):
    _, codes = enrolled
    with app.app_context():
        stored = set(db.session.scalars(select(AdminRecoveryCode.code_hash)))
    plain = [code.replace("-", "") for code in codes]
    assert stored == {hashlib.sha256(code.encode()).hexdigest() for code in plain}
    assert not any(code in hashed for code in plain for hashed in stored)


def test_wrong_codes_send_the_browser_back_to_the_password_and_count(app, enrolled):
    browser, _ = _password_step(app)
    answers = [enter_code(browser, "000000") for _ in range(4)]
    assert [a.status_code for a in answers] == [400] * 4
    last = browser.post(
        "/admin/login/code",
        data={"csrf_token": csrf_token_in(answers[-1].get_data(as_text=True)), "code": "000000"},
    )
    assert last.status_code == 302 and last.location == "/admin/login"
    assert browser.get("/admin/login/code").location == "/admin/login"
    # The wrong codes count against the address, like wrong passwords.
    assert sign_in(browser, OWNER).status_code == 429


def test_the_code_step_needs_a_fresh_password_step(app, enrolled, monkeypatch):
    from newsletters.admin import sessions

    nobody = app.test_client()
    assert nobody.get("/admin/login/code").location == "/admin/login"
    browser, _ = _password_step(app)
    token = csrf_token_in(browser.get("/admin/login/code").get_data(as_text=True))
    moment = utcnow() + timedelta(minutes=6)
    monkeypatch.setattr(sessions, "utcnow", lambda: moment)
    late = browser.post("/admin/login/code", data={"csrf_token": token, "code": "123456"})
    assert late.status_code == 302 and late.location == "/admin/login"


def test_turning_it_off_needs_the_password(app, client, enrolled):
    url = "/admin/account/two-factor/disable"
    refused = client.post(
        url, data={"csrf_token": action_token(client, "/admin/account"), "password": "guess"}
    )
    assert refused.status_code == 400
    with app.app_context():
        assert db.session.scalar(select(AdminUser.totp_confirmed_at)) is not None
    turned_off = client.post(
        url, data={"csrf_token": action_token(client, "/admin/account"), "password": PASSWORD}
    )
    assert turned_off.status_code == 302
    browser, answer = _password_step(app)
    assert answer.location == "/admin/"


def test_an_owner_resets_another_admins_two_factor_from_the_team_page(app, client):
    sign_in(client, create_admin(app, OWNER))
    editor = app.test_client()
    sign_in(editor, create_admin(app, EDITOR, "editor"))
    _enrol(editor)
    assert "Reset" in client.get("/admin/team").get_data(as_text=True)
    with app.app_context():
        target = db.session.scalar(select(AdminUser).where(AdminUser.email == EDITOR))
        url = f"/admin/team/{target.uuid}/two-factor/reset"
    reset = client.post(url, data={"csrf_token": action_token(client, "/admin/team")})
    assert reset.status_code == 302
    assert editor.get("/admin/").status_code == 302  # their sessions ended
    browser, answer = _password_step(app, EDITOR)
    assert answer.location == "/admin/"  # the password alone, until they enrol again
    with app.app_context():
        entry = db.session.scalar(select(AuditLog).where(AuditLog.action.like("%two_factor_reset")))
        assert (entry.admin_email, entry.target) == (OWNER, EDITOR)
        assert db.session.scalar(select(AdminRecoveryCode.id)) is None


def test_an_owner_cannot_reset_their_own_from_the_team_page(app, client, enrolled):
    with app.app_context():
        url = f"/admin/team/{db.session.scalar(select(AdminUser.uuid))}/two-factor/reset"
    client.post(url, data={"csrf_token": action_token(client, "/admin/team")})
    with app.app_context():
        assert db.session.scalar(select(AdminUser.totp_confirmed_at)) is not None


def test_flask_admin_reset_2fa(app, runner, enrolled):
    result = runner.invoke(args=["admin", "reset-2fa", OWNER])
    assert result.exit_code == 0, result.output
    with app.app_context():
        admin = db.session.scalar(select(AdminUser))
        assert admin.totp_secret is None and not admin.two_factor_enabled
        entry = db.session.scalar(select(AuditLog).order_by(AuditLog.id.desc()))
        assert (entry.action, entry.admin_email) == ("admin.two_factor_reset", "command line")
    unknown = runner.invoke(args=["admin", "reset-2fa", "nobody@publisher.example"])
    assert unknown.exit_code == 1 and "not an administrator" in unknown.output
