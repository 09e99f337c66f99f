"""Bounce and complaint webhooks of sending services: one module per provider.

:func:`receive` finds the provider, refuses it while its secret is unset,
lets its module check the signature and read the body, and applies every
event it reports in one transaction: each stored once by (provider, event
key), so a provider's retry or a replayed request changes nothing again.
"""

from dataclasses import dataclass

from flask import current_app

from newsletters.errors import IdempotencyConflict
from newsletters.services.core import idempotency
from newsletters.services.core.transactions import atomic
from newsletters.services.deliverability import events
from newsletters.services.deliverability.providers import (
    generic,
    mailgun,
    postmark,
    sendgrid,
    ses,
)
from newsletters.services.deliverability.providers.base import (
    BadSignature,
    Batch,
    WebhookOff,
    WebhookRequest,
)

PROVIDERS = {module.NAME: module for module in (ses, postmark, mailgun, sendgrid, generic)}


@dataclass(frozen=True)
class Received:
    """How many events a request reported that were new, and how many were seen before."""

    applied: int = 0
    replayed: int = 0

    def answer(self) -> dict:
        """The JSON the provider gets back."""
        return {"status": "ok", "applied": self.applied, "replayed": self.replayed}


def receive(provider: str, request: WebhookRequest) -> Received:
    """Check and apply one webhook request; raises the refusal the provider should see."""
    module = PROVIDERS.get(provider)
    if module is None:
        raise WebhookOff()
    if not module.enabled(current_app.config):
        raise WebhookOff(f"The {provider} webhook is off: its setting is empty.")
    batch = module.read(request)
    if batch.single_use is None:
        return _apply_all(batch)
    token, fingerprint = batch.single_use
    try:
        _, body = idempotency.apply_once(
            token,
            f"webhook-{provider}",
            fingerprint,
            lambda: _apply_all(batch),
            lambda received: (200, received.answer()),
        )
    except IdempotencyConflict:
        raise BadSignature("This signature was already used for another event.") from None
    return Received(body["applied"], body["replayed"])


@atomic
def _apply_all(batch: Batch) -> Received:
    """Apply every event of one request, all or none."""
    applied = [events.apply(event) for event in batch.events]
    replayed = sum(1 for result in applied if result.replayed)
    return Received(len(applied) - replayed, replayed)


__all__ = ["PROVIDERS", "Received", "WebhookRequest", "receive"]
