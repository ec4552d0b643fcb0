"""Metrics and positions pages: 200 managers and 100,000 waits, on SQLite and PostgreSQL.

On SQLite, and on PostgreSQL when FEEDBACK_SLA_TEST_DATABASE_URL (or ``--database-url``) names a
server (on a database of its own, dropped after), it builds an organisation of 200 managers with
5 positions each, the US holiday calendar, and waits opened over the metrics page's default
period (the last 12 weeks), three in five of them answered within a few days. Then:

- the **positions page**, of an admin (page 1 of 1,000 positions) and of a manager (their 5), at
  10,000 waits and again at 100,000: size, median time and SQL statements. The benchmarked
  manager's own waits stay the same, so their page must not grow with the organisation;
- the **admin's metrics page** at 100,000 waits (every manager, the default period; the page
  reads the answered waits from the rollup, counted once after the bulk load), against a
  floor measured in the same run: the same figures computed by raw SQL on the plain driver
  (stdlib sqlite3, psycopg), a few rows per manager and week, rendered by a minimal Jinja table.
  The floor counts business days the way the page does, by local day numbers; on PostgreSQL it
  takes each local day from ``AT TIME ZONE``. The page's figures are checked against the floor's.

Target: the metrics page at most 3 times its floor, on each database. Exits non-zero when missed.

    .venv-test/bin/python benchmarks/metrics.py [--waits 100000] [--first 10000] [--runs 15]
        [--databases sqlite postgresql] [--database-url URL]
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import random
import re
import sys
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import holidays
import jinja2
import sqlalchemy as sa

from benchmarks.common import (
    ADMIN_EMAIL,
    TIME_ZONES,
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
    raw_sql,
    raw_time,
    urgency_sql,
)
from feedback_sla import create_app
from feedback_sla.candidates.models import Candidate, Status
from feedback_sla.database import db
from feedback_sla.metrics import rollup
from feedback_sla.settings import service as settings_service
from feedback_sla.testing.bulk import NewWait, open_waits_bulk
from feedback_sla.waits.models import Wait, WaitReason

TARGET_RATIO = 3.0
MANAGERS = 200
POSITIONS_PER_MANAGER = 5
ANSWERED = 0.6
CALENDAR = "US"
#: Waits open within the page's default period: from the Monday 11 weeks before this one.
OPENED_WITHIN = dt.timedelta(days=76)
CHUNK = 20_000


# --- the organisation --------------------------------------------------------------------------


def add_waits(app, count: int, managers: range, first_id: int, now: dt.datetime, rng: random.Random) -> None:
    """``count`` candidates of ``managers``' positions, one wait each, three in five answered.

    Ids grow with the time a wait opened, as they do when candidates arrive one after another.
    """
    opened_at = sorted(now - OPENED_WITHIN * rng.random() for _ in range(count))
    with app.app_context():
        settings = settings_service.load(db.session)
        for start in range(0, count, CHUNK):
            people, waits, answers = [], [], []
            for c in range(first_id + start, first_id + min(start + CHUNK, count)):
                manager = managers[c % len(managers)]
                position = manager * POSITIONS_PER_MANAGER + c // len(managers) % POSITIONS_PER_MANAGER + 1
                zone = TIME_ZONES[(manager + (position - 1) % POSITIONS_PER_MANAGER) % len(TIME_ZONES)]
                opened = opened_at[c - first_id]
                people.append(
                    {
                        "id": c,
                        "name": f"Candidate {c}",
                        "email": f"candidate{c}@example.com",
                        "position_id": position,
                        "stage": "applied",
                        "status": Status.ACTIVE,
                        "created_at": opened,
                    }
                )
                waits.append(NewWait(c, WaitReason.APPLICATION, opened, zone))
                answered = opened + dt.timedelta(hours=rng.randint(1, 300))
                if rng.random() < ANSWERED and answered < now:
                    answers.append({"who": c, "closed_at": answered})
            with db.engine.begin() as conn:
                conn.execute(sa.insert(Candidate), people)
            open_waits_bulk(db.session, waits, settings)
            waits_table = Wait.__table__
            db.session.execute(
                sa.update(waits_table).where(waits_table.c.candidate_id == sa.bindparam("who")), answers
            )
            db.session.commit()
        # Written around the ORM (bulk inserts, a Core UPDATE answering them): the metrics rollup is
        # counted again, as ``metrics.rollup`` asks of such writes.
        rollup.rebuild(db.session, settings_service.load(db.session))
        db.session.commit()
        with db.engine.begin() as conn:
            if db.engine.dialect.name == "postgresql":
                conn.exec_driver_sql("ANALYZE")
            else:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        db.engine.dispose()


def set_calendar(app, code: str) -> None:
    with app.app_context():
        settings_service.store(db.session, "holiday_calendar", code)
        db.session.commit()


# --- the floor: the metrics page's figures by hand -------------------------------------------------


def _offsets(zone: str, start: dt.datetime, end: dt.datetime) -> list[tuple[dt.datetime, int]]:
    """(from, offset in seconds) over [start, end), found hour by hour."""
    tz, found, hour = ZoneInfo(zone), [], start
    while hour < end:
        offset = int(hour.astimezone(tz).utcoffset().total_seconds())
        if not found or found[-1][1] != offset:
            found.append((hour, offset))
        hour += dt.timedelta(hours=1)
    return found


def _epoch(column: str, kind: str) -> str:
    """Whole UTC seconds of a timestamp (SQLite rounds fractions of a second: they are cut first)."""
    if kind == "postgresql":
        return f"CAST(floor(date_part('epoch', {column})) AS BIGINT)"
    return f"CAST(strftime('%s', substr({column}, 1, 19)) AS INTEGER)"


def _local_day(column: str, kind: str, start: dt.datetime, end: dt.datetime) -> str:
    """The local day: the UTC second plus the position's zone's offset at that instant.

    (PostgreSQL could take it from ``AT TIME ZONE``; measured, that is slower than this.)
    """
    branches, utc = [], "+00" if kind == "postgresql" else ".000000"
    for zone in TIME_ZONES:
        changes = _offsets(zone, start, end)
        ladder = " ".join(
            f"WHEN {column} < '{changes[i + 1][0]:%Y-%m-%d %H:%M:%S}{utc}' THEN {changes[i][1]}"
            for i in range(len(changes) - 1)
        )
        offset = f"CASE {ladder} ELSE {changes[-1][1]} END" if ladder else str(changes[0][1])
        branches.append(f"WHEN '{zone}' THEN {offset}")
    return f"(({_epoch(column, kind)} + CASE p.time_zone {' '.join(branches)} END) / 86400)"


def _number(day: str, holiday_days: list[int]) -> str:
    """A local day's business-day number: Mondays to Fridays since 29 Dec 1969, less holidays."""
    weekday = f"(({day} + 3) - 7 * (({day} + 3) / 7))"
    weekdays = f"(5 * (({day} + 3) / 7) + CASE WHEN {weekday} >= 4 THEN 5 ELSE {weekday} + 1 END)"
    if not holiday_days:
        return weekdays
    ladder = " ".join(f"WHEN {day} < {h} THEN {i}" for i, h in enumerate(holiday_days))
    return f"({weekdays} - CASE {ladder} ELSE {len(holiday_days)} END)"


