"""An issue sent for real, so that bounce reports have real deliveries to name."""

from sqlalchemy import select

from newsletters.extensions import db
from newsletters.models import Delivery, Subscriber
from tests.support.readers import add_readers

BOUNCE_DOMAIN = "bounces.newsletters.test"


def sent_issue(app, runner, smtp_server, newsletter_id: int, count: int = 3) -> dict[str, str]:
    """Send the due issue to ``count`` new readers; each address with the token of its copy.

    The token is read off the wire, from the envelope sender the SMTP server saw,
    exactly as a bounce would come back to it.
    """
    addresses = add_readers(app, newsletter_id, count, prefix=f"r{len(smtp_server.envelopes)}")
    result = runner.invoke(args=["digest", "send"])
    assert result.exit_code == 0, result.output
    tokens = {}
    for envelope in smtp_server.envelopes:
        local, _, domain = envelope.mail_from.partition("@")
        assert domain == BOUNCE_DOMAIN and local.startswith("bounces+"), envelope.mail_from
        for to in envelope.rcpt_tos:
            if to in addresses:
                tokens[to] = local.removeprefix("bounces+")
    assert set(tokens) == set(addresses)
    return tokens


def delivery_of(address: str) -> Delivery:
    """The one delivery row of this reader (call inside an app context)."""
    return db.session.scalar(
        select(Delivery)
        .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
        .where(Subscriber.email == address)
    )
