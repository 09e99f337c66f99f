"""A reader found by their address, for the publisher's own systems (the JSON API): read
them, change what they get, as the preference page would, and nothing a reader's own
click must do.

Double opt-in holds here too. The caller is the publisher's server, not the reader, so
it never proves who owns an address: it may remove newsletters, change rhythms and set
the language, but it never adds a newsletter for a reader who has not confirmed their
address, and never puts a reader back on a newsletter they left (:func:`standing.has_left`).
Both take the reader's own signup, which mails them a link.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from newsletters import locales
from newsletters.errors import ConsentNeeded, InvalidEmail, InvalidInput, NotFound
from newsletters.models import EventKind, Subscriber, SubscriberStatus, SubscriptionStatus, utcnow
from newsletters.services.core.addresses import normalize_email
from newsletters.services.core.transactions import atomic
from newsletters.services.readers import preferences
from newsletters.services.readers.history import Origin, record_event
from newsletters.services.readers.standing import (
    active_newsletters,
    has_left,
    subscriber_by_email,
)

NO_READER = "No reader has this address."
NOT_CONFIRMED = (
    "This reader has not confirmed their address yet, so no newsletter can be added for them: "
    "only their own click on the confirmation link does that. Newsletters can be removed and "
    "the language set."
)
LEFT = (
    "This reader left %(slugs)s; only they can come back, by signing up again "
    "(POST /api/v1/subscriptions mails them a confirmation)."
)
FIELDS = ("newsletters", "frequencies", "locale")


@dataclass(frozen=True)
class ReaderChange:
    """What a caller asks to change; None leaves that part as it is."""

    newsletters: list[str] | None = None
    frequencies: dict[str, str] | None = None
    locale: str | None = None


def reader_by_address(email: str) -> Subscriber:
    """The reader with this address, however it is written (case, Unicode width), or
    :class:`NotFound`: an address that cannot be anyone's is nobody's."""
    try:
        address = normalize_email(email, check_deliverability=False)
    except InvalidEmail as exc:
        raise NotFound(NO_READER) from exc
    subscriber = subscriber_by_email(address)
    if subscriber is None:
        raise NotFound(NO_READER)
    return subscriber


def change_from(payload: dict[str, Any]) -> ReaderChange:
    """The change a JSON object asks for, each field checked for its shape and the language
    for being one this site offers; :class:`InvalidInput` naming the field otherwise."""
    unknown = sorted(set(payload) - set(FIELDS))
    if unknown or not set(payload) & set(FIELDS):
        raise InvalidInput(
            f"Send one or more of {', '.join(FIELDS)}"
            + (f"; not {', '.join(unknown)}." if unknown else "."),
            field=unknown[0] if unknown else None,
        )
    slugs = payload.get("newsletters")
    if "newsletters" in payload and (
        not isinstance(slugs, list) or not all(isinstance(s, str) for s in slugs)
    ):
        raise InvalidInput("newsletters must be a list of newsletter slugs.", field="newsletters")
    rhythms = payload.get("frequencies")
    if "frequencies" in payload and (
        not isinstance(rhythms, dict) or not all(isinstance(v, str) for v in rhythms.values())
    ):
        raise InvalidInput(
            "frequencies must map newsletter slugs to daily, weekly or monthly.",
            field="frequencies",
        )
    locale = payload.get("locale")
    if "locale" in payload and locales.offered(locale if isinstance(locale, str) else None) is None:
        offered = ", ".join(locales.languages())
        raise InvalidInput(
            f"locale must be one of the languages offered: {offered}.", field="locale"
        )
    return ReaderChange(slugs, rhythms, locale)


def _standing(subscriber: Subscriber) -> dict[str, tuple[bool, bool]]:
    """Per newsletter slug: whether the reader gets it, and whether they left it."""
    return {
        s.newsletter.slug: (s.status == SubscriptionStatus.ACTIVE, has_left(s))
        for s in subscriber.subscriptions
    }


def _check_consent(confirmed: bool, wanted: set[str], before: dict[str, tuple[bool, bool]]) -> None:
    """Refuse to add what only the reader may add (see the module's docstring)."""
    added = {slug for slug in wanted if not before.get(slug, (False, False))[0]}
    if added and not confirmed:
        raise ConsentNeeded(NOT_CONFIRMED)
    left = sorted(slug for slug in added if before.get(slug, (False, False))[1])
    if left:
        raise ConsentNeeded(LEFT, slugs=", ".join(left))


def _wanted(subscriber: Subscriber, change: ReaderChange) -> set[str]:
    if change.newsletters is None:
        return {n.slug for n in active_newsletters(subscriber)}
    return {slug.strip() for slug in change.newsletters if slug.strip()}


@atomic
def update_reader(
    email: str, change: ReaderChange, origin: Origin, now: datetime | None = None
) -> Subscriber:
    """Apply ``change`` to the reader with this address, with the preference page's rules,
    all of it or (on any refusal) none of it; the reader's history records it."""
    subscriber = reader_by_address(email)
    wanted = _wanted(subscriber, change)
    if set(change.frequencies or {}) - wanted:
        raise InvalidInput(
            "frequencies may only name newsletters the reader gets.", field="frequencies"
        )
    before = _standing(subscriber)
    confirmed = subscriber.status == SubscriberStatus.CONFIRMED
    try:  # the rules of every field first: a bad slug is a 400 whoever the reader is
        preferences.apply_preferences(
            subscriber, change.newsletters, origin, change.frequencies, now or utcnow()
        )
    except InvalidInput as error:
        if error.field == "frequency":  # the body's field is the plural
            error.field = "frequencies"
        raise
    # Checked against the standing before the change; refusing rolls all of it back.
    _check_consent(confirmed, wanted, before)
    if change.locale is not None and change.locale != subscriber.locale:
        subscriber.locale = change.locale
        record_event(
            subscriber,
            EventKind.PREFERENCES_UPDATED,
            active_newsletters(subscriber),
            origin,
            detail={"locale": change.locale},
        )
    return subscriber
