"""The audit log: who did what to what, written in the same transaction as the change."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import select

from newsletters.extensions import db
from newsletters.models import AuditLog
from newsletters.services.core.transactions import atomic

R = TypeVar("R")
PAGE_SIZE = 100


@dataclass(frozen=True)
class Actor:
    """The admin behind a change, and where they were."""

    admin_id: int | None
    email: str
    ip: str | None = None


def record(
    actor: Actor, action: str, target_type: str, target: str, detail: dict[str, Any]
) -> None:
    """Append one entry in the caller's transaction, for changes the system makes itself."""
    db.session.add(
        AuditLog(
            admin_id=actor.admin_id,
            admin_email=actor.email,
            action=action,
            target_type=target_type,
            target=str(target)[:120],
            detail=detail,
            ip=actor.ip,
        )
    )


@atomic
def audited(
    actor: Actor,
    action: str,
    target_type: str,
    target: str,
    apply: Callable[[], R],
    detail: dict[str, Any] | Callable[[R], dict[str, Any]] | None = None,
) -> R:
    """Run ``apply`` and record it; both happen, or neither does."""
    result = apply()
    record(
        actor, action, target_type, target, (detail(result) if callable(detail) else detail) or {}
    )
    return result


def entries(before_id: int | None = None) -> list[AuditLog]:
    """The latest entries, newest first, a page at a time."""
    query = select(AuditLog).order_by(AuditLog.id.desc()).limit(PAGE_SIZE)
    if before_id:
        query = query.where(AuditLog.id < before_id)
    return list(db.session.scalars(query))
