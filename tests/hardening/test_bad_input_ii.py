"""Bad input the first sweep missed: each is a clear 400 (or 404), never a 500 or a 503
that blames the database, and changes nothing. On SQLite and on PostgreSQL alike."""

import pytest
from flask_wtf import FlaskForm

import newsletters.admin.views  # noqa: F401 - every view module, with its forms
from newsletters.admin.forms import ConsoleForm
from newsletters.extensions import db
from newsletters.http import MAX_ROW_ID, refuse_control_characters
from newsletters.services.console import api_tokens
from newsletters.services.mail import suppressions
from tests.support.admin import action_token, create_admin
from tests.support.reader import add_demo_newsletters, csrf_token_in, sign_up, snapshot
from tests.support.rows import row_counts

READER = "reader@example.com"
DEPTH = 100_000
DEEP_BODIES = ["[" * DEPTH + "]" * DEPTH, '{"a":' * DEPTH + "1" + "}" * DEPTH]
TOO_BIG = "9" * 40


@pytest.fixture(autouse=True)
def demo(app):
    add_demo_newsletters(app)


@pytest.fixture
def api_token(app) -> str:
    with app.app_context():
        _, secret = api_tokens.create_token("cms")
    return secret


def _refused(response, status: int = 400) -> str:
    assert response.status_code == status, response.status_code
    return response.get_data(as_text=True)


# --- JSON nested deeper than Python recurses ------------------------------------------------


@pytest.mark.parametrize("body", DEEP_BODIES, ids=["array", "object"])
def test_deep_json_to_the_api_is_a_400_in_the_error_shape(app, client, api_token, body):
    before = row_counts(app)
    for path, headers in [
        ("/api/v1/subscriptions", {}),
        ("/api/v1/stories", {"Authorization": f"Bearer {api_token}"}),
    ]:
        response = client.post(path, data=body, content_type="application/json", headers=headers)
        assert response.status_code == 400, (path, response.status_code)
        error = response.get_json()["error"]
        assert error["code"] and error["message"], path
    assert row_counts(app) == before


@pytest.mark.parametrize("body", DEEP_BODIES, ids=["array", "object"])
def test_deep_json_to_the_form_endpoints_is_a_400(app, client, body):
    token = csrf_token_in(client.get("/admin/login").get_data(as_text=True))
    before = row_counts(app)
    for path in ["/subscribe", "/preferences", "/admin/login"]:
        response = client.post(
            path, data=body, content_type="application/json", headers={"X-CSRFToken": token}
        )
        assert response.status_code == 400, (path, response.status_code)
    assert row_counts(app) == before


@pytest.mark.parametrize(
    "body", ["5", '"owner@publisher.example"', '{"email": {"a": 1}, "password": ["x"]}']
)
def test_the_sign_in_form_reads_no_json_at_all(app, client, body):
    create_admin(app, "owner@publisher.example")
    token = csrf_token_in(client.get("/admin/login").get_data(as_text=True))
    response = client.post(
        "/admin/login", data=body, content_type="application/json", headers={"X-CSRFToken": token}
    )
    _refused(response)
    assert client.get("/admin/").status_code == 302  # still signed out


@pytest.mark.parametrize("path", ["/admin/suppressions", "/admin/tokens"])
def test_a_console_form_sent_as_json_saves_nothing(app, owner, path):
    before = row_counts(app)
    response = owner.post(
        path,
        json={"email": {"x": 1}, "note": ["a", "b"], "name": 5, "origins": 5, "scopes": 5},
        headers={"X-CSRFToken": action_token(owner)},
    )
    assert response.status_code < 500
    assert row_counts(app) == before


def test_every_console_form_takes_form_fields_only():
    """Each console form is a ConsoleForm: submitted by POST, never read from JSON."""

    def every_subclass(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from every_subclass(sub)

    stray = [
        f"{form.__module__}.{form.__name__}"
        for form in every_subclass(FlaskForm)
        if form.__module__.startswith("newsletters.admin") and not issubclass(form, ConsoleForm)
    ]
    assert not stray, stray


# --- numbers a database cannot hold ----------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        f"/admin/subscribers?after={TOO_BIG}",
        f"/admin/subscribers?before={TOO_BIG}",
        f"/admin/subscribers?after={MAX_ROW_ID + 1}",
        f"/admin/subscribers?after={2**63}",
        "/admin/subscribers?after=%C2%B2",  # "²" is a digit to str.isdigit, not to int()
        "/admin/subscribers?before=-1",
        f"/admin/audit?before={TOO_BIG}",
        f"/admin/suppressions?before={TOO_BIG}",
    ],
)
def test_a_page_cursor_out_of_range_is_a_400(owner, query):
    assert "must be a whole number" in _refused(owner.get(query))


def test_the_largest_cursor_a_database_holds_is_fine(owner):
    for query in [
        "/admin/subscribers?after=",
        "/admin/audit?before=",
        "/admin/suppressions?before=",
    ]:
        assert owner.get(f"{query}{MAX_ROW_ID}").status_code == 200, query


def test_removing_a_suppression_by_an_impossible_id_is_a_404(app, owner):
    with app.app_context():
        suppressions.add_manual("gone@example.com", "asked by phone")
    before = row_counts(app)
    token = action_token(owner)
    for suppression_id in [TOO_BIG, 2**63, MAX_ROW_ID + 1]:
        response = owner.post(
            f"/admin/suppressions/{suppression_id}/remove", data={"csrf_token": token}
        )
        _refused(response, 404)
    assert row_counts(app) == before


