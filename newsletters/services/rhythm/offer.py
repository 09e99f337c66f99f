"""When a newsletter changes the rhythms it offers, its readers follow without a gap.

Readers on a rhythm it no longer offers move to its first rhythm at the next boundary
the two share, exactly as if they had chosen it themselves; until then they keep
getting their old rhythm's issues. Readers on the default (``frequency`` None) are
pinned to the old default first, so a new first rhythm moves them the same way.
Each step is one UPDATE per rhythm, whatever the number of readers.
"""

from datetime import datetime

from sqlalchemy import and_, update

from newsletters.extensions import db
from newsletters.models import Newsletter, Subscription
from newsletters.services.rhythm.choice import offered
from newsletters.services.rhythm.periods import FREQUENCIES, shared_boundary


def _update(newsletter: Newsletter, *conditions, **values) -> None:
    db.session.execute(
        update(Subscription)
        .where(Subscription.newsletter_id == newsletter.id, *conditions)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


def follow_new_offer(newsletter: Newsletter, before: list[str], now: datetime) -> None:
    """Move readers off the rhythms ``newsletter`` dropped (it now offers ``offered``).

    In the caller's transaction; call it after the newsletter's ``frequencies`` changed.
    """
    after = offered(newsletter)
    if after == before:
        return
    first = after[0]
    if before and before[0] != first:  # readers on the old default keep it until a boundary
        _update(newsletter, Subscription.frequency.is_(None), frequency=before[0])
    passed = and_(Subscription.next_frequency.is_not(None), Subscription.frequency_from <= now)
    _update(newsletter, passed, frequency=Subscription.next_frequency)
    _update(
        newsletter, Subscription.frequency_from <= now, next_frequency=None, frequency_from=None
    )
    dropped = [f for f in FREQUENCIES if f not in after]
    for current in FREQUENCIES:
        moving = Subscription.frequency == current
        if current == first:  # a change waiting towards a dropped rhythm is called off
            _update(
                newsletter,
                moving,
                Subscription.next_frequency.in_(dropped),
                next_frequency=None,
                frequency_from=None,
            )
            continue
        boundary = shared_boundary(newsletter, current, first, now)
        if current in dropped:  # on a dropped rhythm, with or without a change waiting
            toward = Subscription.next_frequency.is_(None) | Subscription.next_frequency.in_(
                dropped
            )
        else:  # on a kept rhythm, waiting to move to a dropped one
            toward = Subscription.next_frequency.in_(dropped)
        _update(newsletter, moving, toward, next_frequency=first, frequency_from=boundary)