@dataclass(frozen=True)
class FloorSQL:
    summary: str
    weekly: str
    states: str


def floor_sql(kind: str, start: dt.datetime, now: dt.datetime) -> FloorSQL:
    """The three statements of the metrics page, by hand, for waits opened in [%(start)s, %(end)s)."""
    reach = now + dt.timedelta(days=9)
    opened, closed = (
        _local_day(column, kind, start - dt.timedelta(days=1), reach)
        for column in ("w.opened_at", "w.closed_at")
    )
    opened = f"CASE WHEN w.closed_at IS NOT NULL THEN {opened} END"
    org_day = f"({_epoch('w.opened_at', kind)} / 86400)"  # the organisation's zone is UTC
    barrier = "OFFSET 0" if kind == "postgresql" else "LIMIT -1 OFFSET 0"
    calendar = holidays.country_holidays(CALENDAR)
    first, last = start.date() - dt.timedelta(days=2), reach.date()
    holiday_days = [
        (day - dt.date(1970, 1, 1)).days
        for day in (first + dt.timedelta(days=i) for i in range((last - first).days + 1))
        if day.weekday() < 5 and day in calendar
    ]
    summary = (
        "SELECT x.group_id, u.email, u.name, x.days, x.waits, x.answered, x.met, x.overdue FROM ("
        f"SELECT group_id, {_number('closed', holiday_days)} - {_number('opened', holiday_days)} AS days,"
        " count(*) AS waits, sum(answered) AS answered, sum(met) AS met, sum(overdue) AS overdue FROM ("
        "SELECT p.manager_id AS group_id,"
        " CASE WHEN w.closed_at IS NOT NULL THEN 1 ELSE 0 END AS answered,"
        " CASE WHEN w.closed_at <= w.due_at THEN 1 ELSE 0 END AS met,"
        " CASE WHEN w.closed_at IS NULL AND w.due_at <= %(now)s THEN 1 ELSE 0 END AS overdue,"
        f" {opened} AS opened, {closed} AS closed"
        " FROM waits w JOIN candidates c ON c.id = w.candidate_id JOIN positions p ON p.id = c.position_id"
        f" WHERE w.opened_at >= %(start)s AND w.opened_at < %(end)s {barrier}) AS one_per_wait"
        " GROUP BY 1, 2) AS x JOIN users u ON u.id = x.group_id"
    )
    weekly = (
        f"SELECT ({org_day} + 3) / 7, count(*),"
        " sum(CASE WHEN w.closed_at IS NOT NULL OR w.due_at <= %(now)s THEN 1 ELSE 0 END),"
        " sum(CASE WHEN w.closed_at <= w.due_at THEN 1 ELSE 0 END)"
        " FROM waits w WHERE w.opened_at >= %(start)s AND w.opened_at < %(end)s GROUP BY 1"
    )
    states = f"SELECT {urgency_sql()}, count(*) FROM waits w WHERE w.closed_at IS NULL GROUP BY 1"
    return FloorSQL(raw_sql(summary, kind), raw_sql(weekly, kind), raw_sql(states, kind))


