"""Small SQL helpers that differ between SQLite and PostgreSQL."""

from sqlalchemy.dialects import postgresql, sqlite

from newsletters.extensions import db


def dialect_name() -> str:
    """``sqlite`` or ``postgresql``."""
    return db.session.get_bind().dialect.name


def insert(model):
    """An INSERT that knows ``ON CONFLICT DO NOTHING`` on either database."""
    return {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[dialect_name()](model)
