"""When saving fails: the message, and the reader's form drawn again as they filled it in."""

import logging

from flask import render_template, request

from newsletters import error_pages
from newsletters.extensions import db
from newsletters.http import json_error, wants_json
from newsletters.public import forms, pages
from newsletters.services.catalogue import last_known_cards
from newsletters.support import save_failed_text, support_mailto, ticked_names

log = logging.getLogger(__name__)


def save_failed_response(error: BaseException, status: int, save_endpoints: set[str]):
    """Roll back, log with the request id, and answer with the message and the reader's form."""
    db.session.rollback()
    log.error("%s failed: %r", request.endpoint, error, exc_info=error)
    if request.endpoint not in save_endpoints:
        return error_pages.unavailable(error)
    if wants_json():
        return json_error("save_failed", save_failed_text(), status)
    key = request.form.get("idempotency_key") or None
    if request.endpoint == "public.subscribe":
        submission = forms.read_signup(request.form, check_token=False)
        return pages.signup_page(
            pages.cards_for(submission, last_known_cards()),
            source=submission.source,
            status=status,
            failed=True,
            email=submission.email,
            selected=set(submission.newsletters),
            idempotency_key=key,
            form_token=request.form.get("csrf_token"),
            rhythms=submission.frequencies,
        )
    cards = last_known_cards()
    ticked = set(request.form.getlist("newsletters"))
    page = render_template(
        "public/preferences.html",
        token=request.view_args["token"],
        email="",
        choices=forms.redrawn_choices(cards, ticked, forms.chosen_frequencies(request.form)),
        idempotency_key=key or pages.new_key(),
        mailto=support_mailto(ticked_names(cards)),
        failed=True,
    )
    return page, status
