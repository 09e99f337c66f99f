"""The data model. Import models from here."""

from newsletters.models.admin import AdminRole, AdminUser, AuditLog, ImportJob, ImportStatus
from newsletters.models.api_token import ApiToken, ApiTokenKind
from newsletters.models.bounce import BounceKind, BounceReport
from newsletters.models.idempotency import IdempotencyRecord
from newsletters.models.issue import (
    Delivery,
    DeliveryStatus,
    Issue,
    IssueDeliveryCount,
    IssueStatus,
    IssueTranslation,
    Story,
)
from newsletters.models.issue_link import IssueLink
from newsletters.models.newsletter import Cadence, Newsletter
from newsletters.models.outbox import OutboxKind, OutboxMessage, OutboxStatus
from newsletters.models.subscriber import (
    Event,
    EventKind,
    Subscriber,
    SubscriberStatus,
    Subscription,
    SubscriptionStatus,
)
from newsletters.models.suppression import Suppression, SuppressionReason
from newsletters.models.types import utcnow
from newsletters.models.webhook import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEndpoint,
    WebhookEvent,
)

__all__ = [
    "AdminRole",
    "AdminUser",
    "ApiToken",
    "ApiTokenKind",
    "AuditLog",
    "BounceKind",
    "BounceReport",
    "Cadence",
    "Delivery",
    "DeliveryStatus",
    "Issue",
    "IssueDeliveryCount",
    "IssueLink",
    "IssueStatus",
    "IssueTranslation",
    "IdempotencyRecord",
    "ImportJob",
    "ImportStatus",
    "Event",
    "EventKind",
    "Newsletter",
    "OutboxKind",
    "OutboxMessage",
    "OutboxStatus",
    "Subscriber",
    "SubscriberStatus",
    "Subscription",
    "SubscriptionStatus",
    "Suppression",
    "SuppressionReason",
    "Story",
    "utcnow",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookDeliveryStatus",
    "WebhookEndpoint",
    "WebhookEvent",
]
