"""Alembic, through Flask-Migrate: set up only for ``flask db`` and migrations, as
importing it costs every other command time and memory."""

import os

import click
from flask import Flask

from newsletters.extensions import db
from newsletters.models.types import render_migration_type


def init_migrations(app: Flask) -> None:
    """Bind Flask-Migrate to this app (it sets ``app.extensions["migrate"]``)."""
    from flask_migrate import Migrate

    Migrate(
        app,
        db,
        directory=os.path.join(app.root_path, "..", "migrations"),
        render_as_batch=True,  # SQLite alters tables by copying them
        compare_type=True,
        render_item=render_migration_type,
    )


def db_command(app: Flask) -> click.Command:
    """``flask db``: Flask-Migrate's commands, once it is bound to the app."""
    assert app.extensions["migrate"]
    from flask_migrate.cli import db as db_group

    return db_group
