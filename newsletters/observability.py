"""Request ids, and logs that are safe to keep.

Every request gets an id, every log line carries it, and every error page shows
it: a reader who quotes it leads support to their request's log lines. Every
log line, from this app, Werkzeug, gunicorn or SQLAlchemy's error messages, is
redacted as it is made: link tokens are cut out of URLs and email addresses are
masked (r***@example.com).
"""

import logging
import re
import traceback
import uuid

from flask import Flask, g, has_request_context, request

HEADER = "X-Request-ID"
ACCEPTABLE = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def request_id() -> str:
    """This request's id, or '-' outside a request."""
    if has_request_context():
        return getattr(g, "request_id", "-")
    return "-"


TOKEN_IN_PATH = re.compile(r"(/(?:confirm|preferences|unsubscribe)/)[A-Za-z0-9_.\-]{16,}")
EMAIL = re.compile(r"([\w.!#$%&'*+/=?^`{|}~-])[\w.!#$%&'*+/=?^`{|}~-]*@([\w-]+(?:\.[\w-]+)+)")


def redact(text: str) -> str:
    """The text with link tokens removed and email addresses masked."""
    return EMAIL.sub(r"\1***@\2", TOKEN_IN_PATH.sub(r"\1[token]", text))


def _redact_record(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # a broken format string is logging's problem, not ours
        return
    record.msg, record.args = redact(message), None
    if record.exc_info and record.exc_info[0] is not None:
        record.exc_text = redact("".join(traceback.format_exception(*record.exc_info)).rstrip())
        record.exc_info = None


def install_log_record_factory() -> None:
    """Give every log record, from any logger and to any handler, a ``request_id``,
    and redact it before any handler can see it."""
    current = logging.getLogRecordFactory()
    if getattr(current, "adds_request_id", False):
        return

    def factory(*args, **kwargs) -> logging.LogRecord:
        record = current(*args, **kwargs)
        record.request_id = request_id()
        _redact_record(record)
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
