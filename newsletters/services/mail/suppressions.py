"""The suppression list: nothing is sent to a suppressed address (one rule, ``blocks``)."""

import hashlib
from collections.abc import Iterable

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from newsletters.errors import InvalidInput, NotFound
from newsletters.extensions import db
from newsletters.models import OutboxKind, Suppression, SuppressionReason
from newsletters.services.core.addresses import normalize_email
from newsletters.services.core.sql import insert
from newsletters.services.core.transactions import atomic


def address_hash(address: str) -> str:
    """The key a suppression is found by: SHA-256 of the lower-cased address."""
    return hashlib.sha256(address.strip().lower().encode("utf-8")).hexdigest()


def suppressed_among(addresses: Iterable[str]) -> set[str]:
    """Which of these addresses are suppressed (as given), in one query."""
    by_hash = {address_hash(a): a for a in addresses}
    if not by_hash:
        return set()
    found = db.session.scalars(
        select(Suppression.email_hash).where(Suppression.email_hash.in_(by_hash))
    )
    return {by_hash[h] for h in found}


def reasons_among(addresses: Iterable[str]) -> dict[str, SuppressionReason]:
    """Why each of these addresses (as given) is suppressed, for those that are; one query."""
    by_hash = {address_hash(a): a for a in addresses}
    if not by_hash:
        return {}
    found = db.session.execute(
        select(Suppression.email_hash, Suppression.reason).where(
            Suppression.email_hash.in_(by_hash)
        )
    )
    return {by_hash[key]: reason for key, reason in found}


def blocks(reason: SuppressionReason, kind: OutboxKind) -> bool:
    """The rule, in one place: does a suppression for ``reason`` stop an email of ``kind``?

    Every suppression stops everything, but for one exception: an erased reader
    may ask to come back, so the confirmation email of their own signup still
    goes to them. Nothing else does (no newsletter, no import, no other email)
    until they click its link, which lifts the erasure (``lift_erasure``).
    """
    return not (reason == SuppressionReason.ERASED and kind == OutboxKind.CONFIRMATION)


def is_suppressed(address: str) -> bool:
    """True when mail to this address must not be sent."""
    return bool(suppressed_among([address]))


def suppress(address: str, reason: SuppressionReason, detail: str | None = None) -> None:
    """Add an address to the list in the caller's transaction; a repeat is harmless."""
    key = address_hash(address)
    if db.session.scalar(select(Suppression.id).where(Suppression.email_hash == key)):
        return
    try:
        # A savepoint, so a concurrent sender suppressing the same address first
        # costs nothing but this insert.
        with db.session.begin_nested():
            db.session.add(
                Suppression(
                    email_hash=key, email=address, reason=reason, detail=(detail or "")[:2000]
                )
            )
    except IntegrityError:
        pass


def suppress_many(addresses: Iterable[str], reason: SuppressionReason, detail: str) -> None:
    """Suppress several addresses in one statement, in the caller's transaction."""
    rows = {
        address_hash(a): {
            "email_hash": address_hash(a),
            "email": a,
            "reason": reason,
            "detail": detail[:2000],
        }
        for a in addresses
    }
    if rows:
        db.session.execute(
            insert(Suppression)
            .values(list(rows.values()))
            .on_conflict_do_nothing(index_elements=["email_hash"])
        )


def lift_erasure(address: str) -> None:
    """Forget an erasure's suppression of this address: the reader is back of their own accord.

    Only the reader's click on a confirmation link may call this; signups by
    anyone, imports, admins and the API leave the erasure in place.
    """
    db.session.execute(
        delete(Suppression).where(
            Suppression.email_hash == address_hash(address),
            Suppression.reason == SuppressionReason.ERASED,
        )
    )


def suppress_erased(address: str) -> None:
    """Keep an erased reader's address suppressed, by its hash alone."""
    key = address_hash(address)
    existing = db.session.scalar(select(Suppression).where(Suppression.email_hash == key))
    if existing is not None:
        existing.email = None
        return
    db.session.add(
        Suppression(
            email_hash=key,
            email=None,
            reason=SuppressionReason.ERASED,
            detail="the reader asked to be erased",
        )
    )


def listing(before_id: int | None = None, limit: int = 100) -> list[Suppression]:
    """Suppressions, newest first, a page at a time."""
    query = select(Suppression).order_by(Suppression.id.desc()).limit(limit)
    if before_id:
        query = query.where(Suppression.id < before_id)
    return list(db.session.scalars(query))


@atomic
def add_manual(email: str, note: str) -> Suppression:
    """An admin stops all mail to an address."""
    address = normalize_email(email)
    key = address_hash(address)
    if db.session.scalar(select(Suppression.id).where(Suppression.email_hash == key)):
        raise InvalidInput(f"{address} is already suppressed.", field="email")
    suppression = Suppression(
        email_hash=key, email=address, reason=SuppressionReason.MANUAL, detail=note.strip()[:2000]
    )
    db.session.add(suppression)
    return suppression


ERASURE_STAYS = (
    "An erased reader's address stays suppressed until they sign up again and confirm "
    "by email themselves."
)


@atomic
def remove(suppression_id: int) -> Suppression:
    """Allow mail to an address again; only the reader's own confirmation lifts an erasure."""
    suppression = db.session.get(Suppression, suppression_id)
    if suppression is None:
        raise NotFound("That suppression no longer exists.")
    if suppression.reason == SuppressionReason.ERASED:
        raise InvalidInput(ERASURE_STAYS)
    db.session.delete(suppression)
    return suppression
