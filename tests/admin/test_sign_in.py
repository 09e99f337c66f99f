"""Signing in: every address gets the same answer, and no stranger can lock an owner out."""

import re

import pytest
import redis
from sqlalchemy import select, update

from newsletters.extensions import db
from newsletters.models import AdminUser, utcnow
from tests.support.admin import PASSWORD, action_token, create_admin, sign_in
from tests.support.reader import csrf_token_in
from tests.support.stack import flask

OWNER = "owner@publisher.example"
NOBODY = "nobody@publisher.example"
WRONG = "not the password at all"
# docs/admin.md: no sign-in wait is longer than 15 minutes.
DOCUMENTED_WINDOW = 15 * 60
CSRF_VALUE = re.compile(r'(name="csrf_token" type="hidden" value=")[^"]*(")')
# Times that move on between two requests made a moment apart.
CLOCK_HEADERS = {"Retry-After", "X-RateLimit-Reset"}


class Browser:
    """A test client with an IP address of its own and the login form's CSRF token."""

    def __init__(self, app, ip: str):
        self.client = app.test_client()
        self.client.environ_base["REMOTE_ADDR"] = ip
        self.token = csrf_token_in(self.client.get("/admin/login").get_data(as_text=True))

    def attempt(self, email: str, password: str = WRONG, ip: str | None = None):
        """One sign-in POST, from this browser's address or ``ip``."""
        if ip:
            self.client.environ_base["REMOTE_ADDR"] = ip
        data = {"csrf_token": self.token, "email": email, "password": password}
        return self.client.post("/admin/login", data=data)


def _answer(response, typed: str) -> tuple:
    """Status, body without the CSRF token or the address typed, and headers without dates
    and cookie values."""
    body = CSRF_VALUE.sub(r"\1\2", response.get_data(as_text=True)).replace(typed, "ADDRESS")
    headers = []
    for name, value in response.headers.items():
        if name in CLOCK_HEADERS or name in ("Date", "X-Request-ID"):
            continue  # the time, and each request's own random id
        if name == "Content-Length":
            continue  # follows the address typed; the body is compared instead
        if name == "Set-Cookie":
            cookie_name, _, attributes = value.partition(";")
            value = cookie_name.split("=", 1)[0] + ";" + attributes
        headers.append((name, value))
    return response.status_code, body, sorted(headers)


def _clock(response) -> dict[str, int]:
    """The headers that carry a time, as numbers."""
    return {name: int(response.headers[name]) for name in CLOCK_HEADERS if name in response.headers}


def _assert_same(known, unknown, tries: int) -> None:
    """The two answers match; each response carries the address it was asked about."""
    assert _answer(*known) == _answer(*unknown), f"after {tries} wrong tries"
    known, unknown = known[0], unknown[0]
    known_clock, unknown_clock = _clock(known), _clock(unknown)
    assert known_clock.keys() == unknown_clock.keys(), f"after {tries} wrong tries"
    for name, value in known_clock.items():
        assert abs(value - unknown_clock[name]) <= 2, (name, tries)


@pytest.fixture
def kinds(app):
    """Real addresses of every kind: an owner, a disabled editor, an editor with two-factor
    sign-in."""
    create_admin(app, OWNER)
    create_admin(app, "away@publisher.example", "editor")
    create_admin(app, "careful@publisher.example", "editor")
    with app.app_context():
        db.session.execute(
            update(AdminUser)
            .where(AdminUser.email == "away@publisher.example")
            .values(is_enabled=False)
        )
        db.session.execute(
            update(AdminUser)
            .where(AdminUser.email == "careful@publisher.example")
            .values(totp_secret="JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", totp_confirmed_at=utcnow())
        )
        db.session.commit()
    return [OWNER, "away@publisher.example", "careful@publisher.example"]


@pytest.mark.parametrize("tries", [1, 5, 20])
def test_known_and_unknown_addresses_get_the_same_answer_from_one_ip(app, kinds, tries):
    for n, known_address in enumerate(kinds):
        known = Browser(app, f"192.0.2.{10 + n}")
        unknown = Browser(app, f"198.51.100.{10 + n}")
        stranger = f"nobody{n}@publisher.example"
        for attempt in range(1, tries + 2):  # and the answer after them
            _assert_same(
                (known.attempt(known_address), known_address),
                (unknown.attempt(stranger), stranger),
                attempt,
            )


