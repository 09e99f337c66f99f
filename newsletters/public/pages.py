"""Drawing the reader's signup forms: fresh, after a mistake, after a failure, or expired."""

import uuid

from flask import render_template

from newsletters.errors import FormExpired, InvalidInput
from newsletters.http import json_error, wants_json
from newsletters.locales import N_, translated
from newsletters.public import forms
from newsletters.security import allow_framing
from newsletters.services.catalogue import Card, signup_cards
from newsletters.services.rhythm.choice import RHYTHM_NAMES
from newsletters.support import support_mailto


def new_key() -> str:
    """A fresh Idempotency-Key for a form about to be shown."""
    return uuid.uuid4().hex


def signup_page(
    cards: list[Card],
    *,
    source: str = "form",
    status: int = 200,
    selected: set[str] | frozenset[str] = frozenset(),
    email: str = "",
    error: InvalidInput | None = None,
    failed: bool = False,
    form_token: str | None = None,
    idempotency_key: str | None = None,
    rhythms: dict[str, str] | None = None,
):
    """The newsletters page or the embed box, with whatever the reader already typed.

    A form drawn again after a mistake or a failure keeps its first token: the
    reader has already spent their time on it, and a quick "Try again" must not
    look like a bot. It keeps the rhythms they picked (``rhythms``, slug -> rhythm) too.
    """
    rhythms = rhythms or {}
    if source == "embed":
        allow_framing()
    page = render_template(
        "public/embed.html" if source == "embed" else "public/index.html",
        cards=cards,
        selected=selected,
        email=email,
        form_token=form_token or forms.signup_form_token(),
        idempotency_key=idempotency_key or new_key(),
        mailto=support_mailto(chosen_names(cards, selected, rhythms)),
        shown=",".join(card.slug for card in cards) if source == "embed" else "",
        error=error,
        failed=failed,
        rhythms=rhythms,
    )
    return page, status


def chosen_names(
    cards: list[Card], selected: set[str] | frozenset[str], rhythms: dict[str, str]
) -> list[str]:
    """The newsletters the reader ticked, for the message to support: each with the rhythm
    they picked where it offers more than one ("The Paper (Daily)")."""
    names = []
    for card in cards:
        if card.slug not in selected:
            continue
        rhythm = rhythms.get(card.slug)
        if len(card.frequencies) > 1 and rhythm in card.frequencies:
            names.append(f"{card.name} ({translated(RHYTHM_NAMES[rhythm])})")
        else:
            names.append(card.name)
    return names


def cards_for(submission: forms.SignupSubmission, cards: list[Card]) -> list[Card]:
    """The newsletters the form that was posted showed: all of them, or an embed box's."""
    if submission.source == "embed":
        return forms.cards_for_embed(cards, submission.shown)
    return cards


def form_expired_page(error: FormExpired, form):
    """An expired or used-up form: inside the box, a fresh box; elsewhere the error page."""
    if form.get("source") != "embed" or wants_json():
        raise error
    submission = forms.read_signup(form, check_token=False)
    return signup_page(
        cards_for(submission, signup_cards()),
        source="embed",
        status=error.status,
        error=FormExpired(
            N_("This form had expired, so here is a fresh one. Please sign up again.")
        ),
        email=submission.email,
        selected=set(submission.newsletters),
        rhythms=submission.frequencies,
    )


def signup_error_page(error: InvalidInput, submission: forms.SignupSubmission, form):
    """The reader's mistake, in JSON for a script or on the form they filled in."""
    if wants_json():
        return json_error(error.code, error.message, error.status, field=error.field)
    return signup_page(
        cards_for(submission, signup_cards()),
        source=submission.source,
        status=error.status,
        error=error,
        email=submission.email,
        selected=set(submission.newsletters),
        form_token=form.get("csrf_token"),
        rhythms=submission.frequencies,
    )
