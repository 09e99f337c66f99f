"""Readers choose how often they get each newsletter: on the preference page, and
optionally when they sign up. A change waits for the boundary both rhythms share."""

from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from newsletters.extensions import db
from newsletters.models import Newsletter, Subscriber, Subscription, SubscriptionStatus, utcnow
from newsletters.services.mail.links import preferences_url
from newsletters.services.rhythm import periods
from tests.support.reader import sign_up, submit_form
from tests.support.readers import add_active_readers, add_newsletter

READER = "reader@example.com"


@pytest.fixture
def settings(settings):
    settings["TIMEZONE"] = "Europe/Berlin"
    return settings


@pytest.fixture
def paper(app) -> int:
    """'The Paper', weekly by default or daily; and 'Quiet', weekly only. The reader gets both."""
    paper = add_newsletter(app, "paper", "The Paper", frequencies="weekly,daily")
    add_newsletter(app, "quiet", "Quiet")
    add_active_readers(app, {READER: ["paper", "quiet"]})
    return paper


def _path(app) -> str:
    with app.app_context(), app.test_request_context():
        subscriber = db.session.scalar(select(Subscriber).where(Subscriber.email == READER))
        return urlsplit(preferences_url(subscriber)).path


def _rhythm(app, slug: str = "paper", email: str = READER) -> tuple:
    with app.app_context():
        subscription = db.session.scalar(
            select(Subscription)
            .join(Subscriber)
            .join(Newsletter)
            .where(Subscriber.email == email, Newsletter.slug == slug)
        )
        return (
            subscription.status,
            subscription.frequency,
            subscription.next_frequency,
            subscription.frequency_from,
        )


def _save(client, path, **fields):
    return submit_form(
        client, path, {"newsletters": ["paper", "quiet"], "action": "save", **fields}
    )


def test_a_reader_chooses_daily_and_sees_when_it_starts(app, client, paper):
    path = _path(app)
    page = client.get(path).get_data(as_text=True)
    assert 'name="frequency-paper"' in page
    assert '<option value="weekly" selected>' in page and '<option value="daily">' in page
    assert 'name="frequency-quiet"' not in page  # one rhythm: nothing to choose

    saved = _save(client, path, **{"frequency-paper": "daily"})
    assert saved.status_code == 303
    with app.app_context():
        newsletter = db.session.get(Newsletter, paper)
        monday = periods.current_period(newsletter, utcnow(), "weekly").end
    status, frequency, pending, starts = _rhythm(app)
    assert (status, pending, starts) == (SubscriptionStatus.ACTIVE, "daily", monday)
    assert frequency in (None, "weekly")  # weekly until then

    page = client.get(path).get_data(as_text=True)
    assert '<option value="daily" selected>' in page
    day = monday.astimezone(ZoneInfo("Europe/Berlin"))
    assert f"Daily from {day:%A} {day.day} {day:%B}" in page
    assert "weekly until then." in page

    # Choosing weekly again before Monday calls the change off.
    assert _save(client, path, **{"frequency-paper": "weekly"}).status_code == 303
    assert _rhythm(app)[2:] == (None, None)
    assert "Daily from" not in client.get(path).get_data(as_text=True)


@pytest.mark.parametrize(
    "fields",
    [
        {"frequency-paper": "monthly"},  # not offered
        {"frequency-paper": "hourly"},  # no such rhythm
        {"frequency-quiet": "daily"},  # offered weekly only
        {"frequency-nowhere": "daily"},  # no such newsletter
    ],
)
def test_a_rhythm_not_offered_is_refused_with_400_and_nothing_changes(app, client, paper, fields):
    path = _path(app)
    assert _save(client, path, **{"frequency-paper": "daily"}).status_code == 303
    before = _rhythm(app)
    response = submit_form(client, path, {"newsletters": ["quiet"], "action": "save", **fields})
    assert response.status_code == 400
    assert _rhythm(app) == before  # still active on The Paper, daily still waiting
    assert _rhythm(app, "quiet")[0] == SubscriptionStatus.ACTIVE


def test_a_new_reader_may_choose_a_rhythm_when_signing_up(app, client, paper):
    assert (
        sign_up(client, "new@example.com", "paper", **{"frequency-paper": "daily"}).status_code
        == 200
    )
    status, frequency, pending, _ = _rhythm(app, email="new@example.com")
    assert (status, frequency, pending) == (SubscriptionStatus.PENDING, "daily", None)
    # Without the field: the newsletter's first rhythm.
    assert sign_up(client, "plain@example.com", "paper").status_code == 200
    assert _rhythm(app, email="plain@example.com")[1] is None


def test_a_signup_asking_for_a_rhythm_not_offered_is_refused_and_saves_nothing(app, client, paper):
    response = sign_up(client, "new@example.com", "paper", **{"frequency-paper": "monthly"})
    assert response.status_code == 400
    with app.app_context():
        assert (
            db.session.scalar(select(Subscriber).where(Subscriber.email == "new@example.com"))
            is None
        )


def test_a_newsletters_schedule_line_names_its_first_rhythm(app, client):
    """A daily-first newsletter reads "Daily" on the signup and preference pages, never the
    old "Weekly · Mondays" line."""
    add_newsletter(app, "morning", "The Morning", frequencies="daily,weekly")
    add_active_readers(app, {READER: ["morning"]})
    for path, meta in (("/", "newsletter-card__schedule"), (_path(app), "choice__meta")):
        page = client.get(path).get_data(as_text=True)
        line = page.split(f'class="{meta}">', 1)[1].split("</span>", 1)[0]
        assert line.strip() == "Daily", (path, line)


SPANISH = "Elige con qué frecuencia quieres recibir The Paper: Semanal o Diario."
GERMAN = "Bitte wählen Sie, wie oft Sie The Paper erhalten möchten: Wöchentlich oder Täglich."


@pytest.mark.parametrize("accept", ["text/html", "application/json"])
@pytest.mark.parametrize(
    ("query", "language", "expected"),
    [("?lang=es", None, SPANISH), ("", "de-DE,de;q=0.9", GERMAN), ("", None, None)],
)
def test_a_rhythm_not_offered_is_refused_in_the_readers_language(
    app, client, paper, accept, query, language, expected
):
    path = _path(app) + query
    before = _rhythm(app)
    headers = {"Accept": accept, **({"Accept-Language": language} if language else {})}
    fields = {"newsletters": ["paper"], "action": "save", "frequency-paper": "monthly"}
    response = submit_form(client, path, fields, headers=headers)
    assert response.status_code == 400
    if accept == "application/json":
        said = response.get_json()["error"]["message"]
    else:
        said = response.get_data(as_text=True)
    assert (expected or "Choose how often you get The Paper: Weekly or Daily.") in said
    assert _rhythm(app) == before and _rhythm(app, "quiet")[0] == SubscriptionStatus.ACTIVE
