"""The sender's journal: each outcome is noted the moment the SMTP server answers.

Most outcomes reach the database once per batch, not once per message. If the
sender is killed between the two, the journal (written straight to the
operating system, so it survives the process) tells the next run on this
machine what the batch's messages came to. Only the message on the wire at the
moment of the kill can therefore go out twice.

A sent message is also marked in the database at once (:mod:`.sent_marks`),
which survives the machine; the journal still covers the marks a crashed
database lost, and the outcomes that are not marked at once.
"""

import os
from pathlib import Path

from flask import current_app

SEPARATOR = "\t"


def journal_path(claim_key: str) -> Path:
    """Where the journal of one claimed batch lives."""
    return Path(current_app.config["DIGEST_JOURNAL_DIR"]) / f"{claim_key}.journal"


class Journal:
    """An append-only file of ``delivery_id <TAB> outcome <TAB> error`` lines."""

    def __init__(self, claim_key: str) -> None:
        self.path = journal_path(claim_key)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fd: int | None = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    def record(self, delivery_id: int, outcome: str, error: str = "") -> None:
        """Note one outcome; a single unbuffered write, so a killed process keeps it."""
        error = " ".join(error.split())[:500]
        os.write(self.fd, f"{delivery_id}{SEPARATOR}{outcome}{SEPARATOR}{error}\n".encode())

    def close(self) -> None:
        """Stop writing; the file stays for whoever settles this batch."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def discard(self) -> None:
        """The batch is in the database: the journal is no longer needed."""
        self.close()
        self.path.unlink(missing_ok=True)


def read_journal(claim_key: str) -> list[tuple[int, str, str]] | None:
    """The outcomes a dead sender noted, or None when its journal is not on this machine."""
    path = journal_path(claim_key)
    if not path.exists():
        return None
    entries = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        parts = line.split(SEPARATOR)
        if len(parts) == 3 and parts[0].isdigit():  # a torn last line is ignored
            entries.append((int(parts[0]), parts[1], parts[2]))
    return entries


def remove_journal(claim_key: str) -> None:
    """Forget a journal whose outcomes are now in the database."""
    journal_path(claim_key).unlink(missing_ok=True)
