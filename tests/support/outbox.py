"""Outbox rows for tests: queued without sending, and read back."""

from sqlalchemy import select

from newsletters.extensions import db
from newsletters.models import OutboxKind, OutboxMessage
from newsletters.services.mail import outbox
from newsletters.services.mail.render import render_email


def queue(app, *addresses: str) -> list[int]:
    """Write one message per address to the outbox, committed but not yet sent."""
    with app.app_context():
        email = render_email("preferences_link", "Your link", preferences_url="https://x.test/p")
        rows = [
            outbox.enqueue(kind=OutboxKind.TEST, to=address, email=email) for address in addresses
        ]
        db.session.commit()
        outbox.forget_enqueued()
        return [row.id for row in rows]


def rows(app) -> dict[str, tuple[str, int]]:
    """address -> (status, attempts) for every outbox row."""
    with app.app_context():
        return {
            m.to_address: (m.status.value, m.attempts)
            for m in db.session.scalars(select(OutboxMessage))
        }
