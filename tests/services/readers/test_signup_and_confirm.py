"""The subscription rules, called the way the web, the CLI and workers call them."""

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from newsletters.errors import InvalidToken, NoNewsletterChosen, UnknownNewsletter
from newsletters.extensions import db
from newsletters.models import OutboxMessage, Subscriber, Subscription, utcnow
from newsletters.services import newsletter_settings
from newsletters.services.mail.links import confirm_url, preferences_url
from newsletters.services.readers import confirm, preferences, signup
from newsletters.services.readers.history import Origin
from tests.support.queries import counting
from tests.support.reader import add_demo_newsletters, snapshot, statuses

READER = "reader@example.com"
ORIGIN = Origin(source="form", ip="198.51.100.1", user_agent="Test/1.0")


@pytest.fixture(autouse=True)
def demo(app):
    add_demo_newsletters(app)
    with app.app_context():
        newsletter_settings.add_newsletter("insiders", "Insiders", public=False)


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield


def _token(url: str) -> str:
    return url.rsplit("/", 1)[1]


def _subscriber(email=READER) -> Subscriber:
    return db.session.scalar(select(Subscriber).where(Subscriber.email == email))


def _confirmations(email=READER) -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(OutboxMessage)
        .where(OutboxMessage.to_address == email, OutboxMessage.kind == "confirmation")
    )


def test_signup_leaves_newsletters_pending_until_confirmed(app, ctx):
    signup.subscribe(READER, ["the-weekly", "ai-digest"], ORIGIN)
    assert statuses(app, READER) == {"the-weekly": "pending", "ai-digest": "pending"}
    assert _confirmations() == 1


def test_addresses_differing_only_in_case_are_one_reader(app, ctx):
    signup.subscribe("Reader@Example.com", ["the-weekly"], ORIGIN)
    signup.subscribe("READER@example.COM", ["ai-digest"], ORIGIN)
    assert db.session.scalar(select(func.count()).select_from(Subscriber)) == 1
    assert set(statuses(app, READER)) == {"the-weekly", "ai-digest"}


def test_at_most_one_confirmation_email_per_address_per_interval(app, ctx):
    for _ in range(5):
        signup.subscribe(READER, ["the-weekly"], ORIGIN)
    signup.subscribe(READER, ["ai-digest"], ORIGIN)
    assert _confirmations() == 1

    # Ten minutes later the reader (or the bomber) may get one more.
    db.session.execute(
        update(Subscriber).values(confirmation_sent_at=utcnow() - timedelta(minutes=11))
    )
    db.session.commit()
    signup.subscribe(READER, ["the-weekly"], ORIGIN)
    signup.subscribe(READER, ["the-weekly"], ORIGIN)
    assert _confirmations() == 2


def test_a_later_confirmation_covers_everything_asked_for_meanwhile(app, ctx):
    signup.subscribe(READER, ["the-weekly"], ORIGIN)
    signup.subscribe(READER, ["ai-digest"], ORIGIN)  # throttled: no second email
    token = _token(confirm_url(_subscriber()))
    outcome = confirm.confirm_subscription(token, ORIGIN)
    assert sorted(n.slug for n in outcome.added) == ["ai-digest", "the-weekly"]
    assert statuses(app, READER) == {"the-weekly": "active", "ai-digest": "active"}


def test_confirming_twice_sends_one_welcome(app, ctx):
    signup.subscribe(READER, ["the-weekly"], ORIGIN)
    token = _token(confirm_url(_subscriber()))
    assert confirm.confirm_subscription(token, ORIGIN).added
    assert not confirm.confirm_subscription(token, ORIGIN).added
    welcomes = db.session.scalar(
        select(func.count()).select_from(OutboxMessage).where(OutboxMessage.kind == "welcome")
    )
    assert welcomes == 1


def test_requests_older_than_a_confirm_link_are_not_confirmed(app, ctx):
    signup.subscribe(READER, ["the-weekly"], ORIGIN)
    db.session.execute(update(Subscription).values(requested_at=utcnow() - timedelta(days=8)))
    db.session.commit()
    token = _token(confirm_url(_subscriber()))
    assert confirm.confirm_subscription(token, ORIGIN).added == []
    assert statuses(app, READER) == {"the-weekly": "pending"}


def test_already_subscribed_reader_gets_a_reminder_not_a_confirmation(app, ctx):
    app.config["CONFIRMATION_EMAIL_INTERVAL"] = 0
    signup.subscribe(READER, ["the-weekly"], ORIGIN)
    confirm.confirm_subscription(_token(confirm_url(_subscriber())), ORIGIN)
    signup.subscribe(READER, ["the-weekly"], ORIGIN)
    kinds = db.session.scalars(select(OutboxMessage.kind).order_by(OutboxMessage.id)).all()
    assert kinds == ["confirmation", "welcome", "already_subscribed"]
    assert statuses(app, READER) == {"the-weekly": "active"}


