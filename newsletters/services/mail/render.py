"""Render paired text and HTML email templates into a message ready for the outbox."""

from dataclasses import dataclass

import css_inline
from flask import current_app, render_template


@dataclass(frozen=True)
class RenderedEmail:
    """The parts of an email that do not depend on how it is sent."""

    subject: str
    text: str
    html: str


def clean_header_text(value: str) -> str:
    """Collapse whitespace, so text from readers or admins can never start a new header."""
    return " ".join(value.split())


def render_email(template: str, subject: str, **context) -> RenderedEmail:
    """Render ``templates/email/<template>.txt`` and ``.html``, inlining the HTML's CSS."""
    config = current_app.config
    context = {
        "site_name": config["SITE_NAME"],
        "site_url": config["SITE_URL"],
        "postal_address": config["POSTAL_ADDRESS"],
        "support_email": config["SUPPORT_EMAIL"],
        "subject": clean_header_text(subject),
        **context,
    }
    text = render_template(f"email/{template}.txt", **context)
    html = css_inline.inline(render_template(f"email/{template}.html", **context))
    return RenderedEmail(subject=context["subject"], text=text, html=html)
