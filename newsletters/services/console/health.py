"""Is the service able to work? The database for ``/healthz``; everything for ``flask check``."""

import logging
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from newsletters.extensions import db
from newsletters.services.mail import smtp

log = logging.getLogger(__name__)


def database_ok() -> bool:
    """True when the database answers a trivial query."""
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        log.warning("health check: the database did not answer", exc_info=True)
        db.session.rollback()
        return False
    finally:
        db.session.close()
    return True


@dataclass
class Check:
    """One thing the service needs, and whether it has it."""

    name: str
    ok: bool
    detail: str


def _schema() -> Check:
    # Alembic is loaded here, for ``flask check``, not with the pages that import this module.
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    try:
        with db.engine.connect() as connection:
            current = set(MigrationContext.configure(connection).get_current_heads())
    except SQLAlchemyError as exc:
        reason = getattr(exc, "orig", None) or exc
        return Check("database", False, f"does not answer: {reason}")
    migrate = current_app.extensions["migrate"]
    scripts = ScriptDirectory.from_config(migrate.migrate.get_config(migrate.directory))
    heads = set(scripts.get_heads())
    if current != heads:
        return Check("database", False, "the schema is not up to date: run `flask db upgrade`")
    return Check("database", True, f"{db.engine.dialect.name}, schema up to date")


def _smtp() -> Check:
    """Whether the mail server answers and accepts our login, asked as sending would ask."""
    config = current_app.config
    if not config["MAIL_SERVER"]:
        return Check("mail", True, "development mailbox (MAIL_SERVER is unset)")
    settings = current_app.extensions["mail"]
    where = f"{settings.server}:{settings.port}"
    error = smtp.probe()
    if error is not None:
        return Check("mail", False, f"{where} refused: {error}")
    login = " and accepts our login" if settings.username and settings.password else ""
    return Check("mail", True, f"{where} answers{login}")


def _redis(name: str, url: str) -> Check:
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3)
        client.ping()
        client.close()
    except redis.RedisError as exc:
        return Check(name, False, f"{url.split('@')[-1]} does not answer: {exc}")
    return Check(name, True, f"{url.split('@')[-1]} answers")


def readiness() -> list[Check]:
    """Every dependency the settings name: the database and its schema, SMTP, Redis."""
    config = current_app.config
    checks = [_schema(), _smtp()]
    storage = config["RATELIMIT_STORAGE_URI"]
    if storage.startswith(("redis://", "rediss://")):
        checks.append(_redis("rate limits", storage))
    else:
        checks.append(Check("rate limits", True, f"{storage} (counted in each process)"))
    broker = config["CELERY_BROKER_URL"]
    if broker.startswith(("redis://", "rediss://")):
        checks.append(_redis("celery broker", broker))
    return checks
