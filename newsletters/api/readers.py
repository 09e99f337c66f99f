"""Readers by address, for the publisher's own systems: read, change, erase.

``GET`` needs the ``subscribers:read`` scope, ``PATCH`` and ``DELETE`` the
``subscribers:write`` scope. Changes are in the reader's history (as the API's) and
in the audit log (by the token's name), as the console's are.
"""

from dataclasses import asdict
from datetime import datetime

from flask import jsonify

from newsletters.api import access
from newsletters.api.routes import bp, json_object
from newsletters.http import request_origin
from newsletters.models import Subscriber, Subscription, SubscriptionStatus, utcnow
from newsletters.services.console import api_tokens, audit
from newsletters.services.readers import audience, by_address
from newsletters.services.rhythm import choice as rhythm


def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _since(subscription: Subscription) -> datetime | None:
    """When the subscription came to its present status."""
    return {
        SubscriptionStatus.ACTIVE: subscription.confirmed_at,
        SubscriptionStatus.PENDING: subscription.requested_at,
        SubscriptionStatus.UNSUBSCRIBED: subscription.unsubscribed_at,
    }[subscription.status]


def _subscription_json(subscription: Subscription, now: datetime) -> dict:
    change = rhythm.pending_change(subscription, now)
    return {
        "newsletter": subscription.newsletter.slug,
        "status": subscription.status.value,
        "frequency": rhythm.rhythm_at(subscription, subscription.newsletter, now),
        "next_frequency": (
            {"frequency": change[0], "from": change[1].isoformat()} if change else None
        ),
        "since": _when(_since(subscription)),
    }


def reader_json(subscriber: Subscriber) -> dict:
    """The reader as the API shows them: the same for GET and PATCH."""
    now = utcnow()
    subscriptions = sorted(subscriber.subscriptions, key=lambda s: s.newsletter.slug)
    return {
        "subscriber": {
            "id": str(subscriber.uuid),
            "email": subscriber.email,
            "status": subscriber.status.value,
            "locale": subscriber.locale,
            "created_at": _when(subscriber.created_at),
            "confirmed_at": _when(subscriber.confirmed_at),
            "subscriptions": [_subscription_json(s, now) for s in subscriptions],
        }
    }


@bp.get("/subscribers/<path:email>")
def get_subscriber(email: str):
    """The reader with this address and each of their subscriptions; 404 if none."""
    access.require_token(api_tokens.SUBSCRIBERS_READ)
    return jsonify(reader_json(by_address.reader_by_address(email)))


@bp.patch("/subscribers/<path:email>")
def update_subscriber(email: str):
    """Set the reader's newsletters, rhythms or language, by the preference page's rules."""
    token = access.require_token(api_tokens.SUBSCRIBERS_WRITE)
    change = by_address.change_from(json_object())
    public_id = str(by_address.reader_by_address(email).uuid)
    reader = audit.audited(
        access.actor(token),
        "subscriber.update",
        "subscriber",
        public_id,
        lambda: by_address.update_reader(email, change, request_origin("api")),
        detail={k: v for k, v in asdict(change).items() if v is not None},
    )
    return jsonify(reader_json(reader))


@bp.delete("/subscribers/<path:email>")
def erase_subscriber(email: str):
    """Erase the reader as the console does: data gone, the address kept suppressed by hash."""
    token = access.require_token(api_tokens.SUBSCRIBERS_WRITE)
    public_id = str(by_address.reader_by_address(email).uuid)
    audit.audited(
        access.actor(token),
        "subscriber.erase",
        "subscriber",
        public_id,
        lambda: audience.erase(public_id),
    )
    return "", 204
