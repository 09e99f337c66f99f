"""The publisher's "something went wrong" message, and a support link that carries the
reader's choices. One place for the words; pages and JSON answers both use it."""

from urllib.parse import quote

from flask import current_app, request
from markupsafe import Markup, escape

from newsletters.services.readers import captcha

SAVE_FAILED_MESSAGE = (
    "It looks like something went wrong. We're having trouble saving your preferences. "
    "Try refreshing this page and updating them one more time. If you continue to get this "
    "message, reach out to us at {support} with a list of newsletters you'd like to receive."
)
MAILTO_SUBJECT = "My newsletters"
MAILTO_INTRO = "Hello, please sign me up for these newsletters:"


def save_failed_text() -> str:
    """The message as plain text, with the support address in it."""
    return SAVE_FAILED_MESSAGE.format(support=current_app.config["SUPPORT_EMAIL"])


def save_failed_html(mailto: str) -> Markup:
    """The message as HTML, the support address a mailto link."""
    before, after = SAVE_FAILED_MESSAGE.split("{support}")
    address = current_app.config["SUPPORT_EMAIL"]
    link = Markup('<a data-support-link href="{}">{}</a>').format(mailto, address)
    return escape(before) + link + escape(after)


def support_mailto(names: list[str]) -> str:
    """A mailto link to support whose body already lists the reader's newsletters."""
    body = "\n".join([MAILTO_INTRO, *(f"- {name}" for name in names)]) if names else ""
    query = f"subject={quote(MAILTO_SUBJECT)}"
    if body:
        query += f"&body={quote(body)}"
    return f"mailto:{current_app.config['SUPPORT_EMAIL']}?{query}"


def ticked_names(cards) -> list[str]:
    """The names of the newsletters ticked in the posted form, in page order."""
    ticked = request.form.getlist("newsletters")
    names = {card.slug: card.name for card in cards}
    return [names.get(slug, slug) for slug in ticked]


def init_app(app) -> None:
    """Make the message and the link available to every template."""
    app.jinja_env.globals.update(
        save_failed_html=save_failed_html,
        support_mailto=support_mailto,
        mailto_intro=MAILTO_INTRO,
        captcha_provider=captcha.provider,
    )
