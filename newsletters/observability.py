"""Request ids: every request gets one, every log line carries it, every error page shows it.

A reader who quotes the id from an error page leads support straight to the
log lines of their request.
"""

import logging
import re
import uuid

from flask import Flask, g, has_request_context, request

HEADER = "X-Request-ID"
ACCEPTABLE = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def request_id() -> str:
    """This request's id, or '-' outside a request."""
    if has_request_context():
        return getattr(g, "request_id", "-")
    return "-"


def install_log_record_factory() -> None:
    """Give every log record, from any logger and to any handler, a ``request_id``."""
    current = logging.getLogRecordFactory()
    if getattr(current, "adds_request_id", False):
        return

    def factory(*args, **kwargs) -> logging.LogRecord:
        record = current(*args, **kwargs)
        record.request_id = request_id()
        return record

    factory.adds_request_id = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def init_app(app: Flask) -> None:
    """Give each request an id (a proxy's, when it sent a sane one) and echo it back."""
    install_log_record_factory()

    @app.before_request
    def assign_request_id():
        incoming = request.headers.get(HEADER, "")
        g.request_id = incoming if ACCEPTABLE.match(incoming) else uuid.uuid4().hex[:16]

    @app.after_request
    def echo_request_id(response):
        response.headers.setdefault(HEADER, request_id())
        return response

    # A global, not a context variable, so macros imported into pages can show it too.
    app.jinja_env.globals["request_id"] = request_id
