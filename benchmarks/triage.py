"""Triage page speed: a manager with 10,000 waiting candidates and an admin over 100,000.

On SQLite, and on PostgreSQL when FEEDBACK_SLA_TEST_DATABASE_URL (or ``--database-url``) names a
server, it builds an organisation of 200 managers and 100,000 waiting candidates (the benchmarked
manager has 10,000 of them), queues a few one-click emails and follow-ups through the page's own
forms, then times page 1 and a middle page of the triage list (``GET /?page=N``, 50 rows a page,
sorted by urgency), logged in as the manager and as the admin, through the test client.

For each page it prints the median server time, the response size, the SQL statements sent, and
the ratio to a floor measured in the same run: the same 50 rows fetched by one raw SQL query on
the plain driver (stdlib sqlite3, psycopg), urgency computed in SQL, plus one query for the counts
per state, rendered by a minimal Jinja table. The same pages are then counted on an organisation
with 100 waiting candidates.

Targets: ratio at most 2.5 on every page, size and database; the same statement count with 100
and with 100,000 waiting candidates; an admin page under 150 KB. Exits non-zero when one is missed,
naming it.

    .venv-test/bin/python benchmarks/triage.py [--waiting 100000] [--managers 200] [--manager-waiting 10000]
        [--small 100] [--runs 30] [--databases sqlite postgresql] [--database-url URL] [--statements]

``--statements`` lists each page's SQL statements with their time in one warm request.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass

from benchmarks.common import (
    CSRF_PATTERN,
    NONCE_PATTERN,
    Database,
    StatementCounter,
    add_database_options,
    app_config,
    build_organisation,
    database_kinds,
    each_database,
    fresh_database,
    hidden,
    interleaved_medians,
    kilobytes,
    logged_in_client,
    migrate,
    spread,
    triage_floor,
)
from feedback_sla import create_app
from feedback_sla.database import db
from feedback_sla.settings import service as settings_service
from feedback_sla.timeutil import utcnow

PAGE_SIZE = 50
TARGET_RATIO = 2.5
TARGET_ADMIN_BYTES = 150 * 1024


@dataclass(frozen=True)
class PageFigures:
    label: str  # "manager, page 1"
    rows: int
    statements: int
    size: int
    page_ms: float | None = None
    floor_ms: float | None = None
    sql: tuple[str, ...] = ()  # each statement of one warm request, with its time

    @property
    def ratio(self) -> float | None:
        return None if self.page_ms is None else self.page_ms / self.floor_ms


class Floor:
    """The floor on a connection of its own."""

    def __init__(self, database: Database, escalate_after_followups: int) -> None:
        self.kind = database.kind
        self.connection = database.raw()
        self.followups = escalate_after_followups

    def page(self, manager_id: int | None, page: int) -> str:
        html = triage_floor(self.connection, self.kind, manager_id, page, self.followups)
        assert html.count("data-candidate-id=") == PAGE_SIZE
        return html


def seed_actions(client) -> None:
    """Three one-click updates and two follow-ups from the manager's triage page, as a manager
    clicks them: the page then shows queued emails and follow-ups, as it does in real use."""
    html = client.get("/").get_data(as_text=True)
    token, nonce = hidden(CSRF_PATTERN, html), hidden(NONCE_PATTERN, html)
    ids = _candidate_ids(html)[:5]
    for candidate_id in ids[:3]:
        response = client.post(
            f"/candidates/{candidate_id}/emails/update",
            data={"csrf_token": token, "nonce": nonce, "next": "/"},
        )
        assert response.status_code == 302, response.status_code
    for candidate_id in ids[3:]:
        response = client.post(
            f"/candidates/{candidate_id}/followed-up", data={"csrf_token": token, "next": "/"}
        )
        assert response.status_code == 302, response.status_code


def _candidate_ids(html: str) -> list[int]:
    marker = 'data-candidate-id="'
    return [int(part.split('"', 1)[0]) for part in html.split(marker)[1:]]


def middle_page(waiting: int) -> int:
    return max(1, math.ceil(waiting / PAGE_SIZE) // 2)


def one_organisation(
    kind: str, server: str | None, per_manager: list[int], runs: int, timed: bool
) -> list[PageFigures]:
    """Figures of the four pages (manager and admin, page 1 and a middle page) on a fresh build."""
    name = f"triage_{sum(per_manager)}"
    with fresh_database(kind, name, server) as database:
        app = create_app(app_config(database))
        migrate(app)
        now = utcnow()
        started = time.perf_counter()
        org = build_organisation(app, per_manager, now)
        print(
            f"  built {org.waiting:,} waiting candidates over {len(per_manager)} managers "
            f"(the manager has {per_manager[0]:,}) in {time.perf_counter() - started:.1f} s"
        )
        with app.app_context():
            counter = StatementCounter(db.engine)
            settings = settings_service.load(db.session)
        manager = logged_in_client(app, org.manager_emails[0])
        seed_actions(manager)
        admin = logged_in_client(app, org.admin_email)
        floor = Floor(database, settings.escalate_after_followups) if timed else None
        cases = [
            ("manager", manager, org.manager_ids[0], per_manager[0]),
            ("admin", admin, None, org.waiting),
        ]
        figures = []
        for role, client, manager_id, visible in cases:
            for page in sorted({1, middle_page(visible)}):
                figures.append(
                    _measure(f"{role}, page {page}", client, page, counter, floor, manager_id, runs)
                )
        with app.app_context():
            db.engine.dispose()
        if floor is not None:
            floor.connection.close()
        return figures


def _measure(label, client, page, counter, floor, manager_id, runs) -> PageFigures:
    url = f"/?page={page}"

    def app_page():
        response = client.get(url)
        assert response.status_code == 200, response.status_code
        return response

    medians = {"page": None, "floor": None}
    if floor is None:
        app_page()
    else:
        medians = interleaved_medians({"page": app_page, "floor": lambda: floor.page(manager_id, page)}, runs)
    statements, response = counter.of(app_page)  # a warm request, as the timed ones
    body = response.get_data()
    rows = body.count(b"data-candidate-id=")
    return PageFigures(
        label, rows, statements, len(body), medians["page"], medians["floor"], tuple(counter.describe())
    )


def report(title: str, figures: list[PageFigures], statements: bool) -> None:
    print(f"  {title}")
    print(
        f"    {'page':<20} {'rows':>6} {'server ms':>10} {'floor ms':>9} {'ratio':>6} {'size':>12} {'SQL':>4}"
    )
    for f in figures:
        timed = (
            f"{f.page_ms:>10.1f} {f.floor_ms:>9.1f} {f.ratio:>6.2f}" if f.page_ms is not None else " " * 27
        )
        print(f"    {f.label:<20} {f.rows:>6} {timed} {kilobytes(f.size):>12} {f.statements:>4}")
        for line in f.sql if statements else ():
            print(f"      {line}")


def misses(
    kind: str, large: list[PageFigures], small: list[PageFigures], sizes: tuple[int, int]
) -> list[str]:
    missed = []
    for f in large:
        if f.ratio > TARGET_RATIO:
            missed.append(
                f"{kind} {f.label}: ratio {f.ratio:.2f} to the floor (target at most {TARGET_RATIO})"
            )
        if f.label.startswith("admin") and f.size >= TARGET_ADMIN_BYTES:
            missed.append(f"{kind} {f.label}: {kilobytes(f.size)} (target under 150 KB)")
        if f.rows != PAGE_SIZE:
            print(f"  note: {kind} {f.label} shows {f.rows} rows, not {PAGE_SIZE}: the page is not paged")
    for role in ("manager", "admin"):
        few = {f.statements for f in small if f.label.startswith(role)}
        many = {f.statements for f in large if f.label.startswith(role)}
        if len(few | many) != 1:
            missed.append(
                f"{kind} {role} page: {sorted(few)} SQL statements with {sizes[0]:,} waiting, "
                f"{sorted(many)} with {sizes[1]:,} (target: the same count)"
            )
    return missed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--waiting", type=int, default=100_000, help="waiting candidates in all")
    parser.add_argument("--managers", type=int, default=200)
    parser.add_argument("--manager-waiting", type=int, default=10_000, help="the benchmarked manager's")
    parser.add_argument("--small", type=int, default=100, help="waiting candidates of the small build")
    parser.add_argument("--runs", type=int, default=30, help="timed requests per page (at most)")
    parser.add_argument("--statements", action="store_true", help="list each page's SQL with its time")
    add_database_options(parser)
    args = parser.parse_args()
    server, kinds = database_kinds(parser, args)
    large = spread(args.waiting, args.managers, args.manager_waiting)
    small = [args.small] + [0] * (args.managers - 1)

    def one(kind: str) -> list[str]:
        big = one_organisation(kind, server, large, args.runs, timed=True)
        report(f"{args.waiting:,} waiting, medians of at most {args.runs} requests", big, args.statements)
        few = one_organisation(kind, server, small, args.runs, timed=False)
        report(f"{args.small} waiting (statement count only)", few, args.statements)
        return misses(kind, big, few, (args.small, args.waiting))

    return each_database(kinds, one)


if __name__ == "__main__":
    sys.exit(main())
