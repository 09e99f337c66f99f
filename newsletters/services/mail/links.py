"""Links we put in emails, built from SITE_URL and never from the request's Host."""

from urllib.parse import urlsplit

from flask import current_app

from newsletters.models import Newsletter, Subscriber
from newsletters.services.core.tokens import Purpose, TokenMaker, make_token

TOKEN_MARK = "__TOKEN__"
# Written into an issue rendered once, and replaced by each reader's own links.
UNSUBSCRIBE_PLACEHOLDER = "__NL_UNSUBSCRIBE_URL__"
PREFERENCES_PLACEHOLDER = "__NL_PREFERENCES_URL__"
# "View in browser" for an issue with no public archive page: the reader's own signed copy.
VIEW_PLACEHOLDER = "__NL_VIEW_URL__"
READER_PLACEHOLDERS = (UNSUBSCRIBE_PLACEHOLDER, PREFERENCES_PLACEHOLDER, VIEW_PLACEHOLDER)


def fill_sample_links(body: str, sample_url: str) -> str:
    """A rendered issue's body with one sample link where each reader's own links go."""
    for placeholder in READER_PLACEHOLDERS:
        body = body.replace(placeholder, sample_url)
    return body


def external_url(endpoint: str, **values) -> str:
    """An absolute URL for ``endpoint`` on the configured site, request or not."""
    site = urlsplit(current_app.config["SITE_URL"])
    # The reader pages are enough to build every link a mail holds (``link_map``).
    adapter = current_app.link_map().bind(
        site.netloc, script_name=site.path or "/", url_scheme=site.scheme or "https"
    )
    return adapter.build(endpoint, values, force_external=True)


class ReaderLinks:
    """A reader's own preferences and unsubscribe links.

    The URL patterns and token makers are prepared once, so making the links for
    every reader of a large issue costs two signatures each and nothing else.
    """

    def __init__(self, newsletter: Newsletter | None = None) -> None:
        self.newsletter_uuid = str(newsletter.uuid) if newsletter is not None else None
        self.preferences_pattern = external_url("public.preferences", token=TOKEN_MARK)
        self.unsubscribe_pattern = external_url("public.unsubscribe", token=TOKEN_MARK)
        self.preferences_signer = TokenMaker(Purpose.PREFERENCES)
        self.unsubscribe_signer = TokenMaker(Purpose.UNSUBSCRIBE)
        self.view_pattern: str | None = None  # made when first needed

    def preferences(self, subscriber_uuid: str) -> str:
        """The reader's preference center."""
        token = self.preferences_signer.dumps({"s": subscriber_uuid})
        return self.preferences_pattern.replace(TOKEN_MARK, token)

    def unsubscribe(self, subscriber_uuid: str) -> str:
        """Leave this newsletter (or every newsletter, when made without one)."""
        token = self.unsubscribe_signer.dumps({"s": subscriber_uuid, "n": self.newsletter_uuid})
        return self.unsubscribe_pattern.replace(TOKEN_MARK, token)

    def view(self, subscriber_uuid: str, issue_uuid: str) -> str:
        """The reader's own copy of an issue on the web, with their own links (one signature)."""
        if self.view_pattern is None:
            self.view_pattern = external_url("archive.reader_copy", token=TOKEN_MARK)
            self.view_signer = TokenMaker(Purpose.VIEW)
        token = self.view_signer.dumps({"s": subscriber_uuid, "i": issue_uuid})
        return self.view_pattern.replace(TOKEN_MARK, token)

    def unsubscribe_headers(self, subscriber_uuid: str) -> dict[str, str]:
        """RFC 2369 and RFC 8058 headers so mail clients can offer one-click unsubscribe."""
        return headers_for(self.unsubscribe(subscriber_uuid))


def headers_for(unsubscribe: str) -> dict[str, str]:
    """The List-Unsubscribe headers around an unsubscribe link already made."""
    return {
        "List-Unsubscribe": f"<{unsubscribe}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def confirm_url(subscriber: Subscriber) -> str:
    """The link that confirms a reader's pending subscriptions."""
    token = make_token(Purpose.CONFIRM, {"s": str(subscriber.uuid)})
    return external_url("public.confirm", token=token)


def preferences_url(subscriber: Subscriber) -> str:
    """The reader's own preference center."""
    return ReaderLinks().preferences(str(subscriber.uuid))


def unsubscribe_url(subscriber: Subscriber, newsletter: Newsletter | None = None) -> str:
    """A link that leaves one newsletter, or every newsletter when none is given."""
    return ReaderLinks(newsletter).unsubscribe(str(subscriber.uuid))


def unsubscribe_headers(subscriber: Subscriber, newsletter: Newsletter | None = None) -> dict:
    """The List-Unsubscribe headers for one reader."""
    return ReaderLinks(newsletter).unsubscribe_headers(str(subscriber.uuid))
