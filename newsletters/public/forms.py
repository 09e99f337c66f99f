"""Reading the reader's forms.

The signup form is posted from our own pages and from an iframe on other
sites, where our session cookie is not sent. Its CSRF token is therefore a
signed timestamp carried in the form itself (``csrf_token``), which also tells
us how long the form took to fill in. Every other form uses Flask-WTF's
session-bound token.
"""

import time
from dataclasses import dataclass

from flask import current_app
from werkzeug.datastructures import MultiDict

from newsletters.errors import FormExpired, InvalidToken
from newsletters.services.catalogue import MAX_CHOICES, Card
from newsletters.services.core.addresses import MAX_ADDRESS_LENGTH
from newsletters.services.core.tokens import Purpose, make_token, read_token

SIGNUP_SOURCES = ("form", "embed")


@dataclass(frozen=True)
class SignupSubmission:
    """A signup form as posted."""

    email: str
    newsletters: list[str]
    source: str
    # The newsletters an embed box showed, so an error redraws the same box.
    shown: list[str]
    # A filled honeypot or a form filled faster than a person can: answered as
    # usual so a bot learns nothing, but nothing is stored and no mail is sent.
    looks_automated: bool


def signup_form_token() -> str:
    """A fresh token for a signup form about to be shown."""
    return make_token(Purpose.SIGNUP_FORM, {"t": round(time.time(), 3)})


def read_signup(form: MultiDict, *, check_token: bool = True) -> SignupSubmission:
    """Check the form token and collect the fields; :class:`FormExpired` if the token fails."""
    too_fast = False
    if check_token:
        try:
            issued = float(read_token(Purpose.SIGNUP_FORM, form.get("csrf_token", ""))["t"])
        except (InvalidToken, KeyError, TypeError, ValueError) as exc:
            raise FormExpired() from exc
        too_fast = time.time() - issued < current_app.config["SIGNUP_MIN_SECONDS"]
    honeypot = bool(form.get("website", "").strip())
    source = form.get("source", "form")
    return SignupSubmission(
        email=form.get("email", "")[: MAX_ADDRESS_LENGTH + 1],
        newsletters=form.getlist("newsletters"),
        source=source if source in SIGNUP_SOURCES else "form",
        shown=[s for s in form.get("shown", "").split(",") if s][:MAX_CHOICES],
        looks_automated=too_fast or honeypot,
    )


def cards_for_embed(cards: list[Card], slugs: list[str]) -> list[Card]:
    """The newsletters an embed box asked for, in its order; unknown slugs are left out."""
    by_slug = {card.slug: card for card in cards}
    return [by_slug[slug] for slug in dict.fromkeys(slugs) if slug in by_slug]


@dataclass(frozen=True)
class RedrawnChoice:
    """A preference checkbox drawn from what the reader posted, not from the database."""

    newsletter: Card
    checked: bool
    status: None = None


def redrawn_choices(cards: list[Card], ticked: set[str]) -> list[RedrawnChoice]:
    """The preference form as the reader left it, when the database cannot tell us more."""
    return [RedrawnChoice(card, card.slug in ticked) for card in cards]
