"""Response headers that keep pages out of other sites' frames and scripts off the page.

Only the embeddable signup box may be framed, and only by the origins in
``EMBED_ALLOWED_ORIGINS``. Only the archive's pages, which show issues as they were
sent, may load images from other sites (over https): the stories' pictures and the
newsletters' logos live on the publisher's servers.
"""

from urllib.parse import urlsplit

from flask import Flask, current_app, g
from flask_cors import CORS

from newsletters.services.readers import captcha

POLICY = (
    "default-src 'self'; script-src 'self'{captcha}; style-src 'self'{captcha}; "
    "img-src 'self' data:{images}; frame-src 'self'{captcha}; connect-src 'self'{captcha}; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors {ancestors}"
)


def allow_framing() -> None:
    """Let this response be shown in an iframe on the allowed origins (the embed box)."""
    g.embeddable = True


def allow_remote_images() -> None:
    """Let this page show images from any https site (an archived issue's pictures)."""
    g.remote_images = True


def frame_ancestors() -> str:
    """Who may frame the embed box: this site and the configured origins."""
    return " ".join(["'self'", *current_app.config["EMBED_ALLOWED_ORIGINS"]])


def _captcha_origin() -> str:
    """The CAPTCHA provider's origin, which must be allowed to run its widget."""
    builtin = captcha.provider()
    if builtin is None:
        return ""
    parts = urlsplit(builtin.script)
    return f" {parts.scheme}://{parts.netloc}"


def init_app(app: Flask) -> None:
    """Add the headers after every request, leaving any a view set itself."""
    # Publishers' own forms may call the signup API from their pages, and nothing else may.
    CORS(
        app,
        resources={
            r"/api/v1/subscriptions": {
                "origins": app.config["EMBED_ALLOWED_ORIGINS"],
                "methods": ["POST"],
                "allow_headers": ["Content-Type", "Idempotency-Key", "X-Publishable-Key"],
                "max_age": 600,
            }
        },
    )

    @app.after_request
    def add_security_headers(response):
        headers = response.headers
        embeddable = g.get("embeddable", False)
        ancestors = frame_ancestors() if embeddable else "'self'"
        images = " https:" if g.get("remote_images", False) else ""
        headers.setdefault(
            "Content-Security-Policy",
            POLICY.format(ancestors=ancestors, captcha=_captcha_origin(), images=images),
        )
        if not embeddable:
            # X-Frame-Options cannot name several origins; CSP frame-ancestors does.
            headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        if app.config["IS_PRODUCTION"] and app.config["SITE_URL"].startswith("https://"):
            headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        return response
