"""The publisher's "something went wrong" message, and a support link that carries the
reader's choices. One place for the words; pages and JSON answers both use it."""

from urllib.parse import quote

from flask import current_app, request
from flask_babel import gettext
from markupsafe import Markup, escape

from newsletters.locales import N_
from newsletters.services.readers import captcha

SAVE_FAILED_MESSAGE = N_(
    "It looks like something went wrong. We're having trouble saving your preferences. "
    "Try refreshing this page and updating them one more time. If you continue to get this "
    "message, reach out to us at %(support)s with a list of newsletters you'd like to receive."
)
MAILTO_SUBJECT = N_("My newsletters")
MAILTO_INTRO = N_("Hello, please sign me up for these newsletters:")
# What the page's script says while it saves; the script keeps these English words as defaults.
SCRIPT_WORDS = {
    "saving": N_("Saving…"),
    "retrying": N_("Saving… (trying again)"),
    "check": N_("Please check the form and try again."),
    "saved": N_("Saved."),
}


def save_failed_text() -> str:
    """The message as plain text, with the support address in it."""
    return gettext(SAVE_FAILED_MESSAGE, support=current_app.config["SUPPORT_EMAIL"])


def save_failed_html(mailto: str) -> Markup:
    """The message as HTML, the support address a mailto link."""
    before, after = gettext(SAVE_FAILED_MESSAGE).split("%(support)s")
    address = current_app.config["SUPPORT_EMAIL"]
    link = Markup('<a data-support-link href="{}">{}</a>').format(mailto, address)
    return escape(before) + link + escape(after)


def mailto_intro() -> str:
    """The first line of the message to support, in the page's language."""
    return gettext(MAILTO_INTRO)


def support_mailto(names: list[str]) -> str:
    """A mailto link to support whose body already lists the reader's newsletters."""
    lines = [mailto_intro(), *(f"- {name}" for name in names)]
    body = "\n".join(lines) if names else ""
    query = f"subject={quote(gettext(MAILTO_SUBJECT))}"
    if body:
        query += f"&body={quote(body)}"
    return f"mailto:{current_app.config['SUPPORT_EMAIL']}?{query}"


def support_link() -> Markup:
    """The support address as a mailto link, for a sentence that names it."""
    address = current_app.config["SUPPORT_EMAIL"]
    return Markup('<a href="mailto:{}">{}</a>').format(address, address)


def link_to(url: str, text: str) -> Markup:
    """A link inside a translated sentence."""
    return Markup('<a href="{}">{}</a>').format(url, text)


def strong(text: str) -> Markup:
    """Words set in bold inside a translated sentence (an address, a name)."""
    return Markup("<strong>{}</strong>").format(text)


def form_words() -> Markup:
    """The script's words for a form, as data attributes in the page's language."""
    return Markup(" ").join(
        Markup('data-say-{}="{}"').format(name, gettext(words))
        for name, words in SCRIPT_WORDS.items()
    )


def ticked_names(cards) -> list[str]:
    """The names of the newsletters ticked in the posted form, in page order."""
    ticked = request.form.getlist("newsletters")
    names = {card.slug: card.name for card in cards}
    return [names.get(slug, slug) for slug in ticked]


def init_app(app) -> None:
    """Make the message, the link and the sentence helpers available to every template."""
    app.jinja_env.globals.update(
        save_failed_html=save_failed_html,
        support_mailto=support_mailto,
        mailto_intro=mailto_intro,
        support_link=support_link,
        link_to=link_to,
        strong=strong,
        form_words=form_words,
        captcha_provider=captcha.provider,
    )
