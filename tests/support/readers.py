"""Many readers at once, inserted in bulk, for the digest tests."""

from datetime import timedelta
from uuid import uuid4

from sqlalchemy import insert, select

from newsletters.extensions import db
from newsletters.models import (
    Newsletter,
    Story,
    Subscriber,
    SubscriberStatus,
    Subscription,
    SubscriptionStatus,
    utcnow,
)
from newsletters.services.issues import schedule

CHUNK = 5000


def add_newsletter(app, slug="the-weekly", name="The Weekly", **fields) -> int:
    """A newsletter created a month ago (so last week's issue is due), sending Mondays 8:00."""
    with app.app_context():
        newsletter = Newsletter(
            slug=slug,
            name=name,
            description=f"{name}, every week.",
            send_weekday=0,
            send_hour=8,
            created_at=utcnow() - timedelta(days=30),
            **fields,
        )
        db.session.add(newsletter)
        db.session.commit()
        return newsletter.id


def add_stories(app, newsletter_id: int, count: int = 3, *, period: str = "due") -> None:
    """Stories published in the middle of the ``due`` period, or in the ``current`` one so far."""
    with app.app_context():
        newsletter = db.session.get(Newsletter, newsletter_id)
        now = utcnow()
        if period == "due":
            due = schedule.due_period(newsletter, now)
            published = due.start + (due.end - due.start) / 2
        else:
            published = schedule.current_period(newsletter, now).start + timedelta(
                seconds=60 * count
            )
        db.session.add_all(
            Story(
                newsletter_id=newsletter_id,
                title=f"Story number {n}",
                url=f"https://news.example.com/{newsletter_id}/{period}/{n}",
                summary=f"What happened in story {n}, and why it matters.",
                guid=f"story-{newsletter_id}-{period}-{n}-{uuid4().hex[:8]}",
                published_at=published - timedelta(minutes=n),
            )
            for n in range(count)
        )
        db.session.commit()


def add_readers(app, newsletter_id: int, count: int, *, prefix: str = "reader") -> list[str]:
    """``count`` confirmed readers with an active subscription; returns their addresses."""
    addresses = [f"{prefix}{n}@example.com" for n in range(count)]
    now = utcnow()
    with app.app_context():
        for start in range(0, count, CHUNK):
            chunk = addresses[start : start + CHUNK]
            db.session.execute(
                insert(Subscriber),
                [
                    {
                        "uuid": uuid4(),
                        "email": address,
                        "status": SubscriberStatus.CONFIRMED,
                        "created_at": now,
                        "updated_at": now,
                        "confirmed_at": now,
                    }
                    for address in chunk
                ],
            )
            ids = db.session.scalars(select(Subscriber.id).where(Subscriber.email.in_(chunk)))
            db.session.execute(
                insert(Subscription),
                [active_subscription(subscriber_id, newsletter_id, now) for subscriber_id in ids],
            )
            db.session.commit()
    return addresses


def active_subscription(subscriber_id: int, newsletter_id: int, now) -> dict:
    """The row of a confirmed, active subscription, for a bulk insert."""
    return {
        "subscriber_id": subscriber_id,
        "newsletter_id": newsletter_id,
        "status": SubscriptionStatus.ACTIVE,
        "source": "import",
        "created_at": now,
        "updated_at": now,
        "requested_at": now,
        "confirmed_at": now,
    }


def add_active_readers(app, plan: dict[str, list[str]]) -> None:
    """Readers with these exact addresses, active on these newsletters."""
    now = utcnow()
    with app.app_context():
        ids = dict(db.session.execute(select(Newsletter.slug, Newsletter.id)).all())
        for address, slugs in plan.items():
            subscriber = Subscriber(
                uuid=uuid4(),
                email=address,
                status=SubscriberStatus.CONFIRMED,
                created_at=now,
                updated_at=now,
                confirmed_at=now,
            )
            db.session.add(subscriber)
            db.session.flush()
            db.session.execute(
                insert(Subscription),
                [active_subscription(subscriber.id, ids[slug], now) for slug in slugs],
            )
        db.session.commit()
