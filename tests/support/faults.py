"""Real database faults for the failure tests: nothing here patches the application.

- ``WriteFault`` makes the database refuse the reader's write: on PostgreSQL by
  revoking the app role's right to write subscriptions, on SQLite by holding
  the file's write lock from another connection.
- ``FailFirstInserts`` makes PostgreSQL itself answer the next N inserts of a
  subscription with a serialization failure, through a trigger.
"""

import sqlite3
from urllib.parse import urlsplit

from sqlalchemy import create_engine, make_url, text

from newsletters.config import database_uri

APP_ROLE = "newsletters_app"


def is_sqlite(url: str) -> bool:
    """Whether this is the SQLite backend."""
    return url.startswith("sqlite")


def sqlite_path(url: str) -> str:
    """The file of a sqlite:/// URL."""
    return urlsplit(url).path if url.startswith("sqlite:////") else url.split("///", 1)[1]


def _admin(url: str):
    return create_engine(database_uri(url), isolation_level="AUTOCOMMIT")


def app_role_url(admin_url: str) -> str:
    """A login for the app that is not a superuser, so its rights can be taken away."""
    engine = _admin(admin_url)
    with engine.connect() as connection:
        exists = connection.execute(
            text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": APP_ROLE}
        ).scalar()
        if not exists:
            connection.execute(text(f"CREATE ROLE {APP_ROLE} LOGIN"))
        connection.execute(text(f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {APP_ROLE}"))
        connection.execute(text(f"GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {APP_ROLE}"))
    engine.dispose()
    return (
        make_url(database_uri(admin_url))
        .set(username=APP_ROLE)
        .render_as_string(hide_password=False)
    )


def drop_app_role(admin_url: str) -> None:
    """Take the role's rights in this database away again (the role may serve other runs)."""
    engine = _admin(admin_url)
    with engine.connect() as connection:
        connection.execute(text(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {APP_ROLE}"))
        connection.execute(text(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {APP_ROLE}"))
    engine.dispose()


class WriteFault:
    """The database refuses to save a subscription until ``off()``."""

    def __init__(self, admin_url: str) -> None:
        self.url = admin_url
        self.lock: sqlite3.Connection | None = None

    def on(self) -> None:
        """Start refusing."""
        if is_sqlite(self.url):
            self.lock = sqlite3.connect(sqlite_path(self.url), timeout=5, isolation_level=None)
            self.lock.execute("BEGIN EXCLUSIVE")
        else:
            self._grant("REVOKE INSERT, UPDATE ON subscription, subscriber FROM")

    def off(self) -> None:
        """Accept writes again."""
        if self.lock is not None:
            self.lock.execute("ROLLBACK")
            self.lock.close()
            self.lock = None
        elif not is_sqlite(self.url):
            self._grant("GRANT INSERT, UPDATE ON subscription, subscriber TO")

    def _grant(self, statement: str) -> None:
        engine = _admin(self.url)
        with engine.connect() as connection:
            connection.execute(text(f"{statement} {APP_ROLE}"))
        engine.dispose()

    def __enter__(self):
        self.on()
        return self

    def __exit__(self, *exc):
        self.off()


class FailFirstInserts:
    """PostgreSQL answers the next ``count`` subscription inserts with SQLSTATE 40001."""

    def __init__(self, admin_url: str, count: int) -> None:
        self.url = admin_url
        self.count = count

    def __enter__(self):
        engine = _admin(self.url)
        with engine.connect() as connection:
            connection.execute(text("CREATE TABLE IF NOT EXISTS fault_budget (left_ int)"))
            connection.execute(text("DELETE FROM fault_budget"))
            connection.execute(text("INSERT INTO fault_budget VALUES (:n)"), {"n": self.count})
            connection.execute(
                text(
                    """
                    CREATE OR REPLACE FUNCTION fail_first_inserts() RETURNS trigger AS $$
                    DECLARE remaining int;
                    BEGIN
                      SELECT left_ INTO remaining FROM fault_budget;
                      IF remaining > 0 THEN
                        RAISE EXCEPTION 'could not serialize access (injected)'
                          USING ERRCODE = '40001';
                      END IF;
                      RETURN NEW;
                    END $$ LANGUAGE plpgsql SECURITY DEFINER
                    """
                )
            )
            connection.execute(
                text(
                    "CREATE TRIGGER fail_first_inserts BEFORE INSERT ON subscription "
                    "FOR EACH ROW EXECUTE FUNCTION fail_first_inserts()"
                )
            )
        engine.dispose()
        return self

    def spend_one(self) -> None:
        """Use up one failure. The trigger cannot: its transaction is the one rolled back."""
        engine = _admin(self.url)
        with engine.connect() as connection:
            connection.execute(text("UPDATE fault_budget SET left_ = left_ - 1"))
        engine.dispose()

    def __exit__(self, *exc):
        engine = _admin(self.url)
        with engine.connect() as connection:
            connection.execute(text("DROP TRIGGER IF EXISTS fail_first_inserts ON subscription"))
            connection.execute(text("DROP FUNCTION IF EXISTS fail_first_inserts()"))
            connection.execute(text("DROP TABLE IF EXISTS fault_budget"))
        engine.dispose()
