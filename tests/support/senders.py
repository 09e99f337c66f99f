"""Senders as an operator runs them: ``flask`` commands in processes of their own, and an
SMTP server that checks the database as each message arrives."""

import subprocess
import sys
import time

from sqlalchemy import create_engine, func, select
from sqlalchemy.pool import NullPool

from newsletters.models import Delivery, DeliveryStatus
from tests.support.mail import SMTPRecorder
from tests.support.stack import ROOT, environment


def flask_process(settings: dict, *args: str, **popen) -> subprocess.Popen:
    """``flask <args>`` in a process of its own, with these settings, output captured."""
    options = {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT, "text": True, **popen}
    return subprocess.Popen(
        [sys.executable, "-m", "flask", *args], cwd=ROOT, env=environment(settings), **options
    )


def wait_until(condition, seconds: float = 60.0, what: str = "the condition") -> None:
    """Poll ``condition`` until it holds; fail after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


class MarkCheckingRecorder(SMTPRecorder):
    """An SMTP server that, as each message's content ends, counts the deliveries the
    database already holds as sent, and can vanish for good after some messages.

    With one sending connection, ``marked_when_each_ended[n]`` is the number of
    rows marked sent when message n's final dot arrived: n, when each accepted
    message is marked before the next can be delivered. (Commands are pipelined,
    so message n+1's MAIL FROM may arrive before message n's answer is read; its
    final dot may not.) After ``vanish_after`` accepted messages it stops
    listening and drops the connection: the sender cannot reach it again.
    """

    def __init__(self, database_url: str, vanish_after: int | None = None) -> None:
        super().__init__()
        self.engine = create_engine(database_url, poolclass=NullPool)
        self.vanish_after = vanish_after
        self.marked_when_each_ended: list[int] = []

    async def handle_DATA(self, server, session, envelope):
        """Count the marks as a message ends, then accept it."""
        with self.engine.connect() as connection:
            marked = connection.scalar(
                select(func.count()).where(Delivery.status == DeliveryStatus.SENT)
            )
        with self.lock:
            self.marked_when_each_ended.append(marked)
        return await super().handle_DATA(server, session, envelope)

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        """Vanish when told to; else accept the sender."""
        with self.lock:
            vanish = self.vanish_after is not None and len(self.envelopes) >= self.vanish_after
        if vanish:
            self.controller.server.close()  # no new connection is accepted
            server.transport.close()
            return "421 4.3.0 gone"  # never reaches the client: the connection is closed
        return await super().handle_MAIL(server, session, envelope, address, mail_options)

    def stop(self) -> None:
        """Stop listening, and let go of the database."""
        super().stop()
        self.engine.dispose()
