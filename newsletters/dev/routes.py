"""``/dev/mailbox``: read the mail the app sent, as HTML, text or raw source."""

from flask import Blueprint, abort, render_template

from newsletters.services.mail import devmailbox

bp = Blueprint("dev", __name__, url_prefix="/dev")

# Rendered emails carry inline styles (css-inline), which the site's CSP forbids.
EMAIL_PREVIEW_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src * data:"


def _message_or_404(key: str) -> devmailbox.StoredMail:
    message = devmailbox.get_message(key)
    if message is None:
        abort(404)
    return message


@bp.get("/mailbox")
def mailbox():
    """Every message sent, newest first."""
    return render_template("dev/mailbox.html", messages=devmailbox.list_messages())


@bp.get("/mailbox/<key>")
def message(key: str):
    """One message with its headers, and tabs for HTML, text and source."""
    return render_template("dev/message.html", message=_message_or_404(key))


@bp.get("/mailbox/<key>/html")
def message_html(key: str):
    """The HTML part as a recipient's mail client would show it."""
    html = _message_or_404(key).part("html")
    headers = {
        "Content-Type": "text/html; charset=utf-8",
        "Content-Security-Policy": EMAIL_PREVIEW_CSP,
    }
    return html, 200, headers


@bp.get("/mailbox/<key>/text")
def message_text(key: str):
    """The plain-text part."""
    return _message_or_404(key).part("plain"), 200, {"Content-Type": "text/plain; charset=utf-8"}


@bp.get("/mailbox/<key>/raw")
def message_raw(key: str):
    """The message exactly as it would go over the wire."""
    return _message_or_404(key).raw, 200, {"Content-Type": "text/plain; charset=utf-8"}
