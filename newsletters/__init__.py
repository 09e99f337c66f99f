"""newsletters: a self-hostable newsletter subscription service."""

import logging
import os
from collections.abc import Mapping
from typing import Any

from flask import Flask
from sqlalchemy import event
from werkzeug.middleware.proxy_fix import ProxyFix

from newsletters import (
    admin,
    api,
    cli,
    dev,
    error_pages,
    http,
    locales,
    models,
    observability,
    public,
    security,
    tasks,
    webhooks,
)
from newsletters.config import load_config
from newsletters.extensions import csrf, db, limiter, login, migrate
from newsletters.models.types import render_migration_type
from newsletters.preflight import check_production_settings, log_warnings
from newsletters.public import support
from newsletters.services.console import admins
from newsletters.services.core import transactions
from newsletters.services.mail import dkim_signing, outbox, smtp


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the application: settings first, then each part in turn."""
    app = Flask(__name__, instance_relative_config=True, template_folder="../templates")
    load_config(app, config)
    check_production_settings(app)
    os.makedirs(app.instance_path, exist_ok=True)
    register_extensions(app)
    register_blueprints(app)
    register_error_handlers(app)
    register_input_checks(app)
    register_security_headers(app)
    register_cli(app)
    register_celery(app)
    register_logging(app)
    register_proxy(app)
    log_warnings(app)
    return app


def register_extensions(app: Flask) -> None:
    """Bind the unbound extension instances to this app."""
    assert models.Newsletter  # every model is imported, so Alembic sees the whole schema
    db.init_app(app)
    migrate.init_app(
        app,
        db,
        directory=os.path.join(app.root_path, "..", "migrations"),
        render_as_batch=True,  # SQLite alters tables by copying them
        compare_type=True,
        render_item=render_migration_type,
    )
    csrf.init_app(app)
    locales.init_app(app)  # readers' languages (Flask-Babel)
    limiter.init_app(app)
    login.init_app(app)
    login.login_view = "admin.login"
    login.login_message = None  # the login page says what it needs to
    login.user_loader(admins.admin_by_id)
    transactions.init_app(app)
    smtp.init_app(app)
    dkim_signing.init_app(app)
    outbox.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            busy_ms = int(app.config["SQLITE_BUSY_TIMEOUT_MS"])

            def sqlite_pragmas(dbapi_connection, _record) -> None:
                # Enforce foreign keys, and let readers and one writer work side by side.
                cursor = dbapi_connection.cursor()
                cursor.execute("PRAGMA foreign_keys=ON")
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
                cursor.close()

            event.listen(db.engine, "connect", sqlite_pragmas)


def register_blueprints(app: Flask) -> None:
    """Mount the reader pages, and the development mailbox when mail stays local."""
    app.register_blueprint(public.bp)
    app.register_blueprint(public.archive.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(webhooks.bp)
    if not app.config["MAIL_SERVER"] and not app.config["IS_PRODUCTION"]:
        app.register_blueprint(dev.bp)


def register_error_handlers(app: Flask) -> None:
    """Pages for errors, in the site's own words."""
    error_pages.register_error_handlers(app)
    support.init_app(app)


def register_input_checks(app: Flask) -> None:
    """Bad input refused the same way on every route: deep JSON, control characters."""
    http.init_app(app)


def register_security_headers(app: Flask) -> None:
    """Headers that every response carries unless a view set its own."""
    security.init_app(app)


def register_cli(app: Flask) -> None:
    """The ``flask newsletter`` and ``flask outbox`` commands."""
    cli.register_cli(app)


def register_celery(app: Flask) -> None:
    """A Celery app for workers; the web hands work to it when CELERY_BROKER_URL is set."""
    tasks.init_celery(app)


def register_logging(app: Flask) -> None:
    """Log the package at INFO, with each line's request id, to stderr."""
    observability.init_app(app)
    logger = logging.getLogger("newsletters")
    if not app.testing and not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s")
        )
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


def register_proxy(app: Flask) -> None:
    """Trust X-Forwarded-For/-Proto from ``PROXY_COUNT`` proxies in front of the app."""
    hops = app.config["PROXY_COUNT"]
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
