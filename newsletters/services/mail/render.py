"""Render paired text and HTML email templates into a message ready for the outbox."""

from dataclasses import dataclass

from flask import current_app, render_template


@dataclass(frozen=True)
class RenderedEmail:
    """The parts of an email that do not depend on how it is sent."""

    subject: str
    text: str
    html: str


# RFC 5322 (2.1.1) allows 998 characters on a line; "Subject: " takes 9 of them.
MAX_SUBJECT_LENGTH = 998 - len("Subject: ")


def clean_header_text(value: str) -> str:
    """Collapse whitespace, so text from readers or admins can never start a new header."""
    return " ".join(value.split())


def subject_text(value: str, limit: int = MAX_SUBJECT_LENGTH) -> str:
    """A subject on one line and at most ``limit`` characters: longer ones end in "…"."""
    value = clean_header_text(value)
    if len(value) <= limit:
        return value
    return value[: limit - 1].rstrip() + "…"


def render_email(template: str, subject: str, **context) -> RenderedEmail:
    """Render ``templates/email/<template>.txt`` and ``.html``, inlining the HTML's CSS."""
    config = current_app.config
    context = {
        "site_name": config["SITE_NAME"],
        "site_url": config["SITE_URL"],
        "postal_address": config["POSTAL_ADDRESS"],
        "support_email": config["SUPPORT_EMAIL"],
        "subject": subject_text(subject),
        **context,
    }
    text = render_template(f"email/{template}.txt", **context)
    import css_inline  # loaded only when an email is rendered

    html = css_inline.inline(render_template(f"email/{template}.html", **context))
    return RenderedEmail(subject=context["subject"], text=text, html=html)
