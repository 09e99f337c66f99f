"""A reader's history: the append-only record of what they asked for, and their consent."""

from dataclasses import dataclass

from newsletters.extensions import db
from newsletters.models import Event, EventKind, Newsletter, Subscriber


@dataclass(frozen=True)
class Origin:
    """Who asked and from where: what a consent record needs to say."""

    source: str = "form"
    ip: str | None = None
    user_agent: str | None = None


def record_event(
    subscriber: Subscriber,
    kind: EventKind,
    newsletters: list[Newsletter],
    origin: Origin,
    consent_version: str | None = None,
    *,
    source: str | None = None,
    detail: dict | None = None,
) -> None:
    """Append to the reader's history, in the caller's transaction. Never updated later."""
    db.session.add(
        Event(
            subscriber_id=subscriber.id,
            kind=kind,
            newsletters=[n.slug for n in newsletters],
            ip=origin.ip,
            user_agent=(origin.user_agent or "")[:512] or None,
            source=source or origin.source,
            consent_version=consent_version,
            detail=detail or {},
        )
    )
