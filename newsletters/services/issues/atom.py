"""A newsletter's archive as an Atom feed (RFC 4287), built as XML, never as strings.

Each entry is one issue that went out, newest first: its subject, when it was
sent, a link to its archive page, a summary, and the issue itself as HTML with
no reader's links (the same copy the archive page shows). Ids are ``urn:uuid``
URIs of the newsletter and the issues, so they stay the same if the site moves
to another address.
"""

import re
from datetime import UTC, datetime
from xml.etree import ElementTree

from flask import current_app

from newsletters.models import Issue, Newsletter
from newsletters.services.branding import brand_of
from newsletters.services.issues import archive, archive_rhythms

ATOM = "http://www.w3.org/2005/Atom"
CONTENT_TYPE = "application/atom+xml; charset=utf-8"
# Characters XML 1.0 cannot carry at all, not even escaped.
NOT_IN_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def _timestamp(moment: datetime) -> str:
    """An RFC 3339 date-time in UTC, as Atom wants it."""
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _add(parent: ElementTree.Element, tag: str, text: str | None = None, **attributes):
    element = ElementTree.SubElement(
        parent, tag, {k: NOT_IN_XML.sub("", v) for k, v in attributes.items()}
    )
    if text is not None:
        element.text = NOT_IN_XML.sub("", text)
    return element


def _entry(feed: ElementTree.Element, newsletter: Newsletter, issue: Issue) -> None:
    copy = archive.public_copy(issue)
    sent = _timestamp(issue.rendered_at)
    entry = _add(feed, "entry")
    _add(entry, "id", f"urn:uuid:{issue.uuid}")
    _add(entry, "title", issue.subject or newsletter.name, type="text")
    _add(entry, "published", sent)
    _add(entry, "updated", sent)
    _add(
        entry, "link", rel="alternate", type="text/html", href=archive.issue_url(newsletter, issue)
    )
    if copy.summary:
        _add(entry, "summary", copy.summary, type="text")
    _add(entry, "content", copy.html, type="html")


def feed_document(
    newsletter: Newsletter, issues: list[Issue], frequency: str | None = None
) -> bytes:
    """The feed of these issues (newest first; of one rhythm when ``frequency`` names it),
    as UTF-8 XML with its declaration."""
    config = current_app.config
    feed = ElementTree.Element("feed", xmlns=ATOM)  # every element below is in it
    _add(feed, "id", archive_rhythms.feed_id(newsletter, frequency))
    _add(feed, "title", archive_rhythms.feed_title(newsletter, frequency), type="text")
    if newsletter.description:
        _add(feed, "subtitle", newsletter.description, type="text")
    updated = issues[0].rendered_at if issues else newsletter.created_at
    _add(feed, "updated", _timestamp(updated))
    author = _add(feed, "author")
    _add(author, "name", config["SITE_NAME"])
    _add(author, "uri", config["SITE_URL"])
    self_link = archive.feed_url(newsletter, frequency)
    _add(feed, "link", rel="self", type="application/atom+xml", href=self_link)
    _add(feed, "link", rel="alternate", type="text/html", href=archive.newsletter_url(newsletter))
    logo = brand_of(newsletter).logo_url
    if logo:
        _add(feed, "logo", logo)
    _add(feed, "generator", "newsletters")
    for issue in issues:
        _entry(feed, newsletter, issue)
    return ElementTree.tostring(feed, encoding="utf-8", xml_declaration=True)
