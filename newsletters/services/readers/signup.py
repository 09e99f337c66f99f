"""Joining: signing up, confirming by email, and the rules every change of standing shares.

The web, the CLI and the workers all go through these functions. Each public
change is a single transaction (see :func:`atomic`): bad input raises before
anything is written, and the mail a change causes is written with it. Choosing
and leaving live in :mod:`newsletters.services.readers.preferences`.
"""

import logging
from datetime import datetime
from uuid import uuid4

from flask import current_app
from sqlalchemy import bindparam, case, func, select
from sqlalchemy.orm import joinedload

from newsletters.extensions import db
from newsletters.locales import N_
from newsletters.models import (
    EventKind,
    Newsletter,
    OutboxKind,
    Subscriber,
    SubscriberStatus,
    Subscription,
    SubscriptionStatus,
    utcnow,
)
from newsletters.services.catalogue import newsletters_for_signup
from newsletters.services.core import sql
from newsletters.services.core.addresses import check_not_disposable, normalize_email
from newsletters.services.core.transactions import atomic
from newsletters.services.readers import notices
from newsletters.services.readers.confirm import awaiting_confirmation, claim_reader_mail
from newsletters.services.readers.history import Origin, record_event
from newsletters.services.readers.standing import (
    activate,
    has_left,
    mark_confirmed,
)
from newsletters.services.rhythm.choice import check_offered

log = logging.getLogger(__name__)

# What every signup is told, whatever happened to the address: nothing to enumerate.
SIGNUP_ANSWER = N_("Thank you for submitting your email!")


# --- signing up -----------------------------------------------------------------


@atomic
def subscribe(
    email: str,
    slugs: list[str],
    origin: Origin,
    *,
    automated: bool = False,
    locale: str | None = None,
    frequencies: dict[str, str] | None = None,
) -> None:
    """Record a signup request and mail a confirmation link.

    The caller learns nothing about the address: new, pending and subscribed
    readers all get the same (absent) answer, after the same statements in the
    same order, so the time it takes says nothing either. Newsletters the reader
    already gets stay as they are; everything else waits for confirmation by
    email. Mail to the address is rationed (``confirm.claim_reader_mail``).
    A request that looks ``automated`` (honeypot, too fast) is checked like any
    other, so a person still sees their typo, but then stores and sends nothing.
    An erased address stays suppressed until its owner clicks the confirm link.
    ``locale`` is the language of the page the reader signed up on: it becomes their
    saved language unless they already have one. ``frequencies`` (slug -> daily,
    weekly or monthly) is the rhythm asked for each newsletter; without one a reader
    gets the newsletter's first.
    """
    address = normalize_email(email)
    check_not_disposable(address)
    chosen = newsletters_for_signup(slugs)
    rhythms = _checked_rhythms(chosen, frequencies or {})
    if automated:
        log.info("ignored an automated-looking signup from %s", origin.ip)
        return
    now = utcnow()
    consent_version = current_app.config["CONSENT_TEXT_VERSION"]
    subscriber_id = _subscriber_id(address, locale)
    _request(subscriber_id, chosen, origin, now, consent_version, rhythms)
    subscriber = _with_subscriptions(subscriber_id)
    record_event(subscriber, EventKind.SIGNUP_REQUESTED, chosen, origin, consent_version)
    awaiting = awaiting_confirmation(subscriber, now)
    kind = OutboxKind.CONFIRMATION if awaiting else OutboxKind.ALREADY_SUBSCRIBED
    if not claim_reader_mail(subscriber, kind, now):
        return
    if awaiting:
        notices.queue_confirmation(subscriber, awaiting)
    else:
        notices.queue_already_subscribed(subscriber, chosen)


def _checked_rhythms(chosen: list[Newsletter], asked: dict[str, str]) -> dict[int, str]:
    """Newsletter id -> the rhythm asked for it, each one it offers (else refused)."""
    rhythms = {}
    for newsletter in chosen:
        value = (asked.get(newsletter.slug) or "").strip()
        if value:
            rhythms[newsletter.id] = check_offered(newsletter, value)
    return rhythms


ATTESTED_CONSENT = "attested"


@atomic
def import_subscription(
    address: str, chosen: list[Newsletter], origin: Origin, consent_note: str | None = None
) -> bool:
    """One row of an import (joining the importer's transaction); True if anything changed.

    Without a consent note the newsletters wait for the reader to confirm by
    email, as after a signup. With one, the admin attests that the reader gave
    consent elsewhere: the newsletters are active at once and the note is the
    consent record. Newsletters the reader left are never touched by an import.
    """
    subscriber_id = _subscriber_id(address)
    subscriber = _with_subscriptions(subscriber_id)
    now = utcnow()
    existing = {s.newsletter_id: s for s in subscriber.subscriptions}
    wanted = [n for n in chosen if not has_left(existing.get(n.id))]
    if consent_note:
        added = [n for n in wanted if _activate_attested(subscriber, existing.get(n.id), n, now)]
        if added:
            mark_confirmed(subscriber, now)
            record_event(
                subscriber,
                EventKind.IMPORTED,
                added,
                origin,
                ATTESTED_CONSENT,
                detail={"attested": True, "consent_note": consent_note},
            )
        return bool(added)
    version = current_app.config["CONSENT_TEXT_VERSION"]
    _request(subscriber_id, wanted, origin, now, version)
    subscriber = _with_subscriptions(subscriber_id)
    record_event(
        subscriber, EventKind.IMPORTED, wanted, origin, version, detail={"attested": False}
    )
    awaiting = awaiting_confirmation(subscriber, now)
    if awaiting and claim_reader_mail(subscriber, OutboxKind.CONFIRMATION, now):
        notices.queue_confirmation(subscriber, awaiting)
    return bool(wanted)