def test_revoking_a_token_by_an_impossible_id_is_a_404(app, owner):
    before = row_counts(app)
    token = action_token(owner)
    for token_id in [TOO_BIG, 2**63, MAX_ROW_ID + 1]:
        _refused(owner.post(f"/admin/tokens/{token_id}/revoke", data={"csrf_token": token}), 404)
    assert row_counts(app) == before


def test_every_number_in_a_route_is_bounded_by_what_the_database_holds(app):
    """A route that takes a row id refuses, as a 404, one no database column can hold."""
    unbounded = [
        f"{rule.rule} ({name})"
        for rule in app.url_map.iter_rules()
        for name, converter in rule._converters.items()
        if converter.__class__.__name__ == "IntegerConverter"
        and (converter.max is None or converter.max > MAX_ROW_ID)
    ]
    assert not unbounded, unbounded


# --- NUL and other control characters --------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/admin/subscribers?q=a%00b",
        "/admin/subscribers?newsletter=%00",
        "/admin/subscribers?status=active%00",
        "/admin/subscribers?q=%01",
        "/admin/stories?newsletter=the-weekly%00",
        "/admin/issues/the-weekly%00/preview",
        "/admin/audit?before=1%00",
        "/admin/suppressions?before=%00",
    ],
)
def test_control_characters_in_the_url_are_a_400_not_an_outage(owner, path):
    assert "control character" in _refused(owner.get(path))


def test_nul_in_a_console_form_adds_nothing(app, owner):
    before = row_counts(app)
    response = owner.post(
        "/admin/suppressions",
        data={"csrf_token": action_token(owner), "email": "a@example.com", "note": "a\x00b"},
    )
    assert "control character" in _refused(response)
    assert row_counts(app) == before


def test_line_breaks_in_a_text_area_are_still_text(app, owner):
    response = owner.post(
        "/admin/stories/new",
        data={
            "csrf_token": action_token(owner),
            "newsletter": "the-weekly",
            "title": "Two paragraphs",
            "url": "https://news.example/two",
            "summary": "First.\r\n\r\nSecond,\twith a tab.",
        },
    )
    assert response.status_code == 302


def test_nul_in_a_signup_is_a_400_and_signs_nobody_up(app, client):
    before = snapshot(app)
    _refused(sign_up(client, "a\x00b@example.com", "the-weekly"))
    _refused(sign_up(client, READER, "the-weekly", headers={"User-Agent": "Bot\x00"}))
    _refused(client.post("/api/v1/subscriptions", json={"email": "a\x00@example.com"}))
    _refused(client.post("/api/v1/subscriptions", json={"email": READER, "newsletters": ["x\x00"]}))
    assert snapshot(app) == before


def test_nul_in_a_story_from_the_api_is_a_400(app, client, api_token):
    before = row_counts(app)
    story = {"newsletter": "the-weekly", "title": "T", "url": "https://news.example/1"}
    for change in [{"summary": "a\x00b"}, {"newsletter": "the-weekly\x00"}, {"t\x00": 1}]:
        response = client.post(
            "/api/v1/stories",
            json={**story, **change},
            headers={"Authorization": f"Bearer {api_token}"},
        )
        assert response.status_code == 400, change
        assert response.get_json()["error"]["code"] == "invalid_input"
    assert row_counts(app) == before


@pytest.mark.parametrize(
    "change",
    [
        {"newsletter": ["the-weekly"]},
        {"newsletter": {"slug": "the-weekly"}},
        {"published_at": "9999-12-31T23:59:59-05:00"},
        {"published_at": "0001-01-01T00:00:00+05:00"},
    ],
)
def test_a_story_the_api_cannot_file_is_a_400(app, client, api_token, change):
    story = {"newsletter": "the-weekly", "title": "T", "url": "https://news.example/1"}
    before = row_counts(app)
    response = client.post(
        "/api/v1/stories",
        json={**story, **change},
        headers={"Authorization": f"Bearer {api_token}"},
    )
    assert response.status_code == 400, response.status_code
    assert response.get_json()["error"]["code"] == "invalid_input"
    assert row_counts(app) == before


# --- when a value gets past the input anyway: the database refusing it is no outage ----------


@pytest.fixture
def unchecked(app):
    """The app without its input check, as if a value had found another way in."""
    app.load_routes()  # the check is set up with the pages, before the first request
    app.before_request_funcs[None].remove(refuse_control_characters)
    return app


def _stores_nul(app) -> bool:
    with app.app_context():
        return db.engine.dialect.name == "sqlite"


def test_a_value_the_database_refuses_is_a_400_from_the_console(unchecked, owner):
    response = owner.get("/admin/subscribers?q=a%00b")
    if _stores_nul(unchecked):
        assert response.status_code == 200
    else:
        assert "be stored" in _refused(response)


def test_a_value_the_database_refuses_is_a_400_from_the_reader_pages(unchecked, client):
    before = snapshot(unchecked)
    response = sign_up(client, READER, "the-weekly", headers={"User-Agent": "Bot\x00"})
    if _stores_nul(unchecked):
        assert response.status_code == 200
    else:
        assert "be stored" in _refused(response)
        assert snapshot(unchecked) == before


def test_a_value_the_database_refuses_is_a_400_from_the_api(unchecked, client):
    before = snapshot(unchecked)
    response = client.post(
        "/api/v1/subscriptions",
        json={"email": READER, "newsletters": ["the-weekly"]},
        headers={"User-Agent": "Bot\x00"},
    )
    if _stores_nul(unchecked):
        assert response.status_code == 202
    else:
        assert response.status_code == 400
        assert response.get_json()["error"]["code"] == "invalid_input"
        assert snapshot(unchecked) == before
