"""Importing a Mailchimp export of 100,000 and of 1,000,000 readers into PostgreSQL.

    .venv/bin/python bench/imports.py [--sizes 100000,1000000]

For each size: a fresh PostgreSQL database, a generated Mailchimp audience
export written to disk a row at a time, and ``flask subscribers import FILE
--newsletters the-weekly`` run as an operator would. Recorded: wall time, rows
per second (check and apply together), and the command's peak RSS from the
kernel. The claim is constant memory: peak RSS at a million rows should be
about what it is at a hundred thousand.
"""

import argparse
import secrets
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from bench.report import machine, table, write_section  # noqa: E402
from bench.setup import Measured, make_database, publisher_settings  # noqa: E402
from newsletters import create_app  # noqa: E402
from newsletters.extensions import db  # noqa: E402
from newsletters.models import Subscription  # noqa: E402
from tests.support.databases import drop_database  # noqa: E402
from tests.support.imports import write_mailchimp_export  # noqa: E402
from tests.support.readers import add_newsletter  # noqa: E402
from tests.support.stack import environment  # noqa: E402


@dataclass
class Imported:
    """One measured import."""

    rows: int
    file_mb: float
    seconds: float
    peak_rss_mb: float
    active: int

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def settings_for(database_url: str, workdir: Path) -> dict:
    return publisher_settings(database_url, IMPORT_DIR=str(workdir / "imports"))


def measure(rows: int, workdir: Path) -> Imported:
    """Import ``rows`` generated Mailchimp members into a database of their own."""
    database_url = make_database(f"imports_{rows}_{secrets.token_hex(3)}")
    settings = settings_for(database_url, workdir)
    app = create_app(settings)
    try:
        with app.app_context():
            upgrade(directory=str(ROOT / "migrations"))
        add_newsletter(app, "the-weekly", "The Weekly")
        path = write_mailchimp_export(workdir / f"audience-{rows}.csv", rows)
        started = time.perf_counter()
        importer = Measured(
            ["-m", "flask", "subscribers", "import", str(path), "--newsletters", "the-weekly"],
            cwd=ROOT, env=environment(settings), stderr=subprocess.DEVNULL,
        )  # fmt: skip
        output, returncode, peak_mb = importer.finish()
        seconds = time.perf_counter() - started
        if returncode:
            raise SystemExit(f"{rows}: the import failed:\n{output}")
        with app.app_context():
            active = db.session.scalar(select(func.count(Subscription.id)))
            db.engine.dispose()
        size = path.stat().st_size / 1e6
        path.unlink()
        return Imported(rows, size, seconds, peak_mb, active)
    finally:
        drop_database(database_url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000")
    sizes = [int(s) for s in parser.parse_args().sizes.split(",")]
    results = []
    with tempfile.TemporaryDirectory() as directory:
        for rows in sizes:
            result = measure(rows, Path(directory))
            print(
                f"{rows} rows: {result.seconds:.0f} s, {result.rate:.0f} rows/s, "
                f"peak RSS {result.peak_rss_mb:.0f} MB, {result.active} active",
                flush=True,
            )
            results.append(result)
    body = table(
        ["rows", "file", "time", "rows/s", "peak RSS", "readers active after"],
        [
            [f"{r.rows:,}", f"{r.file_mb:.0f} MB", f"{r.seconds:.0f} s", f"{r.rate:,.0f}",
             f"{r.peak_rss_mb:.0f} MB", f"{r.active:,}"]
            for r in results
        ],
    )  # fmt: skip
    smallest, largest = results[0], results[-1]
    ratio = largest.peak_rss_mb / smallest.peak_rss_mb if smallest.peak_rss_mb else 0
    write_section(
        "imports",
        f"""## Imports from another system (`bench/imports.py`)

{machine()}. `flask subscribers import FILE --newsletters the-weekly` on a
generated Mailchimp audience export (subscribed members, every column Mailchimp
writes), PostgreSQL, check and apply together, batches of 1,000 rows.

{body}

Peak RSS at {largest.rows:,} rows is {ratio:.2f}× that at {smallest.rows:,}: the file is
streamed from disk, repeats are found in a small SQLite file beside it, and
each batch is a few statements, so memory does not grow with the list.
""",
    )


if __name__ == "__main__":
    main()
