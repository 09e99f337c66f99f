"""Webhook endpoints: add one (its secret shown once), list, disable, enable, replay.

An endpoint's URL passes the outbound rules when it is added (scheme, no
credentials, a public address) and again at every delivery. It is disabled at
once by a 410, or after ``WEBHOOK_DISABLE_AFTER_DAYS`` of failures without a
success; then its waiting deliveries are marked failed and the owners are mailed.
"""

from collections.abc import Iterable
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select, update

from newsletters.errors import InvalidInput, NotFound
from newsletters.extensions import db
from newsletters.models import (
    AdminRole,
    AdminUser,
    OutboxKind,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEndpoint,
    WebhookEvent,
    utcnow,
)
from newsletters.services.core import outbound, sql
from newsletters.services.core.transactions import atomic
from newsletters.services.integrations import webhook_signing
from newsletters.services.integrations.webhook_events import EVENT_TYPES
from newsletters.services.mail import outbox
from newsletters.services.mail.render import render_email

MAX_DESCRIPTION = 300
MAX_URL = 2048
DELIVERIES_SHOWN = 100


def checked_events(events: Iterable[str]) -> list[str]:
    """The event types asked for, each once, or :class:`InvalidInput` naming the valid ones."""
    if not isinstance(events, list | tuple) or not all(isinstance(e, str) for e in events):
        raise InvalidInput("events must be a list of event types.", field="events")
    wanted = list(dict.fromkeys(e.strip() for e in events if e and e.strip()))
    unknown = [e for e in wanted if e not in EVENT_TYPES]
    if unknown or not wanted:
        problem = f"Unknown event: {', '.join(unknown)}." if unknown else "Choose an event."
        raise InvalidInput(f"{problem} Valid events: {', '.join(EVENT_TYPES)}.", field="events")
    return wanted


def checked_url(url: str) -> str:
    """An endpoint URL the outbound rules allow to post to now, or :class:`InvalidInput`."""
    if not isinstance(url, str) or not url.strip():
        raise InvalidInput("Give the endpoint's URL.", field="url")
    url = url.strip()
    if len(url) > MAX_URL:
        raise InvalidInput(f"The URL is longer than {MAX_URL} characters.", field="url")
    try:
        outbound.check_destination(url)
    except outbound.OutboundRefused as error:
        raise InvalidInput(f"This URL cannot receive webhooks: {error}.", field="url") from None
    return url


def _checked_description(description) -> str:
    if description is None:
        return ""
    if not isinstance(description, str) or len(description) > MAX_DESCRIPTION:
        raise InvalidInput(
            f"The description must be text of at most {MAX_DESCRIPTION} characters.",
            field="description",
        )
    return " ".join(description.split())


@atomic
def add_endpoint(
    url: str, events: Iterable[str], description: str | None = "", created_by_id: int | None = None
) -> tuple[WebhookEndpoint, str]:
    """Save a new endpoint; returns it with its signing secret (``whsec_...``)."""
    event_list = checked_events(events)
    description = _checked_description(description)
    endpoint = WebhookEndpoint(
        url=checked_url(url),  # last: the only check that asks DNS
        events=" ".join(event_list),
        description=description,
        secret=webhook_signing.new_secret(),
        enabled=True,
        created_by_id=created_by_id,
    )
    db.session.add(endpoint)
    db.session.flush()
    return endpoint, endpoint.secret


def all_endpoints() -> list[WebhookEndpoint]:
    """Every endpoint, newest first."""
    return list(db.session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.id.desc())))


def endpoint_by_id(public_id: str) -> WebhookEndpoint:
    """The endpoint with this public id, or :class:`NotFound`."""
    return sql.by_public_id(WebhookEndpoint, public_id, "No such webhook endpoint.")


def deliveries_of(
    endpoint: WebhookEndpoint, limit: int = DELIVERIES_SHOWN
) -> list[WebhookDelivery]:
    """The endpoint's latest deliveries, newest first."""
    return list(
        db.session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.endpoint_id == endpoint.id)
            .order_by(WebhookDelivery.id.desc())
            .limit(limit)
        )
    )


def delivery_of(endpoint: WebhookEndpoint, public_id: str) -> WebhookDelivery | None:
    """The endpoint's delivery with this public id, if it is one of the endpoint's."""
    try:
        delivery = sql.by_public_id(WebhookDelivery, public_id, "No such webhook delivery.")
    except NotFound:
        return None
    return delivery if delivery.endpoint_id == endpoint.id else None


