"""The signup benchmark's baseline: a bare Flask endpoint that does one INSERT.

Served by the same gunicorn settings, on the same database, so the ratio of the
real signup to this says what the app's own work costs:

    DATABASE_URL=postgresql://... gunicorn -c deploy/gunicorn.conf.py bench.bare:app
"""

import functools
import os

from flask import Flask, jsonify, request
from sqlalchemy import create_engine, text

from newsletters.config import database_uri

TABLE = "bench_bare_signup"

app = Flask(__name__)


@functools.cache
def engine():
    """The connection pool, made on first use (importing this module needs no database)."""
    return create_engine(database_uri(os.environ["DATABASE_URL"]), pool_pre_ping=True)


@app.post("/insert")
def insert():
    """Store the posted address; nothing else."""
    with engine().begin() as connection:
        connection.execute(
            text(f"INSERT INTO {TABLE} (email) VALUES (:email)"), {"email": request.form["email"]}
        )
    return jsonify(status="ok")


@app.get("/healthz")
def healthz():
    return jsonify(status="ok")
