"""When the database cannot save: retried inside the request, then the publisher's message.

The faults are real: PostgreSQL refuses the app role's writes or fails a
transaction itself; SQLite's file is locked by another connection.
"""

import html
import logging
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import create_engine, func, select, text

from newsletters.config import database_uri
from newsletters.extensions import db
from newsletters.models import Event, IdempotencyRecord, Subscription
from tests.support.faults import (
    FailFirstInserts,
    WriteFault,
    is_sqlite,
)
from tests.support.mail import link_in
from tests.support.reader import (
    add_demo_newsletters,
    checked_boxes,
    csrf_token_in,
    sign_up,
    statuses,
    submit_form,
)
from tests.support.readers import add_newsletter

READER = "reader@example.com"
MESSAGE = (
    "It looks like something went wrong. We're having trouble saving your preferences. "
    "Try refreshing this page and updating them one more time. If you continue to get this "
    "message, reach out to us at help@newsletters.test with a list of newsletters you'd like "
    "to receive."
)


@pytest.fixture
def settings(restricted_role, database_url):
    restricted_role["SQLITE_BUSY_TIMEOUT_MS"] = 50
    restricted_role["PROPAGATE_EXCEPTIONS"] = False
    return restricted_role


@pytest.fixture(autouse=True)
def demo(app):
    add_demo_newsletters(app)


@pytest.fixture
def fault(database_url):
    return WriteFault(database_url)


class Page(HTMLParser):
    """The bits of the failure page a reader sees and uses."""

    def __init__(self, markup: str) -> None:
        super().__init__()
        self.message, self.mailto, self.email, self._in_message = "", None, None, False
        self.request_id = ""
        self._in_reference = False
        self.feed(markup)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if "data-failure-message" in attributes:
            self._in_message = True
        if "data-request-id" in attributes:
            self._in_reference = True
        if tag == "a" and "data-support-link" in attributes:
            self.mailto = attributes["href"]
        if tag == "input" and attributes.get("name") == "email":
            self.email = attributes.get("value")

    def handle_endtag(self, tag):
        if tag == "p":
            self._in_message = self._in_reference = False

    def handle_data(self, data):
        if self._in_message:
            self.message += data
        if self._in_reference:
            self.request_id += data


def _mailto_body(href: str) -> str:
    return parse_qs(urlsplit(href).query)["body"][0]


def test_a_signup_the_database_refuses_gets_the_message_and_keeps_the_form(
    app, client, fault, caplog
):
    page = client.get("/").get_data(as_text=True)
    form = {
        "csrf_token": csrf_token_in(page),
        "idempotency_key": "signup-attempt-0001",
        "email": READER,
        "newsletters": ["the-weekly", "climate-report"],
        "source": "form",
    }
    with fault, caplog.at_level(logging.ERROR):
        response = client.post("/subscribe", data=form)
    assert response.status_code == 503
    failure = Page(response.get_data(as_text=True))
    assert " ".join(failure.message.split()) == MESSAGE
    assert failure.mailto.startswith("mailto:help@newsletters.test?")
    body = _mailto_body(failure.mailto)
    assert "- The Weekly" in body and "- Climate Report" in body and "AI Digest" not in body
    assert failure.email == READER
    assert checked_boxes(response.get_data(as_text=True)) == {"the-weekly", "climate-report"}
    request_id = response.headers["X-Request-ID"]
    assert failure.request_id.strip() == f"Reference: {request_id}"
    assert any(r.request_id == request_id and r.levelno == logging.ERROR for r in caplog.records), (
        "the failure must be logged with the request id the reader sees"
    )
    assert statuses(app, READER) == {}

    # "Try again" once the fault is gone: the same form, the same key, saved once.
    again = client.post("/subscribe", data=form)
    assert again.status_code == 200
    assert "Thank you for submitting your email!" in again.get_data(as_text=True)
    assert statuses(app, READER) == {"the-weekly": "pending", "climate-report": "pending"}