@pytest.mark.parametrize(
    ("slugs", "error"),
    [
        ([], NoNewsletterChosen),
        (["no-such-newsletter"], UnknownNewsletter),
        (["the-weekly", "no-such-newsletter"], UnknownNewsletter),
        (["insiders"], UnknownNewsletter),  # private lists are not open for signup
    ],
)
def test_signup_for_nothing_or_unknown_newsletters_changes_nothing(app, ctx, slugs, error):
    before = snapshot(app)
    with pytest.raises(error):
        signup.subscribe(READER, slugs, ORIGIN)
    assert snapshot(app) == before


def test_preferences_apply_at_once_and_record_consent(app, ctx):
    signup.subscribe(READER, ["the-weekly"], ORIGIN)
    token = _token(preferences_url(_subscriber()))
    outcome = preferences.update_preferences(token, ["ai-digest"], ORIGIN)
    assert [n.slug for n in outcome.added] == ["ai-digest"]
    assert [n.slug for n in outcome.removed] == ["the-weekly"]
    assert statuses(app, READER) == {"the-weekly": "unsubscribed", "ai-digest": "active"}
    assert _subscriber().status.value == "confirmed"


def test_preferences_refuse_newsletters_the_reader_cannot_pick(app, ctx):
    signup.subscribe(READER, ["the-weekly"], ORIGIN)
    token = _token(preferences_url(_subscriber()))
    before = snapshot(app)
    for slugs in (["no-such-newsletter"], ["insiders"], ["the-weekly", "nope"]):
        with pytest.raises(UnknownNewsletter):
            preferences.update_preferences(token, slugs, ORIGIN)
    assert snapshot(app) == before


def test_links_die_when_the_reader_is_erased(app, ctx):
    signup.subscribe(READER, ["the-weekly"], ORIGIN)
    subscriber = _subscriber()
    links = [_token(confirm_url(subscriber)), _token(preferences_url(subscriber))]
    db.session.delete(subscriber)
    db.session.commit()
    with pytest.raises(InvalidToken):
        confirm.confirm_subscription(links[0], ORIGIN)
    with pytest.raises(InvalidToken):
        preferences.update_preferences(links[1], ["the-weekly"], ORIGIN)


def test_lost_link_mails_known_addresses_only(app, ctx):
    preferences.request_preferences_link("stranger@example.com", ORIGIN)
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
    assert db.session.scalar(select(func.count()).select_from(Subscriber)) == 0
    signup.subscribe(READER, ["the-weekly"], ORIGIN)
    preferences.request_preferences_link(READER, ORIGIN)
    preferences.request_preferences_link(READER, ORIGIN)  # throttled like confirmations
    kinds = db.session.scalars(select(OutboxMessage.kind).order_by(OutboxMessage.id)).all()
    assert kinds == ["confirmation", "preferences_link"]


def test_concurrent_first_signups_for_one_address_make_one_reader_and_one_email(app):
    barrier = threading.Barrier(6)
    errors = []

    def sign_up(slug):
        with app.app_context():
            try:
                barrier.wait()
                signup.subscribe(READER, [slug], ORIGIN)
            except Exception as exc:  # collected and asserted below
                errors.append(exc)
            finally:
                db.session.remove()

    slugs = ["the-weekly", "ai-digest", "climate-report"] * 2
    threads = [threading.Thread(target=sign_up, args=(slug,)) for slug in slugs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Subscriber)) == 1
        assert _confirmations() == 1
    assert statuses(app, READER) == {
        "the-weekly": "pending",
        "ai-digest": "pending",
        "climate-report": "pending",
    }


def _statements_of_a_signup(app, email: str, locale: str | None = None) -> list[str]:
    # In a request, as the web takes a signup: the mail goes out after the response.
    with app.test_request_context(), counting(app) as statements:
        signup.subscribe(email, ["the-weekly"], ORIGIN, locale=locale)
    return [s.split()[0] for s in statements]


def test_a_signup_costs_the_same_few_statements_for_a_new_known_or_active_address(app, ctx):
    app.config["CONFIRMATION_EMAIL_INTERVAL"] = 0
    new = _statements_of_a_signup(app, READER, "de")
    pending = _statements_of_a_signup(app, READER, "fr")
    confirm.confirm_subscription(_token(confirm_url(_subscriber())), ORIGIN)
    active = _statements_of_a_signup(app, READER)
    # newsletters, reader, subscriptions, reader again, history, mail slot, the mail
    assert new == ["SELECT", "INSERT", "INSERT", "SELECT", "INSERT", "UPDATE", "INSERT"]
    assert pending == new and active == new


def test_a_signup_gives_a_reader_a_language_only_when_they_have_none(app, ctx):
    signup.subscribe("quiet@example.com", ["the-weekly"], ORIGIN)
    assert _subscriber("quiet@example.com").locale is None
    before = _subscriber("quiet@example.com").updated_at
    signup.subscribe("quiet@example.com", ["the-weekly"], ORIGIN, locale="de")
    db.session.expire_all()
    assert _subscriber("quiet@example.com").locale == "de"
    assert _subscriber("quiet@example.com").updated_at > before
    signup.subscribe("quiet@example.com", ["the-weekly"], ORIGIN, locale="fr")
    db.session.expire_all()
    assert _subscriber("quiet@example.com").locale == "de"
