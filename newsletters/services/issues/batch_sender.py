"""A sender: claims batches of one issue's deliveries and sends them, until none is left.

Senders claim pending rows a batch at a time (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL; SQLite's write lock serialises claims), send them over one reused
SMTP connection, and note each outcome in a journal the moment the server
answers, before the batch is written to the database. Messages are pipelined
(see ``smtp.SMTPTransport.submit``): each outcome is noted before the next
message's final dot is sent, and a message the server accepted is also marked
sent in the database at once (:mod:`.sent_marks`). So a machine that dies for
good, journal and all, costs at most the message on the wire, one per
connection, not the batch. Any number may run at once, on any number of
machines. Reads and writes are per batch, never per reader, and memory holds
one batch. A message whose domain is being paced waits at the back of its batch
while the others go (``batch_queue``).

Between messages, at most once a second, a sender reads its issue's status: when
an editor has paused or cancelled the issue it stops mid-batch, writes what it
sent, and gives back the rest (see :mod:`.control`). Nothing is claimed from an
issue that is not sending.
"""

import os
import socket
import time
from uuid import uuid4

from flask import current_app
from sqlalchemy import and_, select, update

from newsletters.extensions import db
from newsletters.locales import default_language
from newsletters.models import (
    Delivery,
    DeliveryStatus,
    Issue,
    IssueStatus,
    Subscriber,
    Subscription,
    SubscriptionStatus,
    utcnow,
)
from newsletters.services.issues.batch_queue import BatchQueue
from newsletters.services.issues.deliveries import (
    BOUNCED,
    FAILED,
    SENT,
    SKIPPED,
    SUPPRESSED,
    DeliveryReport,
    Outcomes,
    release_claim,
    write_outcomes,
)
from newsletters.services.issues.journal import Journal
from newsletters.services.issues.sent_marks import SentMarks
from newsletters.services.issues.translations import renderings
from newsletters.services.mail import mime, smtp, suppressions, verp
from newsletters.services.mail.links import (
    PREFERENCES_PLACEHOLDER,
    UNSUBSCRIBE_PLACEHOLDER,
    VIEW_PLACEHOLDER,
    ReaderLinks,
    headers_for,
)
from newsletters.services.mail.pipelining import Settled

# One reader in a batch: delivery id, subscriber uuid, address, subscription status and
# saved language (the last four None once the reader is erased).
Recipient = tuple[int, str | None, str | None, str | None, str | None]

# How often a sender asks whether its issue was paused or cancelled (one tiny read).
STATUS_CHECK_SECONDS = 1.0


def _claim_token() -> tuple[str, str]:
    key = uuid4().hex
    return f"{socket.gethostname()}:{os.getpid()}:{key}", key