def test_script_gets_the_message_as_json(app, client, fault):
    page = client.get("/").get_data(as_text=True)
    with fault:
        response = client.post(
            "/subscribe",
            data={"csrf_token": csrf_token_in(page), "email": READER, "newsletters": "ai-digest"},
            headers={"Accept": "application/json", "Idempotency-Key": "json-attempt-001"},
        )
    assert response.status_code == 503
    assert response.get_json()["error"] == {"code": "save_failed", "message": MESSAGE}


def _confirmed_reader(app, client, mailbox) -> str:
    sign_up(client, READER, "the-weekly", "ai-digest")
    submit_form(client, link_in(mailbox.last(to=READER), "/confirm/"))
    return link_in(mailbox.last(to=READER), "/preferences/")


def test_a_preference_save_that_fails_redraws_the_readers_ticks(app, client, mailbox, fault):
    preferences = _confirmed_reader(app, client, mailbox)
    page = client.get(preferences).get_data(as_text=True)
    form = {
        "csrf_token": csrf_token_in(page),
        "idempotency_key": "prefs-attempt-001",
        "newsletters": ["ai-digest", "morning-briefing"],
        "action": "save",
    }
    with fault:
        response = client.post(preferences, data=form)
    assert response.status_code == 503
    markup = response.get_data(as_text=True)
    assert " ".join(Page(markup).message.split()) == MESSAGE
    assert checked_boxes(markup) == {"ai-digest", "morning-briefing"}
    body = _mailto_body(Page(markup).mailto)
    assert "- AI Digest" in body and "- Morning Briefing" in body
    assert statuses(app, READER) == {"the-weekly": "active", "ai-digest": "active"}

    saved = client.post(preferences, data=form, follow_redirects=True)
    assert "Your preferences have been saved." in html.unescape(saved.get_data(as_text=True))
    assert statuses(app, READER) == {
        "the-weekly": "unsubscribed",
        "ai-digest": "active",
        "morning-briefing": "active",
    }


def test_a_retried_save_is_applied_once_and_answered_with_the_first_answer(app, client, mailbox):
    preferences = _confirmed_reader(app, client, mailbox)
    token = csrf_token_in(client.get(preferences).get_data(as_text=True))

    def save(key, ticks):
        return client.post(
            preferences,
            data={"csrf_token": token, "newsletters": ticks, "action": "save"},
            headers={"Accept": "application/json", "Idempotency-Key": key},
        )

    first = save("save-key-0000001", ["climate-report"])
    save("save-key-0000002", ["the-weekly"])  # the reader changes their mind
    replay = save("save-key-0000001", ["climate-report"])  # a late retry of the first save
    assert replay.status_code == 200
    assert (
        replay.get_json()
        == first.get_json()
        == {
            "status": "ok",
            "message": "Your preferences have been saved.",
            "newsletters": ["climate-report"],
        }
    )
    assert statuses(app, READER)["the-weekly"] == "active"  # the retry did not undo it
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(IdempotencyRecord)) == 2


def test_a_locked_sqlite_or_a_serialization_failure_is_retried_inside_the_request(
    app, client, database_url, caplog
):
    """The first attempt fails for real; the retry inside the same request succeeds."""
    retries = []

    class RetryWatcher(logging.Handler):
        def emit(self, record):
            if record.getMessage().startswith("retrying "):
                retries.append(record)
                lift()

    if is_sqlite(database_url):
        fault = WriteFault(database_url)
        fault.on()
        lift = fault.off
    else:
        fault = FailFirstInserts(database_url, 1).__enter__()
        lift = fault.spend_one
    watcher = RetryWatcher()
    logging.getLogger("newsletters.services.core.transactions").addHandler(watcher)
    try:
        with caplog.at_level(logging.INFO, logger="newsletters.services.core.transactions"):
            response = sign_up(client, READER, "the-weekly")
    finally:
        logging.getLogger("newsletters.services.core.transactions").removeHandler(watcher)
        if not is_sqlite(database_url):
            fault.__exit__(None, None, None)
        elif fault.lock is not None:
            fault.off()
    assert response.status_code == 200
    assert len(retries) >= 1
    assert statuses(app, READER) == {"the-weekly": "pending"}
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Subscription)) == 1
        assert db.session.scalar(select(func.count()).select_from(Event)) == 1


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_terminated_database_connection_is_replaced_without_the_reader_noticing(
    app, client, database_url
):
    client.get("/")  # the app now holds a pooled connection
    admin = create_engine(database_uri(database_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        killed = connection.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE usename = 'newsletters_app' AND pid <> pg_backend_pid()"
            )
        ).scalar()
    admin.dispose()
    assert killed >= 1
    response = sign_up(client, READER, "ai-digest")
    assert response.status_code == 200
    assert statuses(app, READER) == {"ai-digest": "pending"}


