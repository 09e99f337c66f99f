"""Reading the reader's forms.

The signup form is posted from our own pages and from an iframe on other
sites, where our session cookie is not sent. Its CSRF token is therefore a
signed timestamp carried in the form itself (``csrf_token``), which also tells
us how long the form took to fill in. It lives ``SIGNUP_FORM_MAX_AGE`` and may
be posted ``SIGNUP_FORM_MAX_USES`` times, counted by its nonce, so one token
cannot sign up any number of addresses. Every other form uses Flask-WTF's
session-bound token.
"""

import secrets
import time
from dataclasses import dataclass, field

from flask import request
from werkzeug.datastructures import MultiDict

from newsletters.errors import FormExpired, InvalidInput, InvalidToken
from newsletters.limits import spend_form_use
from newsletters.services.catalogue import MAX_CHOICES, TOO_MANY, Card
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
    # When the form was drawn (from its signed token), for the fill-time check; None
    # when the token was not read.
    shown_at: float | None
    # The rhythm asked for a newsletter (``frequency-<slug>``), where the form asks.
    frequencies: dict[str, str] = field(default_factory=dict)


def signup_form_token() -> str:
    """A fresh token for a signup form about to be shown."""
    return make_token(
        Purpose.SIGNUP_FORM, {"t": round(time.time(), 3), "n": secrets.token_urlsafe(12)}
    )


def _spend_token(form: MultiDict) -> float:
    """When the form's token was issued, counting this post as one of its uses.

    :class:`FormExpired` when the token is missing, forged, too old or used up.
    """
    try:
        payload = read_token(Purpose.SIGNUP_FORM, form.get("csrf_token", ""))
        issued = float(payload["t"])
    except (InvalidToken, KeyError, TypeError, ValueError) as exc:
        raise FormExpired() from exc
    # Keyed by what was signed, never by the token's text: one payload has many spellings.
    nonce = str(payload.get("n") or f"t:{issued}")
    retry_key = request.headers.get("Idempotency-Key") or form.get("idempotency_key")
    if not spend_form_use(nonce, retry_key):
        raise FormExpired()
    return issued


FREQUENCY_FIELD = "frequency-"


def chosen_frequencies(form: MultiDict) -> dict[str, str]:
    """The rhythm asked for each newsletter: ``frequency-<slug>`` fields, slug -> value
    (checked by the service, which refuses a newsletter or rhythm it does not know)."""
    chosen = {
        name.removeprefix(FREQUENCY_FIELD): form.get(name, "").strip()
        for name in form
        if name.startswith(FREQUENCY_FIELD)
    }
    if len(chosen) > MAX_CHOICES:
        raise InvalidInput(TOO_MANY, field="newsletters")
    return chosen


def read_signup(form: MultiDict, *, check_token: bool = True) -> SignupSubmission:
    """Check the form token and collect the fields; :class:`FormExpired` if the token fails."""
    shown_at = _spend_token(form) if check_token else None
    source = form.get("source", "form")
    return SignupSubmission(
        email=form.get("email", "")[: MAX_ADDRESS_LENGTH + 1],
        newsletters=form.getlist("newsletters"),
        source=source if source in SIGNUP_SOURCES else "form",
        shown=[s for s in form.get("shown", "").split(",") if s][:MAX_CHOICES],
        shown_at=shown_at,
        frequencies=chosen_frequencies(form),
    )


def cards_for_embed(cards: list[Card], slugs: list[str]) -> list[Card]:
    """The newsletters an embed box asked for, in its order; unknown slugs are left out."""
    by_slug = {card.slug: card for card in cards}
    return [by_slug[slug] for slug in dict.fromkeys(slugs) if slug in by_slug]


@dataclass(frozen=True)
class RedrawnChoice:
    """A preference checkbox (and its "How often" list) drawn from what the reader
    posted, not from the database."""

    newsletter: Card
    checked: bool
    asked: str | None = None  # the rhythm the reader picked, if any
    status: None = None
    pending: None = None

    @property
    def frequencies(self) -> list[str]:
        """The rhythms the newsletter offers, its default first."""
        return list(self.newsletter.frequencies)

    @property
    def chosen(self) -> str:
        """The rhythm the list shows: the one picked, while the newsletter offers it."""
        return self.asked if self.asked in self.frequencies else self.frequencies[0]


def redrawn_choices(
    cards: list[Card], ticked: set[str], rhythms: dict[str, str] | None = None
) -> list[RedrawnChoice]:
    """The preference form as the reader left it, when the database cannot tell us more."""
    rhythms = rhythms or {}
    return [RedrawnChoice(card, card.slug in ticked, rhythms.get(card.slug)) for card in cards]
