"""newsletters: a self-hostable newsletter subscription service.

The factory builds the same app for the web, the workers and the ``flask`` commands,
but what only serves requests is set up the first time a request or a URL needs it
(see ``newsletters.application``), so a cron command that has nothing to do loads
little more than Flask and the database.
"""

import logging
import os
from collections.abc import Mapping
from typing import Any

from flask import Flask

from newsletters.application import Newsletters, freeze_at_exit
from newsletters.config import load_config


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the application: settings first, then each part in turn."""
    app = Newsletters(__name__, instance_relative_config=True, template_folder="../templates")
    load_config(app, config)
    from newsletters.preflight import check_production_settings, log_warnings

    check_production_settings(app)
    os.makedirs(app.instance_path, exist_ok=True)
    register_extensions(app)
    app.on_first_link(register_link_pages)
    app.on_first_route(register_web)
    register_template_helpers(app)
    register_cli(app)
    register_celery(app)
    register_migrations(app)
    register_logging(app)
    register_proxy(app)
    log_warnings(app)
    freeze_at_exit()
    return app


def register_extensions(app: Flask) -> None:
    """Bind the unbound extension instances to this app.

    CSRF, the rate limiter and sign-in serve requests, but are bound here, in this
    order, so that their checks run first and in the same order on every request, and
    so that a command (``flask admin unlock``) finds the limiter set up."""
    from sqlalchemy import event

    from newsletters import locales, models
    from newsletters.extensions import csrf, db, limiter, login
    from newsletters.services.core import transactions
    from newsletters.services.mail import outbox, smtp

    assert models.Newsletter  # every model is imported, so Alembic sees the whole schema
    db.init_app(app)
    csrf.init_app(app)
    locales.init_app(app)  # readers' languages (Flask-Babel)
    limiter.init_app(app)
    login.init_app(app)
    login.login_view = "admin.login"
    login.login_message = None  # the login page says what it needs to
    login.user_loader(load_admin)
    transactions.init_app(app)
    smtp.init_app(app)
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


def load_admin(admin_id: str):
    """The signed-in administrator, for Flask-Login (the console's code loaded on use)."""
    from newsletters.services.console import admins

    return admins.admin_by_id(admin_id)


def register_web(app: Flask) -> None:
    """What serves requests, but mail's links: the pages, their errors and headers."""
    register_blueprints(app)
    register_error_handlers(app)
    register_input_checks(app)
    register_security_headers(app)


def register_link_pages(app: Flask) -> None:
    """Mount the reader pages and the archive: what mail links to, so mounted first."""
    from newsletters import public

    app.register_blueprint(public.bp)
    app.register_blueprint(public.archive.bp)


def register_blueprints(app: Flask) -> None:
    """Mount the API, the console, the webhooks, and the development mailbox when mail
    stays local (after the reader pages, ``register_link_pages``)."""
    from newsletters import admin, api, dev, webhooks

    app.register_blueprint(api.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(webhooks.bp)
    if not app.config["MAIL_SERVER"] and not app.config["IS_PRODUCTION"]:
        app.register_blueprint(dev.bp)


def register_error_handlers(app: Flask) -> None:
    """Pages for errors, in the site's own words."""
    from newsletters import error_pages

    error_pages.register_error_handlers(app)


def register_input_checks(app: Flask) -> None:
    """Bad input refused the same way on every route: deep JSON, control characters."""
    from newsletters import http

    http.init_app(app)


def register_template_helpers(app: Flask) -> None:
    """What every template may use, mail rendered by a worker or a command included."""
    from newsletters import support

    support.init_app(app)


def register_security_headers(app: Flask) -> None:
    """Headers that every response carries unless a view set its own."""
    from newsletters import security

    security.init_app(app)


def register_cli(app: Flask) -> None:
    """The ``flask`` command groups, each imported when it runs."""
    from newsletters import cli, schema

    cli.register_cli(app, {"db": lambda: schema.db_command(app)})


def register_celery(app: Flask) -> None:
    """A Celery app for workers, made the first time ``app.extensions["celery"]`` is read:
    the web hands work to it when CELERY_BROKER_URL is set."""

    def make_celery() -> None:
        from newsletters import tasks

        tasks.init_celery(app)

    app.extensions.on_demand("celery", make_celery)


def register_migrations(app: Flask) -> None:
    """Alembic, through Flask-Migrate, made the first time ``flask db`` or a migration
    asks for ``app.extensions["migrate"]``."""
    from newsletters import schema

    app.extensions.on_demand("migrate", lambda: schema.init_migrations(app))


def register_logging(app: Flask) -> None:
    """Log the package at INFO, with each line's request id, to stderr."""
    from newsletters import observability

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
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