def test_a_spanish_reader_gets_the_message_and_the_mailto_in_spanish(app, client, fault):
    page = client.get("/?lang=es").get_data(as_text=True)
    form = {
        "csrf_token": csrf_token_in(page),
        "idempotency_key": "signup-es-0001",
        "email": READER,
        "newsletters": ["the-weekly", "climate-report"],
        "source": "form",
    }
    with fault:
        response = client.post("/subscribe?lang=es", data=form)
        answer = client.post(
            "/subscribe?lang=es",
            data={**form, "idempotency_key": "signup-es-0002"},
            headers={"Accept": "application/json"},
        )
    assert response.status_code == 503
    assert response.headers["Content-Language"] == "es"
    failure = Page(response.get_data(as_text=True))
    assert " ".join(failure.message.split()) == SPANISH_MESSAGE
    assert failure.request_id.strip().startswith("Referencia: ")
    query = parse_qs(urlsplit(failure.mailto).query)
    assert query["subject"] == ["Mis boletines"]
    assert query["body"] == [
        "Hola, quiero suscribirme a estos boletines:\n- Climate Report\n- The Weekly"
    ]
    assert 'data-mailto-intro="Hola, quiero suscribirme a estos boletines:"' in (
        response.get_data(as_text=True)
    )
    assert answer.status_code == 503
    assert answer.get_json()["error"]["message"] == SPANISH_MESSAGE
    assert statuses(app, READER) == {}


SPANISH_MESSAGE = (
    "Parece que algo ha salido mal. Estamos teniendo problemas para guardar tus preferencias. "
    "Prueba a recargar esta página y a actualizarlas una vez más. Si sigues viendo este "
    "mensaje, escríbenos a help@newsletters.test con la lista de boletines que quieres recibir."
)


def test_a_failed_save_keeps_the_rhythm_the_reader_picked(app, client, mailbox, fault):
    """Signing up and saving preferences, without script: the form drawn again shows the
    rhythm picked, and the message to support names it."""
    add_newsletter(app, "the-paper", "The Paper", frequencies="weekly,daily")
    preferences = _confirmed_reader(app, client, mailbox)
    page = client.get("/").get_data(as_text=True)
    signup = {
        "csrf_token": csrf_token_in(page),
        "email": "new@example.com",
        "newsletters": ["the-paper"],
        "source": "form",
        "frequency-the-paper": "daily",
    }
    form = {
        "csrf_token": csrf_token_in(client.get(preferences).get_data(as_text=True)),
        "newsletters": ["the-paper"],
        "action": "save",
        "frequency-the-paper": "daily",
    }
    with fault:
        signed_up = client.post("/subscribe", data=signup)
        saved = client.post(preferences, data=form)
    assert (signed_up.status_code, saved.status_code) == (503, 503)
    for response in (signed_up, saved):
        markup = response.get_data(as_text=True)
        assert '<option value="daily" selected>Daily</option>' in markup
    assert "- The Paper (Daily)" in _mailto_body(Page(signed_up.get_data(as_text=True)).mailto)
    assert statuses(app, "new@example.com") == {}