@pytest.mark.parametrize("tries", [1, 5, 20])
def test_known_and_unknown_addresses_get_the_same_answer_from_many_ips(app, kinds, tries):
    for n, known_address in enumerate(kinds):
        known, unknown = Browser(app, "192.0.2.1"), Browser(app, "198.51.100.1")
        stranger = f"nobody{n}@publisher.example"
        for attempt in range(1, tries + 2):  # and the answer after them
            _assert_same(
                (known.attempt(known_address, ip=f"192.0.{n}.{attempt}"), known_address),
                (unknown.attempt(stranger, ip=f"198.51.{n}.{attempt}"), stranger),
                attempt,
            )


def test_the_throttled_answer_is_the_same_even_with_the_right_password(app, kinds):
    known, unknown = Browser(app, "192.0.2.1"), Browser(app, "198.51.100.1")
    for attempt in range(1, 7):
        _assert_same(
            (known.attempt(OWNER, ip=f"192.0.2.{attempt}"), OWNER),
            (unknown.attempt(NOBODY, ip=f"198.51.100.{attempt}"), NOBODY),
            attempt,
        )
    right = known.attempt(OWNER, PASSWORD, ip="192.0.2.99")
    _assert_same((right, OWNER), (unknown.attempt(NOBODY, PASSWORD, ip="198.51.100.99"), NOBODY), 7)
    assert right.status_code == 429


def test_strangers_on_many_ips_cannot_lock_the_owner_out_of_a_known_device(app):
    create_admin(app, OWNER)
    owner = Browser(app, "203.0.113.7")
    assert owner.attempt(OWNER, PASSWORD).status_code == 302  # this browser is now known
    owner.client.post("/admin/logout", data={"csrf_token": action_token(owner.client)})
    owner.token = csrf_token_in(owner.client.get("/admin/login").get_data(as_text=True))

    attacker = Browser(app, "198.51.100.1")
    for n in range(100):
        refused = attacker.attempt(OWNER, ip=f"198.51.{n // 200}.{n % 200 + 1}")
        assert refused.status_code in (400, 429)
        assert int(refused.headers.get("Retry-After", 0)) <= DOCUMENTED_WINDOW
    # Strangers stay slowed down, even one who now types the right password...
    assert attacker.attempt(OWNER, PASSWORD, ip="198.51.100.250").status_code == 429
    # ...but the owner's own browser walks in.
    signed_in = owner.attempt(OWNER, PASSWORD)
    assert signed_in.status_code == 302 and signed_in.location == "/admin/"
    assert owner.client.get("/admin/subscribers").status_code == 200


def test_retry_after_never_exceeds_the_documented_window(app):
    create_admin(app, OWNER)
    one_ip = Browser(app, "198.51.100.1")
    waits = []
    for n in range(40):
        response = one_ip.attempt(f"guess{n % 3}@publisher.example")
        if response.status_code == 429:
            waits.append(int(response.headers["Retry-After"]))
    many_ips = Browser(app, "198.51.100.2")
    for n in range(40):
        response = many_ips.attempt(OWNER, ip=f"203.0.113.{n + 1}")
        if response.status_code == 429:
            waits.append(int(response.headers["Retry-After"]))
    assert len(waits) > 40
    assert all(0 <= wait <= DOCUMENTED_WINDOW for wait in waits), max(waits)
    assert "15 minutes" in waits_page(one_ip)


def waits_page(browser) -> str:
    """The page a throttled browser sees."""
    return browser.attempt(OWNER).get_data(as_text=True)


def test_a_known_device_is_still_slowed_down_on_its_own(app):
    create_admin(app, OWNER)
    owner = Browser(app, "203.0.113.7")
    assert owner.attempt(OWNER, PASSWORD).status_code == 302
    owner.client.post("/admin/logout", data={"csrf_token": action_token(owner.client)})
    owner.token = csrf_token_in(owner.client.get("/admin/login").get_data(as_text=True))
    # A stolen device cookie guesses no faster than anyone else...
    codes = [owner.attempt(OWNER, ip=f"203.0.113.{n + 10}").status_code for n in range(6)]
    assert codes == [400] * 5 + [429]
    # ...and what it did slows down only itself: a stranger's browser still gets its turn.
    assert Browser(app, "192.0.2.1").attempt(OWNER, PASSWORD).status_code == 302