@atomic
def disable(public_id: str, reason: str = "disabled by an admin") -> WebhookEndpoint:
    """Stop sending to an endpoint; what it was waiting for is marked failed."""
    endpoint = endpoint_by_id(public_id)
    if endpoint.enabled:
        _stop(endpoint, reason, utcnow())
    return endpoint


@atomic
def enable(public_id: str) -> WebhookEndpoint:
    """Send to a disabled endpoint again, from the next event on (replay what it missed)."""
    endpoint = endpoint_by_id(public_id)
    endpoint.enabled, endpoint.disabled_reason, endpoint.disabled_at = True, None, None
    endpoint.failing_since = None
    return endpoint


def _stop(endpoint: WebhookEndpoint, reason: str, now: datetime) -> None:
    endpoint.enabled, endpoint.disabled_reason, endpoint.disabled_at = False, reason[:300], now
    db.session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.endpoint_id == endpoint.id,
            WebhookDelivery.status == WebhookDeliveryStatus.PENDING,
        )
        .values(status=WebhookDeliveryStatus.FAILED, last_error=f"endpoint disabled: {reason}")
        .execution_options(synchronize_session=False)
    )


def disable_endpoint(endpoint: WebhookEndpoint, reason: str, now: datetime) -> None:
    """The system disables an endpoint (in the caller's transaction) and mails the admins."""
    if not endpoint.enabled:
        return
    _stop(endpoint, reason, now)
    _tell_owners(endpoint, reason)


def note_failure(endpoint: WebhookEndpoint, now: datetime) -> None:
    """A delivery failed: start the failing clock, and disable after too many days of it."""
    if endpoint.failing_since is None:
        endpoint.failing_since = now
        return
    days = current_app.config["WEBHOOK_DISABLE_AFTER_DAYS"]
    if now - endpoint.failing_since >= timedelta(days=days):
        disable_endpoint(endpoint, f"every delivery failed for {days} days", now)


def _tell_owners(endpoint: WebhookEndpoint, reason: str) -> None:
    site = current_app.config["SITE_URL"].rstrip("/")
    email = render_email(
        "webhook_disabled",
        f"Webhook endpoint disabled: {endpoint.url[:200]}",
        url=endpoint.url,
        description=endpoint.description,
        reason=reason,
        endpoint_id=str(endpoint.uuid),
        console_url=f"{site}/admin/webhooks/{endpoint.uuid}",
    )
    # The owners: only they can see, enable or replace an endpoint (editors cannot).
    owners = db.session.scalars(
        select(AdminUser).where(AdminUser.is_enabled.is_(True), AdminUser.role == AdminRole.OWNER)
    )
    for admin in owners:
        outbox.enqueue(kind=OutboxKind.ADMIN_NOTICE, to=admin.email, email=email)


@atomic
def replay(public_id: str, now: datetime | None = None) -> WebhookDelivery:
    """Send a delivery again, soon, with the same ``webhook-id``; a delivery id or an event id.

    An event id (``msg_...``) replays the event to every endpoint it went to.
    """
    now = now or utcnow()
    deliveries = _deliveries_named(public_id)
    for delivery in deliveries:
        if not delivery.endpoint.enabled:
            raise InvalidInput(
                "This endpoint is disabled: enable it before replaying.", field="delivery"
            )
        if delivery.status == WebhookDeliveryStatus.SENDING:
            continue  # on its way right now
        delivery.status, delivery.next_attempt_at = WebhookDeliveryStatus.PENDING, now
        delivery.retry_until = now + timedelta(hours=current_app.config["WEBHOOK_RETRY_HOURS"])
    return deliveries[0]


def _deliveries_named(public_id: str) -> list[WebhookDelivery]:
    if isinstance(public_id, str) and public_id.startswith("msg_"):
        event = db.session.scalar(select(WebhookEvent).where(WebhookEvent.msg_id == public_id))
        found = (
            list(
                db.session.scalars(
                    select(WebhookDelivery).where(WebhookDelivery.event_id == event.id)
                )
            )
            if event
            else []
        )
        if not found:
            raise NotFound("No such webhook event.")
        return found
    return [sql.by_public_id(WebhookDelivery, public_id, "No such webhook delivery.")]
