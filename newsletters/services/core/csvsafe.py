"""CSV a spreadsheet opens as text: no cell the service writes can start a formula.

A spreadsheet runs a cell as a formula, or a link to another program, when it
starts with ``=``, ``+``, ``-`` or ``@``; some also start one with a tab, a
carriage return, NUL, ``|`` or ``%``, and some read the full-width ``＝＋－＠``
as the plain ones. Readers choose their own addresses (``-reader@example.com``
and ``=1+1@example.com`` are both valid), and a refused import row is echoed
back as it was typed, so every CSV the service writes goes through
:func:`writer`, which puts a single quote in front of such a cell: the
spreadsheet shows the text instead of running it.

The quote must not change what an export imports back as, so it is
reversible: :func:`restore_cell` takes it off again. A cell that already
starts with quotes (or spaces) before one of those characters gets one more
quote, so ``'=x@example.com``, a valid address too, comes back as itself. A
quote before anything else is the cell's own and stays.

The same rule holds after every ``;``, ``,``, tab and line break inside a
cell: a spreadsheet told to split there (the semicolon is the list separator
of much of Europe), or one that ignores the quotes around a cell, starts a new
cell at that point.
"""

import csv
import io
import re
from typing import Any

TRIGGERS = "=+-@\t\r\0|%＝＋－＠"
SEPARATORS = ";,\t\r\n"
_TRIGGER = f"[{re.escape(TRIGGERS)}]"
_CELL_START = f"(?:^|(?<=[{re.escape(SEPARATORS)}]))"
# Quotes before the character count as part of it (that keeps the quote reversible), and
# so do spaces, which some spreadsheets skip before a formula.
_NEEDS_QUOTE = re.compile(f"{_CELL_START}(?=[' ]*{_TRIGGER})")
_ADDED_QUOTE = re.compile(f"{_CELL_START}'(?=[' ]*{_TRIGGER})")


def safe_cell(value: Any) -> str:
    """The text of a cell, with a quote in front of every place a formula could start."""
    text = "" if value is None else str(value)
    return _NEEDS_QUOTE.sub("'", text)


def restore_cell(text: str) -> str:
    """Undo :func:`safe_cell`: a cell as it was before it was written."""
    return _ADDED_QUOTE.sub("", text)


class SafeWriter:
    """A ``csv.writer`` whose every cell goes through :func:`safe_cell`."""

    def __init__(self, stream) -> None:
        """Write to ``stream``, a text file or buffer."""
        self._writer = csv.writer(stream, lineterminator="\r\n")

    def writerow(self, row) -> None:
        """Write one line of neutralised cells."""
        self._writer.writerow([safe_cell(value) for value in row])


def writer(stream) -> SafeWriter:
    """The only way the service writes CSV: lines end in CRLF, no cell runs as a formula."""
    return SafeWriter(stream)


def neutralised(document: str) -> str:
    """A CSV text written before (or without) :func:`writer`, made safe to hand out."""
    buffer = io.StringIO()
    out = writer(buffer)
    for row in csv.reader(io.StringIO(document)):
        out.writerow(row)
    return buffer.getvalue()
