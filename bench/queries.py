"""SQL statements per page as the lists grow (``tests/test_queries.py`` asserts they stay put).

    .venv/bin/python bench/queries.py

Counts the statements the newsletters page, the preference page and the admin
subscriber list send, with 5 newsletters and 100 readers, then with 50
newsletters and 100,000 readers, on PostgreSQL.
"""

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


from bench.report import machine, table, write_section  # noqa: E402
from bench.setup import make_database, migrated_app  # noqa: E402
from newsletters.extensions import db  # noqa: E402
from tests.support.databases import drop_database  # noqa: E402
from tests.support.queries import grow, statements_per_page  # noqa: E402

SIZES = [(5, 100), (50, 100_000)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-write", action="store_true", help="do not touch results.md")
    args = parser.parse_args()
    url = make_database("queries")
    counts = []
    try:
        with tempfile.TemporaryDirectory() as workdir:
            app = migrated_app(url, workdir, WTF_CSRF_ENABLED=True)
            for newsletters, readers in SIZES:
                grow(app, newsletters, readers)
                counts.append(statements_per_page(app))
            with app.app_context():
                db.engine.dispose()
    finally:
        drop_database(url)
    header = ["page"] + [f"{n} newsletters, {r:,} readers" for n, r in SIZES]
    rows = [[page] + [c[page] for c in counts] for page in counts[0]]
    body = f"""## SQL statements per page (`bench/queries.py`)

{machine()}. PostgreSQL; each page counted on its second visit. The same counts
are asserted by `tests/test_queries.py` on SQLite and PostgreSQL.

{table(header, rows)}
"""
    print(body)
    if not args.no_write:
        write_section("queries", body)


if __name__ == "__main__":
    main()
