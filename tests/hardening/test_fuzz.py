"""Property-based: arbitrary input never breaks the forms, the links or the API."""

from urllib.parse import urlsplit

import pytest
import schemathesis
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import func, select

from newsletters.extensions import db, limiter
from newsletters.models import Subscriber, Subscription
from newsletters.services.mail.links import preferences_url
from tests.support.reader import add_demo_newsletters, csrf_token_in

SLUGS = ["the-weekly", "ai-digest", "climate-report", "morning-briefing"]
FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
text = st.text(max_size=300)
slug_lists = st.lists(st.one_of(st.sampled_from(SLUGS), text), max_size=6)


@pytest.fixture
def settings_for_fuzzing(app):
    limiter.enabled = False  # thousands of posts from one address are the point here
    add_demo_newsletters(app)
    yield app
    limiter.enabled = True


def _consistent(app) -> None:
    """Whatever was accepted is stored sanely: one row per address, all in canonical form."""
    with app.app_context():
        emails = db.session.scalars(select(Subscriber.email)).all()
        assert len(emails) == len(set(emails))
        assert all(e == e.strip().lower() and "@" in e for e in emails)
        orphans = db.session.scalar(
            select(func.count())
            .select_from(Subscription)
            .where(Subscription.subscriber_id.is_(None))
        )
        assert orphans == 0


@FUZZ
@given(
    email=text,
    slugs=slug_lists,
    website=st.sampled_from(["", "x"]),
    source=text,
    token=st.one_of(st.just(None), text),
)
def test_the_signup_form_never_fails_on_any_input(
    settings_for_fuzzing, email, slugs, website, source, token
):
    app = settings_for_fuzzing
    client = app.test_client()
    data = {"email": email, "newsletters": slugs, "website": website, "source": source}
    data["csrf_token"] = (
        token if token is not None else csrf_token_in(client.get("/").get_data(as_text=True))
    )
    for accept in ("text/html", "application/json"):
        response = client.post("/subscribe", data=data, headers={"Accept": accept})
        assert response.status_code in (200, 400), response.status_code
    _consistent(app)


@FUZZ
@given(
    slugs=slug_lists,
    action=st.one_of(st.sampled_from(["save", "unsubscribe_all"]), text),
    # What a client can put in a header: latin-1, no control characters.
    key=st.one_of(
        st.just(""),
        st.text(
            st.characters(min_codepoint=32, max_codepoint=255, exclude_categories=("Cc",)),
            max_size=120,
        ),
    ),
)
def test_the_preference_form_never_fails_on_any_input(settings_for_fuzzing, slugs, action, key):
    app = settings_for_fuzzing
    with app.app_context():
        reader = db.session.scalar(select(Subscriber).filter_by(email="fuzz@example.com"))
        if reader is None:
            reader = Subscriber(email="fuzz@example.com")
            db.session.add(reader)
            db.session.commit()
        path = preferences_url(reader).removeprefix("http://newsletters.test")
    client = app.test_client()
    csrf = csrf_token_in(client.get(path).get_data(as_text=True))
    response = client.post(
        path,
        data={"csrf_token": csrf, "newsletters": slugs, "action": action},
        headers={"Accept": "application/json", "Idempotency-Key": key},
    )
    assert response.status_code in (200, 400, 409), response.status_code
    if response.status_code == 200:
        active = set(response.get_json()["newsletters"])
        assert active <= set(SLUGS)
    _consistent(app)


@FUZZ
@given(
    token=st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=400),
    route=st.sampled_from(["/confirm/", "/preferences/", "/unsubscribe/"]),
)
@example(token="/0", route="/confirm/")  # once found: "//0", redirected by the router
def test_no_token_ever_breaks_a_link(settings_for_fuzzing, token, route):
    client = settings_for_fuzzing.test_client()
    safe = token.replace("/", "%2F").replace("?", "%3F").replace("#", "%23")
    # A token starting with "/" makes "//", which the router answers with a 308 to the
    # merged path: follow it, as a mail client would, and it must still end in a refusal.
    for response in (
        client.get(route + safe, follow_redirects=True),
        client.post(route + safe, data={"List-Unsubscribe": "One-Click"}, follow_redirects=True),
    ):
        assert response.status_code in (400, 404, 405), (route, response.status_code)
        assert all(urlsplit(r.location).netloc in ("", "localhost") for r in response.history)


API_FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)


def test_the_api_matches_its_description(settings_for_fuzzing, runner):
    """schemathesis: every operation, with generated bodies, answers as documented, never 500."""
    app = settings_for_fuzzing
    scopes = "stories:write,subscribers:write,webhooks:write"
    created = runner.invoke(args=["admin", "token", "fuzzer", "--scopes", scopes])
    token = created.output.strip().splitlines()[-1]
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 3 + 5  # and the webhook endpoints
    for operation in operations:

        @API_FUZZ
        @given(case=operation.as_strategy())
        def check(case):
            case.call_and_validate(
                headers={"Authorization": f"Bearer {token}"},
                checks=[
                    not_a_server_error,
                    status_code_conformance,
                    content_type_conformance,
                    response_schema_conformance,
                ],
            )

        check()
