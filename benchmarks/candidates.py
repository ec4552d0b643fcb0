"""Candidates page speed: searching 100,000 candidates by name or email.

On SQLite, and on PostgreSQL when FEEDBACK_SLA_TEST_DATABASE_URL (or ``--database-url``) names a
server, it builds an organisation of 200 managers and 100,000 candidates (the benchmarked manager
has 10,000), then times ``GET /candidates?q=TERM`` through the test client: an admin's search over
all of them and a manager's over their own, with a surname a few hundred candidates carry (the
search folds case and accents, and matches inside the name or the address). For information it
also times the admin's first page with no search at all.

For each it prints the median server time, the response size, the SQL statements sent and the
ratio to a floor measured in the same run: the same search by one raw SQL query on the plain
driver (stdlib sqlite3, psycopg), 50 rows and the total, rendered by a minimal Jinja table.
Target: each search at most 2.5 times its floor, on each database. Exits non-zero when missed.

    .venv-test/bin/python benchmarks/candidates.py [--candidates 100000] [--managers 200]
        [--manager-candidates 10000] [--runs 30] [--databases sqlite postgresql] [--database-url URL]
        [--statements]

``--statements`` lists each page's SQL statements with their time in one warm request.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass

from benchmarks.common import (
    SEARCH_TERM,
    Database,
    StatementCounter,
    add_database_options,
    app_config,
    build_organisation,
    database_kinds,
    each_database,
    fresh_database,
    interleaved_medians,
    kilobytes,
    logged_in_client,
    migrate,
    search_floor,
    spread,
)
from feedback_sla import create_app
from feedback_sla.database import db
from feedback_sla.timeutil import utcnow

TARGET_RATIO = 2.5


@dataclass(frozen=True)
class SearchFigures:
    label: str
    total: int
    statements: int
    size: int
    page_ms: float
    floor_ms: float
    targeted: bool
    sql: tuple[str, ...] = ()  # each statement of one warm request, with its time

    @property
    def ratio(self) -> float:
        return self.page_ms / self.floor_ms


class Floor:
    """The floor on a connection of its own."""

    def __init__(self, database: Database) -> None:
        self.kind = database.kind
        self.connection = database.raw()

    def search(self, text: str, manager_id: int | None) -> tuple[int, str]:
        return search_floor(self.connection, self.kind, text, manager_id)


def one_database(kind: str, server: str | None, per_manager: list[int], runs: int) -> list[SearchFigures]:
    with fresh_database(kind, "candidates", server) as database:
        app = create_app(app_config(database))
        migrate(app)
        started = time.perf_counter()
        org = build_organisation(app, per_manager, utcnow())
        print(
            f"  built {org.waiting:,} candidates over {len(per_manager)} managers (the manager has "
            f"{per_manager[0]:,}); {org.search_matches} are called {SEARCH_TERM}; "
            f"{time.perf_counter() - started:.1f} s"
        )
        with app.app_context():
            counter = StatementCounter(db.engine)
        floor = Floor(database)
        admin = logged_in_client(app, org.admin_email)
        manager = logged_in_client(app, org.manager_emails[0])
        term = SEARCH_TERM.lower()  # as a person types it
        cases = [
            (f"admin, q={term}", admin, term, None, True),
            (f"manager, q={term}", manager, term, org.manager_ids[0], True),
            ("admin, no search", admin, "", None, False),
        ]
        figures = [_measure(*case, counter, floor, runs) for case in cases]
        floor.connection.close()
        with app.app_context():
            db.engine.dispose()
        return figures


def _measure(label, client, text, manager_id, targeted, counter, floor, runs) -> SearchFigures:
    url = f"/candidates?q={text}"

    def page():
        response = client.get(url)
        assert response.status_code == 200, response.status_code
        return response

    body = page().get_data(as_text=True)
    total = int(body.split('data-total="', 1)[1].split('"', 1)[0])
    floor_total, _ = floor.search(text, manager_id)
    assert floor_total == total, (floor_total, total)
    medians = interleaved_medians({"page": page, "floor": lambda: floor.search(text, manager_id)}, runs)
    statements, response = counter.of(page)  # a warm request, as the timed ones
    return SearchFigures(
        label,
        total,
        statements,
        len(response.data),
        medians["page"],
        medians["floor"],
        targeted,
        tuple(counter.describe()),
    )


def report(figures: list[SearchFigures], statements: bool) -> None:
    header = f"{'search':<22} {'found':>7} {'server ms':>10} {'floor ms':>9} {'ratio':>6} {'size':>10}"
    print(f"    {header} {'SQL':>4}")
    for f in figures:
        note = "" if f.targeted else "  (for information)"
        print(
            f"    {f.label:<22} {f.total:>7,} {f.page_ms:>10.1f} {f.floor_ms:>9.1f} {f.ratio:>6.2f} "
            f"{kilobytes(f.size):>10} {f.statements:>4}{note}"
        )
        for line in f.sql if statements else ():
            print(f"      {line}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=100_000)
    parser.add_argument("--managers", type=int, default=200)
    parser.add_argument("--manager-candidates", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=30, help="timed requests per search (at most)")
    parser.add_argument("--statements", action="store_true", help="list each page's SQL with its time")
    add_database_options(parser)
    args = parser.parse_args()
    server, kinds = database_kinds(parser, args)
    per_manager = spread(args.candidates, args.managers, args.manager_candidates)

    def one(kind: str) -> list[str]:
        figures = one_database(kind, server, per_manager, args.runs)
        report(figures, args.statements)
        return [
            f"{kind} {f.label}: ratio {f.ratio:.2f} to the floor (target at most {TARGET_RATIO})"
            for f in figures
            if f.targeted and f.ratio > TARGET_RATIO
        ]

    return each_database(kinds, one)


if __name__ == "__main__":
    sys.exit(main())
