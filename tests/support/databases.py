"""PostgreSQL databases of our own, next to a server's default one, for tests and benchmarks."""

import secrets

from sqlalchemy import create_engine, make_url, text

from newsletters.config import database_uri


def create_database(server_url: str, tag: str) -> str:
    """A new, empty database on the server of ``server_url``; returns its URL.

    Raises SQLAlchemy's ``OperationalError`` when the server does not answer.
    """
    server = make_url(database_uri(server_url))
    name = f"{server.database}_{tag}_{secrets.token_hex(3)}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return server.set(database=name).render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    """Drop a database :func:`create_database` made, whoever is still connected."""
    target = make_url(database_uri(url))
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
    finally:
        admin.dispose()