class Sender:
    """Sends one issue: claims batches until none is left. Many may run at once."""

    def __init__(self, issue: Issue) -> None:
        newsletter = issue.newsletter
        self.issue = issue
        # Plain values: the session expires the issue at every commit, and reading it
        # again would cost a statement per batch.
        self.issue_id = issue.id
        self.newsletter_id = newsletter.id
        self.batch_size = current_app.config["DIGEST_BATCH_SIZE"]
        # One template per language the issue was rendered in; a reader whose saved
        # language has none (or who has none) gets the default language's.
        self.templates = {
            language: mime.MessageTemplate(
                subject=email.subject,
                text=email.text,
                html=email.html,
                date=issue.rendered_at,
                from_name=newsletter.from_name,
                list_id_value=mime.list_id(newsletter.slug, newsletter.name),
                feedback_id_value=mime.feedback_id(
                    str(issue.uuid)[:8], newsletter.slug, "newsletter"
                ),
                language=language,
            )
            for language, email in renderings(issue).items()
        }
        self.default_template = self.templates[default_language()]
        self.links = ReaderLinks(newsletter)
        # Without a public archive page, "View in browser" is each reader's own signed copy.
        self.issue_uuid = str(issue.uuid)
        self.view_per_reader = VIEW_PLACEHOLDER in f"{issue.text_body}{issue.html_body}"
        self.next_status_check = 0.0

    def _stopped(self) -> str | None:
        """'paused' or 'cancelled' once an editor has stopped the issue; checked once a second."""
        if time.monotonic() < self.next_status_check:
            return None
        self.next_status_check = time.monotonic() + STATUS_CHECK_SECONDS
        # Each statement sees what has been committed (PostgreSQL's READ COMMITTED; SQLite
        # reads outside a transaction here), so an editor's pause is seen at the next check.
        status = db.session.scalar(select(Issue.status).where(Issue.id == self.issue_id))
        return None if status == IssueStatus.SENDING else str(status)

    def run(self, progress=None) -> DeliveryReport:
        """Send until no pending delivery is left; ``progress(n)`` after each batch."""
        report = DeliveryReport()
        with smtp.open_transport() as transport, SentMarks() as self.marks:
            while claimed := self._claim():
                token, key, ids = claimed
                batch = self._send_batch(token, key, ids, transport)
                report.add(batch)
                if progress is not None:
                    progress(batch.handled)
                if batch.error or batch.stopped:
                    report.stopped = batch.stopped
                    break
        return report

    def _claim(self) -> tuple[str, str, list[int]] | None:
        token, key = _claim_token()
        sending = select(Issue.id).where(
            Issue.id == self.issue_id, Issue.status == IssueStatus.SENDING
        )
        pending = (
            select(Delivery.id)
            .where(Delivery.issue_id == self.issue_id, Delivery.status == DeliveryStatus.PENDING)
            .where(sending.exists())
            .order_by(Delivery.id)
            .limit(self.batch_size)
            .with_for_update(skip_locked=True)
        )
        # The batch's ids first, then the update: inside one UPDATE ... IN (subquery),
        # PostgreSQL may run the LIMITed subquery once per row it scans (a nested-loop
        # semi-join), skipping the rows it has just locked each time, and so claim far
        # more than one batch: the whole issue, in one go.
        while batch := db.session.scalars(pending).all():
            ids = (
                db.session.execute(
                    update(Delivery)
                    .where(Delivery.id.in_(batch))
                    .where(Delivery.status == DeliveryStatus.PENDING)
                    .values(status=DeliveryStatus.SENDING, claim_token=token, claimed_at=utcnow())
                    .returning(Delivery.id)
                    .execution_options(synchronize_session=False)
                )
                .scalars()
                .all()
            )
            db.session.commit()
            if ids:  # none: another sender took them between the two statements (SQLite)
                return token, key, sorted(ids)
        db.session.commit()
        return None

    def _recipients(self, ids: list[int]) -> list[Recipient]:
        """(delivery id, subscriber uuid, address, subscription status, language) for a
        batch, in one read."""
        rows = db.session.execute(
            select(
                Delivery.id,
                Subscriber.uuid,
                Subscriber.email,
                Subscription.status,
                Subscriber.locale,
            )
            .select_from(Delivery)
            .outerjoin(Subscriber, Subscriber.id == Delivery.subscriber_id)
            .outerjoin(
                Subscription,
                and_(
                    Subscription.subscriber_id == Delivery.subscriber_id,
                    Subscription.newsletter_id == self.newsletter_id,
                ),
            )
            .where(Delivery.id.in_(ids))
            .order_by(Delivery.id)
        ).all()
        return [
            (i, str(u) if u else None, email, status, language)
            for i, u, email, status, language in rows
        ]

    def _send_batch(self, token: str, key: str, ids: list[int], transport) -> DeliveryReport:
        recipients = self._recipients(ids)
        suppressed = suppressions.suppressed_among(r[2] for r in recipients if r[2])
        self.token, self.journal, self.outcomes = token, Journal(key), Outcomes()
        # Half the claim timeout: the batch is written long before its claim looks abandoned.
        timeout = current_app.config["DIGEST_CLAIM_TIMEOUT_SECONDS"]

        def wait(seconds: float) -> None:  # end the message in hand before a long wait
            self._settle_all(transport.finish())
            time.sleep(seconds)

        line = BatchQueue(recipients, deadline=time.monotonic() + timeout / 2, sleep=wait)
        error = stopped = None
        try:
            for delivery_id, subscriber_uuid, address, status, language in line:
                if stopped := self._stopped():
                    break
                if address is None or status != SubscriptionStatus.ACTIVE:
                    # Left, or was erased, after the list was made.
                    self._settle(delivery_id, SKIPPED)
                elif address in suppressed:
                    self._settle(delivery_id, SUPPRESSED)
                else:
                    try:
                        self._settle_all(
                            self._submit(transport, delivery_id, subscriber_uuid, address, language)
                        )
                    except smtp.DomainBusy as exc:
                        line.put_back(exc.retry_in)
                    except smtp.ServerUnavailable as exc:
                        error = str(exc)
                        break
            self._settle_all(transport.finish())
            write_outcomes(self.issue, token, self.outcomes)
            if error or stopped or line.left:
                release_claim(token, self.issue_id)
            self.journal.discard()
        finally:
            self.journal.close()  # after a failure the journal stays, for recovery to read
        report = self.outcomes.report()
        report.error, report.stopped = error, stopped
        return report

    def _settle_all(self, settled: list[Settled]) -> None:
        """Record what the server answered, as soon as it answered."""
        for outcome in settled:
            delivery_id, address = outcome.key
            if (failure := outcome.error) is None:
                self._settle(delivery_id, SENT)
            else:
                bad_address = address if failure.bad_recipient else None
                outcome = BOUNCED if failure.permanent else FAILED
                self._settle(delivery_id, outcome, str(failure), bad_address=bad_address)

    def _settle(
        self, delivery_id: int, outcome: str, detail: str = "", *, bad_address: str | None = None
    ) -> None:
        """The one place an outcome is recorded: the journal at once, the database at once
        when the message was sent (``sent_marks``), the rest with the batch. Called before
        the next message can be delivered, so only a message on the wire can be delivered
        and not recorded."""
        self.journal.record(delivery_id, outcome, detail)
        if outcome == SENT:
            self.marks.mark(delivery_id, self.token)
        self.outcomes.add(delivery_id, outcome, detail)
        if bad_address is not None:
            self.outcomes.bounced_addresses.append(bad_address)

    def _submit(
        self,
        transport,
        delivery_id: int,
        subscriber_uuid: str,
        address: str,
        language: str | None,
    ) -> list[Settled]:
        unsubscribe = self.links.unsubscribe(subscriber_uuid)  # signed once: body and header
        token = verp.token_for_delivery(delivery_id)  # names this copy: Message-ID and return path
        links = {
            UNSUBSCRIBE_PLACEHOLDER: unsubscribe,
            PREFERENCES_PLACEHOLDER: self.links.preferences(subscriber_uuid),
        }
        if self.view_per_reader:
            links[VIEW_PLACEHOLDER] = self.links.view(subscriber_uuid, self.issue_uuid)
        template = self.templates.get(language or "", self.default_template)
        raw = template.render(
            address,
            verp.delivery_message_id(self.issue_uuid, token),
            headers=headers_for(unsubscribe),
            links=links,
        )
        return transport.submit(raw, address, verp.return_path(token), key=(delivery_id, address))