def _activate_attested(subscriber, subscription, newsletter, now) -> bool:
    if subscription is None:
        subscription = Subscription(newsletter=newsletter, source="import")
        subscriber.subscriptions.append(subscription)
    elif subscription.status == SubscriptionStatus.ACTIVE:
        return False
    activate(subscription, now)
    subscription.source = "import"
    subscription.requested_at = now
    subscription.consent_version = ATTESTED_CONSENT
    return True


def _subscriber_id(address: str, locale: str | None = None) -> int:
    """The id of the reader with this address, made if there is none.

    One statement, the same for a new address and a known one: an insert that, for
    a known address, returns the row that is there. Two first signups for one
    address at once both end up with the one row. With a ``locale``, a reader
    without a saved language gets it; a saved one is never changed by a signup,
    which anyone can make for any address.
    """
    return db.session.scalar(
        _reader_upsert(),
        {"new_uuid": uuid4(), "address": address, "page_locale": locale, "now": utcnow()},
    )


@sql.built_once
def _reader_upsert(dialect: str):
    """``INSERT … ON CONFLICT (email) DO UPDATE … RETURNING id``, for :func:`_subscriber_id`."""
    column = Subscriber.__table__.c
    statement = sql.insert(Subscriber.__table__, dialect).values(
        uuid=bindparam("new_uuid", type_=column.uuid.type),
        email=bindparam("address", type_=column.email.type),
        status=SubscriberStatus.PENDING,
        locale=bindparam("page_locale", type_=column.locale.type),
    )
    learns_language = column.locale.is_(None) & statement.excluded.locale.is_not(None)
    now = bindparam("now", type_=column.updated_at.type)
    return statement.on_conflict_do_update(
        index_elements=["email"],
        set_={
            "locale": func.coalesce(column.locale, statement.excluded.locale),
            "updated_at": case((learns_language, now), else_=column.updated_at),
        },
    ).returning(column.id)


def _with_subscriptions(subscriber_id: int) -> Subscriber:
    """The reader with their subscriptions and newsletters, as the database has them now."""
    return db.session.scalars(WITH_SUBSCRIPTIONS, {"reader_id": subscriber_id}).unique().one()


WITH_SUBSCRIPTIONS = (
    select(Subscriber)
    .where(Subscriber.id == bindparam("reader_id"))
    .options(joinedload(Subscriber.subscriptions).joinedload(Subscription.newsletter))
    .execution_options(populate_existing=True)
)


def _request(
    subscriber_id: int,
    chosen: list[Newsletter],
    origin: Origin,
    now: datetime,
    consent_version: str,
    rhythms: dict[int, str] | None = None,
) -> None:
    """Mark each chosen newsletter as asked for, unless the reader already gets it.

    One statement for each newsletter (sent together), whatever the reader's
    standing: a new request is inserted, an earlier one is asked again (at the
    rhythm asked for now, if any), and an active one is left as it is, rhythm
    included.
    """
    rhythms = rhythms or {}
    if not chosen:
        return
    db.session.execute(
        _request_upsert(),
        [
            {
                "reader_id": subscriber_id,
                "newsletter": newsletter.id,
                "now": now,
                "origin_source": origin.source,
                "consent": consent_version,
                "rhythm": rhythms.get(newsletter.id),
            }
            for newsletter in chosen
        ],
    )


@sql.built_once
def _request_upsert(dialect: str):
    """One newsletter asked for, for :func:`_request`: inserted, asked again, or left active."""
    column = Subscription.__table__.c
    now = bindparam("now", type_=column.requested_at.type)
    statement = sql.insert(Subscription.__table__, dialect).values(
        subscriber_id=bindparam("reader_id", type_=column.subscriber_id.type),
        newsletter_id=bindparam("newsletter", type_=column.newsletter_id.type),
        status=SubscriptionStatus.PENDING,
        requested_at=now,
        source=bindparam("origin_source", type_=column.source.type),
        consent_version=bindparam("consent", type_=column.consent_version.type),
        frequency=bindparam("rhythm", type_=column.frequency.type),
    )
    asked = statement.excluded.frequency
    return statement.on_conflict_do_update(
        index_elements=["subscriber_id", "newsletter_id"],
        set_={
            **sql.as_offered(statement, "status", "requested_at", "source", "consent_version"),
            "frequency": func.coalesce(asked, column.frequency),
            "next_frequency": case((asked.is_(None), column.next_frequency)),
            "frequency_from": case((asked.is_(None), column.frequency_from)),
            "updated_at": now,
        },
        where=column.status != SubscriptionStatus.ACTIVE,
    )
