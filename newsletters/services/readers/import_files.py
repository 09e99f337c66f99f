"""An import's files on disk: the upload, streamed there; the refused rows; the addresses seen.

Nothing here holds a whole file, or all its rows, in memory: a list of a million
readers is read a line at a time. ``IMPORT_DIR`` must be shared by the web and
the workers when they run on different machines.
"""

import codecs
import csv
import hashlib
import io
import os
import secrets
import sqlite3
from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from flask import current_app
from werkzeug.exceptions import RequestEntityTooLarge

from newsletters.errors import InvalidInput
from newsletters.models import ImportJob
from newsletters.services.core import csvsafe

CHUNK = 1024 * 1024
NOT_UTF8 = "The file is not UTF-8 text. Save it as CSV UTF-8 and try again."
# A quoted cell may hold line breaks (a note, an address); a row longer than this is a
# quote that was never closed, not a cell.
MAX_LINES_PER_ROW = 100


def import_dir() -> Path:
    """Where uploads and reports are kept (made if missing)."""
    path = Path(current_app.config["IMPORT_DIR"])
    path.mkdir(parents=True, exist_ok=True)
    return path


def save_upload(stream: BinaryIO, limit: int) -> Path:
    """Copy an upload to ``IMPORT_DIR`` a chunk at a time; over ``limit`` bytes, keep nothing.

    Raises 413 for a file that is too large and :class:`InvalidInput` for one
    that is not UTF-8; either way the partial copy is removed.
    """
    target = import_dir() / f"upload-{secrets.token_hex(12)}.csv"
    decoder = codecs.getincrementaldecoder("utf-8")()
    size = 0
    try:
        with open(target, "wb") as out:
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if size > limit:
                    raise RequestEntityTooLarge(
                        f"That file is larger than {limit // (1024 * 1024)} MB; split it "
                        "and import the parts."
                    )
                decoder.decode(chunk)
                out.write(chunk)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        target.unlink(missing_ok=True)
        raise InvalidInput(NOT_UTF8) from exc
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return target


def fingerprint(path: Path) -> str:
    """SHA-256 of a file, read a chunk at a time; :class:`InvalidInput` if it is not UTF-8."""
    digest, decoder = hashlib.sha256(), codecs.getincrementaldecoder("utf-8")()
    with open(path, "rb") as source:
        try:
            while chunk := source.read(CHUNK):
                digest.update(chunk)
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            raise InvalidInput(NOT_UTF8) from exc
    return digest.hexdigest()


def _text(job: ImportJob):
    if job.path:
        return open(job.path, encoding="utf-8-sig", newline="")
    return io.StringIO((job.content or "").lstrip("\ufeff"))  # stored before files went to disk


@dataclass(frozen=True)
class Unreadable:
    """A row the CSV reader could not make sense of, and why (said on the refused row)."""

    reason: str


class _RunawayRow(Exception):
    """A row still inside a quoted cell after ``MAX_LINES_PER_ROW`` lines."""


class _FileLines:
    """The file's lines for the CSV reader, keeping those of the row being read, so that
    when the row cannot be read all of its lines but the first can be read again."""

    def __init__(self, text: Iterator[str]) -> None:
        self.text, self.again, self.taken = text, deque(), []

    def __iter__(self) -> "_FileLines":
        return self

    def __next__(self) -> str:
        if len(self.taken) >= MAX_LINES_PER_ROW:
            raise _RunawayRow()
        line = self.again.popleft() if self.again else next(self.text)
        self.taken.append(line)
        return line

    def row_read(self) -> list[str]:
        """The lines of the row just read (or refused); the next row starts afresh."""
        taken, self.taken = self.taken, []
        return taken

    def read_again(self, taken: list[str]) -> None:
        self.again.extendleft(reversed(taken))


def _reason(error: Exception, lines: int) -> str:
    """Why a row was refused, in the words of someone who made the file. A row that
    failed after running over several lines began with a quote that was never closed."""
    text = str(error)
    if isinstance(error, _RunawayRow) or "unexpected end of data" in text or lines > 1:
        return "a quoted cell is never closed (a missing closing quote)"
    if "expected after" in text:
        return "a closing quote is followed by more text in the same cell"
    if "field larger than field limit" in text:
        return f"a cell is longer than {csv.field_size_limit()} characters"
    return f"it cannot be read as CSV ({text})"


