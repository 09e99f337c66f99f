"""Small SQL helpers: what differs between SQLite and PostgreSQL, and rows by public id."""

from collections.abc import Callable
from functools import wraps
from uuid import UUID

from sqlalchemy import BigInteger, any_, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite

from newsletters.errors import NotFound
from newsletters.extensions import db


def dialect_name() -> str:
    """``sqlite`` or ``postgresql``."""
    return db.session.get_bind().dialect.name


INSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def insert(model, dialect: str | None = None):
    """An INSERT that knows ``ON CONFLICT DO NOTHING`` on either database."""
    return INSERTS[dialect or dialect_name()](model)


def as_offered(statement, *names: str) -> dict:
    """For ``ON CONFLICT DO UPDATE``: these columns set from the row that was offered."""
    return {name: statement.excluded[name] for name in names}


def built_once(build: Callable[[str], object]) -> Callable[[], object]:
    """A statement ``build(dialect)`` makes once for each kind of database, then reuses.

    For statements that run on every request: SQLAlchemy caches a statement's
    compiled SQL, but building the statement and finding it in that cache costs
    more than the database's own work for a one-row write. Built once, with bound
    parameters for everything that varies, it costs neither.
    """
    statements: dict[str, object] = {}

    @wraps(build)
    def statement():
        name = dialect_name()
        if name not in statements:
            statements[name] = build(name)
        return statements[name]

    return statement


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