def _rank(histogram: dict[int, int], p: float) -> int | None:
    """Nearest-rank percentile of counted values."""
    n = sum(histogram.values())
    if not n:
        return None
    seen, rank = 0, max(1, math.ceil(p / 100 * n))
    for value in sorted(histogram):
        seen += histogram[value]
        if seen >= rank:
            return value
    return None


FLOOR_TEMPLATE = jinja2.Environment(autoescape=True).from_string(
    "<table>{% for g in groups %}<tr><th>{{ g.name }} {{ g.email }}</th><td>{{ g.waits }}</td>"
    "<td>{{ g.answered }}</td><td>{{ g.median }}</td><td>{{ g.p90 }}</td><td>{{ g.share }}</td>"
    "<td>{{ g.open }}</td><td>{{ g.overdue }}</td></tr>{% endfor %}</table>"
    "<ul>{% for w in weeks %}<li>{{ w }}</li>{% endfor %}</ul>"
    "<ul>{% for d in days %}<li>{{ d }}</li>{% endfor %}</ul>"
    "<ul>{% for s in states %}<li>{{ s }}</li>{% endfor %}</ul>"
)


def metrics_floor(connection, sql: FloorSQL, params: dict) -> tuple[dict, str]:
    """The page's figures by three raw queries; returns the totals (to check) and the HTML."""
    lines: dict[int, dict] = {}
    for group, email, name, days, waits, answered, met, overdue in connection.execute(sql.summary, params):
        line = lines.setdefault(group, {"email": email, "name": name, "n": [0, 0, 0, 0], "days": {}})
        for i, value in enumerate((waits, answered, met, overdue)):
            line["n"][i] += value
        if days is not None:
            line["days"][max(0, days)] = line["days"].get(max(0, days), 0) + answered
    groups, every = [], {"n": [0, 0, 0, 0], "days": {}}
    for line in sorted(lines.values(), key=lambda line: line["email"]):
        waits, answered, met, overdue = line["n"]
        decided = answered + overdue
        groups.append(
            {
                **line,
                "waits": waits,
                "answered": answered,
                "median": _rank(line["days"], 50),
                "p90": _rank(line["days"], 90),
                "share": f"{100 * met / decided:.1f}%" if decided else "n/a",
                "open": waits - answered,
                "overdue": overdue,
            }
        )
        every["n"] = [a + b for a, b in zip(every["n"], line["n"], strict=True)]
        for days, count in line["days"].items():
            every["days"][days] = every["days"].get(days, 0) + count
    weeks = connection.execute(sql.weekly, params).fetchall()
    states = connection.execute(sql.states, params).fetchall()
    html = FLOOR_TEMPLATE.render(
        groups=groups, weeks=weeks, days=sorted(every["days"].items()), states=states
    )
    waits, answered, met, overdue = every["n"]
    totals = {
        "waits": str(waits),
        "answered": str(answered),
        "median_days": str(_rank(every["days"], 50)),
        "p90_days": str(_rank(every["days"], 90)),
        "open_now": str(waits - answered),
        "overdue_now": str(overdue),
    }
    return totals, html


def page_totals(html: str) -> dict[str, str]:
    """The summary's last line, as the page shows it."""
    line = html.split('data-group="all"', 1)[1].split("</tr>", 1)[0]
    return dict(re.findall(r'data-figure="(\w+)">([^<]*)<', line))


# --- measuring -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PageFigures:
    label: str
    statements: int
    size: int
    ms: float