def test_a_forged_or_another_accounts_device_cookie_is_no_exemption(app):
    from newsletters.admin import sign_in_limits

    create_admin(app, OWNER)
    create_admin(app, "editor@publisher.example", "editor")
    editor = Browser(app, "203.0.113.8")
    assert editor.attempt("editor@publisher.example", PASSWORD).status_code == 302
    editor.client.post("/admin/logout", data={"csrf_token": action_token(editor.client)})
    editor.token = csrf_token_in(editor.client.get("/admin/login").get_data(as_text=True))
    forger = Browser(app, "192.0.2.50")
    forger.client.set_cookie(sign_in_limits.DEVICE_COOKIE, "forged.cookie.value", path="/admin")
    for n in range(5):
        assert editor.attempt(OWNER, ip=f"203.0.113.{n + 20}").status_code == 400
    assert editor.attempt(OWNER, PASSWORD, ip="203.0.113.40").status_code == 429
    assert forger.attempt(OWNER, PASSWORD).status_code == 429


def test_admin_unlock_lets_the_owner_in_from_a_new_browser(app, runner):
    create_admin(app, OWNER)
    attacker = Browser(app, "198.51.100.1")
    for n in range(6):
        attacker.attempt(OWNER, ip=f"198.51.100.{n + 1}")
    new_laptop = Browser(app, "203.0.113.9")
    assert new_laptop.attempt(OWNER, PASSWORD).status_code == 429
    result = runner.invoke(args=["admin", "unlock", "Owner@Publisher.example"])
    assert result.exit_code == 0, result.output
    assert "owner@publisher.example" in result.output
    assert new_laptop.attempt(OWNER, PASSWORD).status_code == 302
    unknown = runner.invoke(args=["admin", "unlock", NOBODY])
    assert unknown.exit_code == 1 and "not an administrator" in unknown.output


def test_every_refusal_runs_one_password_hash(app, monkeypatch):
    from newsletters.services.console import admins

    create_admin(app, OWNER)
    create_admin(app, "away@publisher.example", "editor")
    with app.app_context():
        admin = db.session.scalar(select(AdminUser).where(AdminUser.email.like("away%")))
        admin.is_enabled = False
        db.session.commit()
    checked = []
    real = admins.password_matches
    monkeypatch.setattr(admins, "password_matches", lambda *a: checked.append(1) or real(*a))
    browser = Browser(app, "198.51.100.1")
    for n, email in enumerate([OWNER, NOBODY, "away@publisher.example", "not an address"]):
        checked.clear()
        assert browser.attempt(email, ip=f"198.51.100.{n + 1}").status_code == 400
        assert checked == [1], email


def test_signing_in_from_a_proxy_counts_the_client_not_the_proxy(settings, make_app):
    app = make_app({**settings, "PROXY_COUNT": 1})
    create_admin(app, OWNER)
    proxy = Browser(app, "127.0.0.1")
    for n in range(12):
        proxy.client.environ_base["HTTP_X_FORWARDED_FOR"] = f"198.51.100.{n + 1}"
        assert proxy.attempt(f"guess{n}@publisher.example").status_code == 400
    assert sign_in(app.test_client(), OWNER).status_code == 302


def test_counts_live_in_redis_and_unlock_reaches_them_from_another_process(
    settings, make_app, redis_url
):
    import secrets

    shared = {**settings, "RATELIMIT_STORAGE_URI": redis_url}
    web = make_app(shared)
    # Redis outlives the test: this run's address is its own.
    owner = create_admin(web, f"owner-{secrets.token_hex(6)}@publisher.example")
    attacker = Browser(web, "198.51.100.1")
    for n in range(6):
        attacker.attempt(owner, ip=f"198.51.100.{n + 1}")
    new_laptop = Browser(web, "203.0.113.9")
    assert new_laptop.attempt(owner, PASSWORD).status_code == 429
    store = redis.Redis.from_url(redis_url)
    assert list(store.scan_iter(match="*admin-account*")), "the limiter did not count in Redis"
    unlocked = flask(shared, "admin", "unlock", owner)  # run by an operator: its own process
    assert unlocked.returncode == 0, unlocked.stdout + unlocked.stderr
    assert f"{owner} may sign in again" in unlocked.stdout
    assert new_laptop.attempt(owner, PASSWORD).status_code == 302
