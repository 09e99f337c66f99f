"""Which rhythm a reader is on, and when a change of rhythm takes effect.

A subscription keeps ``frequency`` (None: the newsletter's first rhythm) and, while a
change waits, ``next_frequency`` from ``frequency_from``. The one rule for who gets
an issue: a reader gets the issue of rhythm F for the period [start, end) if and only
if their rhythm *at start* is F (:func:`rhythm_at`, and :func:`rhythm_at_sql` for the
delivery rows).

A change from A to B takes effect at the next boundary both share, the end of the
coarser rhythm's period running at the change (:func:`periods.shared_boundary`). Every
A period the reader still gets then ends by that boundary, and every B period they
get starts at or after it: no story is skipped, none comes twice. See
docs/frequencies.md.
"""

from datetime import datetime

from sqlalchemy import and_, case, func

from newsletters.errors import InvalidInput
from newsletters.locales import N_, OneOf
from newsletters.models import Newsletter, Subscription, SubscriptionStatus
from newsletters.services.rhythm.periods import FREQUENCIES, shared_boundary

# Each rhythm as readers see it in the "How often" lists (the same words as the templates').
RHYTHM_NAMES = {"daily": N_("Daily"), "weekly": N_("Weekly"), "monthly": N_("Monthly")}
# A rhythm the newsletter does not offer: what the reader may choose instead, in their words.
NOT_OFFERED = N_("Choose how often you get %(name)s: %(choices)s.")


def parse_frequencies(text: str) -> list[str]:
    """The rhythms a newsletter offers, from ``daily,weekly``; the first is the default."""
    chosen = [part.strip().lower() for part in (text or "").split(",") if part.strip()]
    unknown = [part for part in chosen if part not in FREQUENCIES]
    if not chosen or unknown or len(set(chosen)) != len(chosen):
        raise InvalidInput(
            "Frequencies are one or more of daily, weekly, monthly, each once, "
            "separated by commas; the first is the default.",
            field="frequencies",
        )
    return chosen


def offered(newsletter: Newsletter) -> list[str]:
    """The rhythms readers may choose, in the newsletter's order (never empty)."""
    found = [f.strip() for f in (newsletter.frequencies or "").split(",")]
    known = [f for f in dict.fromkeys(found) if f in FREQUENCIES]
    return known or ["weekly"]


def check_offered(newsletter: Newsletter, wanted: str) -> str:
    """``wanted``, when the newsletter offers it; else :class:`InvalidInput` naming the
    newsletter and the rhythms it does offer, in the reader's language. The one check
    for the preference page, signup and anything else that takes a reader's rhythm."""
    choices = offered(newsletter)
    if wanted not in choices:
        raise InvalidInput(
            NOT_OFFERED,
            field="frequency",
            name=newsletter.name,
            choices=OneOf(RHYTHM_NAMES[value] for value in choices),
        )
    return wanted


def default_frequency(newsletter: Newsletter) -> str:
    """What a reader gets until they choose: the first rhythm offered."""
    return offered(newsletter)[0]


def rhythm_at(subscription: Subscription, newsletter: Newsletter, moment: datetime) -> str:
    """The reader's rhythm at ``moment``: their pending change once its boundary is reached."""
    pending = subscription.next_frequency and subscription.frequency_from
    if pending and subscription.frequency_from <= moment:
        return subscription.next_frequency
    return subscription.frequency or default_frequency(newsletter)


def rhythm_at_sql(newsletter: Newsletter, moment: datetime):
    """:func:`rhythm_at` as SQL, for the subscriptions of ``newsletter``."""
    return case(
        (
            and_(Subscription.next_frequency.is_not(None), Subscription.frequency_from <= moment),
            Subscription.next_frequency,
        ),
        else_=func.coalesce(Subscription.frequency, default_frequency(newsletter)),
    )


def settle(subscription: Subscription, now: datetime) -> None:
    """Fold a change whose boundary has passed into ``frequency`` (it is the rhythm now)."""
    if subscription.next_frequency and subscription.frequency_from <= now:
        subscription.frequency = subscription.next_frequency
    if subscription.frequency_from is None or subscription.frequency_from <= now:
        subscription.next_frequency = subscription.frequency_from = None


def pending_change(subscription: Subscription | None, now: datetime) -> tuple[str, datetime] | None:
    """The rhythm the reader moves to and when, while that is still ahead."""
    if subscription is None or not subscription.next_frequency:
        return None
    if subscription.frequency_from is None or subscription.frequency_from <= now:
        return None
    return subscription.next_frequency, subscription.frequency_from


def choose(
    subscription: Subscription, newsletter: Newsletter, wanted: str, now: datetime
) -> datetime | None:
    """Put the reader on ``wanted``; return when it takes effect (None: at once).

    A reader who is not getting the newsletter yet (new, pending, or back after
    leaving) starts on it at once: they had no issues of the old rhythm to finish. A
    reader who gets it keeps their rhythm until the next boundary both rhythms share;
    choosing their current rhythm again cancels a change still waiting.
    """
    check_offered(newsletter, wanted)
    settle(subscription, now)
    if subscription.status != SubscriptionStatus.ACTIVE:
        subscription.frequency = wanted
        subscription.next_frequency = subscription.frequency_from = None
        return None
    current = subscription.frequency or default_frequency(newsletter)
    if wanted == current:
        subscription.next_frequency = subscription.frequency_from = None
        return None
    subscription.frequency = current
    subscription.next_frequency = wanted
    subscription.frequency_from = shared_boundary(newsletter, current, wanted, now)
    return subscription.frequency_from
