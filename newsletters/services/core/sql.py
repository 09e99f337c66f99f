"""Small SQL helpers: what differs between SQLite and PostgreSQL, and rows by public id."""

from uuid import UUID

from sqlalchemy import BigInteger, any_, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite

from newsletters.errors import NotFound
from newsletters.extensions import db


def dialect_name() -> str:
    """``sqlite`` or ``postgresql``."""
    return db.session.get_bind().dialect.name


def insert(model):
    """An INSERT that knows ``ON CONFLICT DO NOTHING`` on either database."""
    return {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[dialect_name()](model)


def among(column, values: list[int]):
    """``column IN values`` for a long list of ids: one array parameter on PostgreSQL, which
    plans as an index lookup, instead of thousands of parameters."""
    if dialect_name() == "postgresql":
        return column == any_(bindparam(None, values, type_=postgresql.ARRAY(BigInteger)))
    return column.in_(values)


def by_public_id(model, public_id: str, missing: str, malformed: str | None = None):
    """The ``model`` row whose ``uuid`` is ``public_id``, or :class:`NotFound` saying ``missing``
    (or ``malformed``, when the id is not a UUID at all)."""
    try:
        key = UUID(str(public_id))
    except ValueError as exc:
        raise NotFound(malformed or missing) from exc
    row = db.session.scalar(select(model).where(model.uuid == key))
    if row is None:
        raise NotFound(missing)
    return row
