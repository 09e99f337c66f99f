"""Links we put in emails, built from SITE_URL and never from the request's Host."""

from urllib.parse import urlsplit

from flask import current_app

from newsletters.models import Newsletter, Subscriber
from newsletters.services.tokens import Purpose, make_token


def external_url(endpoint: str, **values) -> str:
    """An absolute URL for ``endpoint`` on the configured site, request or not."""
    site = urlsplit(current_app.config["SITE_URL"])
    adapter = current_app.url_map.bind(
        site.netloc, script_name=site.path or "/", url_scheme=site.scheme or "https"
    )
    return adapter.build(endpoint, values, force_external=True)


def confirm_url(subscriber: Subscriber) -> str:
    """The link that confirms a reader's pending subscriptions."""
    token = make_token(Purpose.CONFIRM, {"s": str(subscriber.uuid)})
    return external_url("public.confirm", token=token)


def preferences_url(subscriber: Subscriber) -> str:
    """The reader's own preference center."""
    token = make_token(Purpose.PREFERENCES, {"s": str(subscriber.uuid)})
    return external_url("public.preferences", token=token)


def unsubscribe_url(subscriber: Subscriber, newsletter: Newsletter | None = None) -> str:
    """A link that leaves one newsletter, or every newsletter when none is given."""
    payload = {"s": str(subscriber.uuid), "n": str(newsletter.uuid) if newsletter else None}
    return external_url("public.unsubscribe", token=make_token(Purpose.UNSUBSCRIBE, payload))


def unsubscribe_headers(subscriber: Subscriber, newsletter: Newsletter | None = None) -> dict:
    """RFC 2369 and RFC 8058 headers so mail clients can offer one-click unsubscribe."""
    return {
        "List-Unsubscribe": f"<{unsubscribe_url(subscriber, newsletter)}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