def measure_pages(app, clients: dict, runs: int) -> list[PageFigures]:
    # Requests run outside any app context of ours: each pushes its own, as under a server.
    with app.app_context():
        counter = StatementCounter(db.engine)
    figures = []
    for label, (client, path) in clients.items():

        def get(client=client, path=path):
            response = client.get(path)
            assert response.status_code == 200, (path, response.status_code)
            return response

        statements, response = counter.of(get)
        ms = interleaved_medians({label: get}, runs)[label]
        figures.append(PageFigures(label, statements, len(response.get_data()), ms))
    return figures


def one_database(
    kind: str, server: str | None, waits: int, first: int, runs: int
) -> tuple[list, tuple[float, float]]:
    """Every figure on one database: the pages', and the metrics page's and its floor's medians."""
    now = dt.datetime.now(dt.UTC)
    rng = random.Random(7)
    with fresh_database(kind, "metrics", server) as database:
        app = create_app(app_config(database))
        migrate(app)
        org = build_organisation(app, [0] * MANAGERS, now, positions_per_manager=POSITIONS_PER_MANAGER)
        set_calendar(app, CALENDAR)
        manager_email = org.manager_emails[0]
        add_waits(app, first, range(MANAGERS), 1, now, rng)
        admin, manager = logged_in_client(app, ADMIN_EMAIL), logged_in_client(app, manager_email)
        positions = {"admin /positions": (admin, "/positions"), "manager /positions": (manager, "/positions")}
        pages = [(f"{first:,} waits", measure_pages(app, positions, runs))]
        # The rest go to the other managers: the benchmarked manager's own page stays the same.
        add_waits(app, waits - first, range(1, MANAGERS), first + 1, now, rng)
        pages.append((f"{waits:,} waits", measure_pages(app, positions, runs)))
        metrics = {"admin /metrics": (admin, "/metrics"), "manager /metrics": (manager, "/metrics")}
        pages.append((f"{waits:,} waits", measure_pages(app, metrics, runs)))
        versus_floor = compare_metrics(database, admin, now, runs)
        with app.app_context():
            db.engine.dispose()
    return pages, versus_floor


def compare_metrics(database: Database, client, now: dt.datetime, runs: int) -> tuple[float, float]:
    """The admin's metrics page against the floor, timed in turn; their totals must agree."""
    today = now.date()
    monday = today - dt.timedelta(days=today.weekday())
    start = dt.datetime.combine(monday - dt.timedelta(weeks=11), dt.time(), tzinfo=dt.UTC)
    end = dt.datetime.combine(today + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    sql = floor_sql(database.kind, start, now)
    connection = database.raw()
    params = {
        "start": raw_time(start, database.kind),
        "end": raw_time(end, database.kind),
        "now": raw_time(now, database.kind),
        "followups": 2,
    }

    def page():
        response = client.get("/metrics")
        assert response.status_code == 200, response.status_code
        return response

    expected, _ = metrics_floor(connection, sql, params)
    shown = page_totals(page().get_data(as_text=True))
    differ = {k: (shown.get(k), v) for k, v in expected.items() if shown.get(k) != v}
    if differ:
        raise SystemExit(f"the page and the floor disagree (page, floor): {differ}")
    times = interleaved_medians({"page": page, "floor": lambda: metrics_floor(connection, sql, params)}, runs)
    connection.close()
    return times["page"], times["floor"]


def report(pages: list, page_ms: float, floor_ms: float) -> float:
    """Print every figure; returns the metrics page's ratio to its floor."""
    for label, figures in pages:
        for f in figures:
            print(f"  {label}, {f.label}: {f.ms:.1f} ms, {kilobytes(f.size)}, {f.statements} statements")
    print(
        f"  admin /metrics against its floor, timed in turn: median {page_ms:.0f} ms; floor (3 raw "
        f"queries + minimal Jinja) {floor_ms:.0f} ms; ratio {page_ms / floor_ms:.2f} "
        f"(target at most {TARGET_RATIO:g})"
    )
    return page_ms / floor_ms


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--waits", type=int, default=100_000)
    parser.add_argument(
        "--first", type=int, default=10_000, help="waits when the positions pages are first timed"
    )
    parser.add_argument("--runs", type=int, default=15, help="timed requests per page (at most)")
    add_database_options(parser)
    args = parser.parse_args()
    server, kinds = database_kinds(parser, args)

    def one(kind: str) -> list[str]:
        pages, (page_ms, floor_ms) = one_database(kind, server, args.waits, args.first, args.runs)
        ratio = report(pages, page_ms, floor_ms)
        if ratio > TARGET_RATIO:
            return [f"{kind}: the metrics page is {ratio:.2f} times its floor (target {TARGET_RATIO:g})"]
        return []

    return each_database(kinds, one)


if __name__ == "__main__":
    sys.exit(main())
