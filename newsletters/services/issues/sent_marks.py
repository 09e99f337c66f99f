"""Each message the SMTP server accepts is marked sent in the database at once.

The journal (:mod:`.journal`) survives the sender's process, not its machine.
A machine that dies for good takes its journal along, and without this mark
the next sender would resend the whole batch. With it, only the messages
that were on the wire when the machine died (one per connection) can go out
twice.

Only ``sent`` is marked at once: a failed or bounced message sent again is no
duplicate, and a suppressed or skipped one never left. The batch's other
outcomes reach the database once per batch (:func:`.deliveries.write_outcomes`,
which leaves rows already marked alone: they are no longer ``sending`` and no
longer carry the claim).

The mark is one UPDATE per message, so it is kept cheap: a connection of its
own in autocommit, held for the sender's life, the statement compiled once and
run on the driver's cursor, and no flush to disk on each commit (see
:meth:`SentMarks.__init__`).
"""

from sqlalchemy import bindparam

from newsletters.extensions import db
from newsletters.models import Delivery, DeliveryStatus, utcnow

_table = Delivery.__table__
MARK_SENT = (
    _table.update()
    .where(
        _table.c.id == bindparam("delivery_id"),
        _table.c.claim_token == bindparam("token"),
        _table.c.status == DeliveryStatus.SENDING,
    )
    .values(
        status=DeliveryStatus.SENT,
        sent_at=bindparam("now"),
        attempts=_table.c.attempts + 1,
        last_error=None,
        claim_token=None,
        claimed_at=None,
    )
)
PER_MESSAGE = ("delivery_id", "token", "now")


class SentMarks:
    """One sender's connection for marking each accepted message sent, the moment it is."""

    def __init__(self) -> None:
        self.connection = db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        # Held for the sender's life, outside the pool's count: N sending threads must
        # not starve each other's sessions of pooled connections. Closed, not pooled.
        self.connection.detach()
        dialect = self.connection.dialect
        # Each commit returns before it is flushed to disk. The mark protects against
        # the sender's machine dying, not the database crashing: a database that
        # crashes may lose the last marks, but the sender's local journal still has
        # them, and the batch's write (or recovery, on the same machine) puts them in.
        # A machine that dies costs the database nothing it has already committed.
        if dialect.name == "postgresql":
            self.connection.exec_driver_sql("SET synchronous_commit = off")
        else:
            # SQLite in WAL mode: commits reach the log, not the disk, each time.
            self.connection.exec_driver_sql("PRAGMA synchronous = NORMAL")
        # The statement compiled once, run on the driver's own cursor: a third of the
        # CPU of a SQLAlchemy execute on PostgreSQL (bench/sent_marks.py). Values go
        # through the columns' own types, as SQLAlchemy would send them.
        compiled = MARK_SENT.compile(dialect=dialect)
        processors = {}
        for bind, name in compiled.bind_names.items():
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            processors[name] = processor or (lambda value: value)
        self.sql, self.order = compiled.string, compiled.positiontup
        self.fixed = {
            name: processors[name](value)
            for name, value in compiled.params.items()
            if name not in PER_MESSAGE
        }
        self.stamp = processors["now"]
        self.cursor = self.connection.connection.dbapi_connection.cursor()

    def mark(self, delivery_id: int, token: str) -> None:
        """The server accepted this delivery's message: it is sent, whatever happens next."""
        values = {**self.fixed, "delivery_id": delivery_id, "token": token}
        values["now"] = self.stamp(utcnow())
        if self.order is None:  # named parameters (psycopg)
            self.cursor.execute(self.sql, values)
        else:  # positional (sqlite3)
            self.cursor.execute(self.sql, [values[name] for name in self.order])

    def close(self) -> None:
        """Close the connection (it is not returned to the pool)."""
        self.cursor.close()
        self.connection.close()

    def __enter__(self) -> "SentMarks":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