def _records(text) -> Iterator[list[str] | Unreadable]:
    """Each row of the file: its fields, or :class:`Unreadable`.

    Python's reader, left to itself, reads a row with a quote that is never closed
    as one cell holding the rest of the file, so every row after it is lost without
    a word. Read strictly, that is an error; the row is refused (it starts on one
    line, so it is one row) and its other lines are read again as rows of their own.
    A quoted cell may hold line breaks, up to ``MAX_LINES_PER_ROW`` lines.
    """
    source = _FileLines(text)
    rows = csv.reader(source, strict=True)
    while True:
        try:
            fields = next(rows)
        except StopIteration:
            return
        except (csv.Error, _RunawayRow) as error:
            taken = source.row_read()
            source.read_again(taken[1:])
            rows = csv.reader(source, strict=True)  # a reader that failed keeps its state
            yield Unreadable(_reason(error, len(taken)))
            continue
        source.row_read()
        yield fields


def read_header(job: ImportJob) -> list[str]:
    """The file's first line, as fields."""
    with _text(job) as text:
        header = next(_records(text), [])
    if isinstance(header, Unreadable):
        raise InvalidInput(f"Line 1 of the file cannot be read as CSV: {header.reason}.")
    return header


def lines(job: ImportJob, skip: int = 0) -> Iterator[tuple[int, list[str] | Unreadable]]:
    """(line number as a spreadsheet shows it, fields) for each non-empty row after the
    header; a row that cannot be read as CSV comes as :class:`Unreadable`, with the
    reason, and reading goes on with the next line.

    ``skip`` passes over that many rows first: where a resumed import picks up.
    """
    with _text(job) as text:
        seen = 0
        records = _records(text)
        next(records, None)  # the header, which read_header has checked
        for line, fields in enumerate(records, start=2):
            if isinstance(fields, list) and not any(f.strip() for f in fields):
                continue
            seen += 1
            if seen > skip:
                yield line, fields


def count_rows(job: ImportJob) -> int:
    """How many rows the file holds, counted as :func:`lines` reads them."""
    return sum(1 for _ in lines(job))


def errors_path(job: ImportJob) -> Path:
    """The full list of refused rows ("line,email,reason"); the job keeps the first few."""
    return import_dir() / f"{job.uuid}.errors.csv"


def append_errors(job: ImportJob, rows: Iterable[tuple[int, str, str]]) -> None:
    """Add refused rows to the job's report."""
    with open(errors_path(job), "a", encoding="utf-8", newline="") as out:
        csv.writer(out, lineterminator="\r\n").writerows(rows)


def start_errors(job: ImportJob) -> None:
    """Begin the report afresh (a check that runs again starts over)."""
    errors_path(job).write_text("line,email,reason\r\n", encoding="utf-8")


def safe_errors(job: ImportJob) -> Iterator[str]:
    """The report a row at a time, every cell neutralised (``csvsafe``) to hand out.

    A report made before reports went to disk is the one the job kept.
    """
    path = errors_path(job)
    with (
        open(path, encoding="utf-8", newline="")
        if path.exists()
        else io.StringIO(job.errors_csv or "line,email,reason\r\n")
    ) as report:
        for row in csv.reader(report):
            buffer = io.StringIO()
            csvsafe.writer(buffer).writerow(row)
            yield buffer.getvalue()


class SeenAddresses:
    """The first line each address appeared on, in a small SQLite file beside the upload.

    Kept on disk so that a million addresses cost no memory, and keyed by line so
    that a batch read twice (after an interruption) gives the same answer.
    """

    def __init__(self, job: ImportJob) -> None:
        """Open (or make) the job's store."""
        self.path = import_dir() / f"{job.uuid}.seen.sqlite"
        self.connection = sqlite3.connect(self.path)
        self.connection.execute(
            "CREATE TABLE IF NOT EXISTS seen (email TEXT PRIMARY KEY, line INTEGER)"
        )

    def first_lines(self, pairs: list[tuple[str, int]]) -> dict[str, int]:
        """Record these (address, line) pairs; the first line each address was seen on."""
        with self.connection:
            self.connection.executemany("INSERT OR IGNORE INTO seen VALUES (?, ?)", pairs)
        found: dict[str, int] = {}
        addresses = list({email for email, _ in pairs})
        for start in range(0, len(addresses), 500):
            part = addresses[start : start + 500]
            marks = ",".join("?" * len(part))
            found.update(
                self.connection.execute(
                    f"SELECT email, line FROM seen WHERE email IN ({marks})", part
                ).fetchall()
            )
        return found

    def clear(self) -> None:
        """Forget every address (a check that runs again starts over)."""
        with self.connection:
            self.connection.execute("DELETE FROM seen")

    def close(self) -> None:
        """Close the store."""
        self.connection.close()


def remove_working_files(job: ImportJob) -> None:
    """Delete what a finished import no longer needs: its address store, and the upload
    when it was ours (a file the CLI read stays where it is). The report stays."""
    folder = import_dir()
    with suppress(OSError):
        os.unlink(folder / f"{job.uuid}.seen.sqlite")
    if job.path and Path(job.path).parent == folder:
        with suppress(OSError):
            os.unlink(job.path)
