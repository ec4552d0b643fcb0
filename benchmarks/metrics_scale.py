"""The metrics page of a large organisation: 100,000 and 1,000,000 waits on PostgreSQL.

On the PostgreSQL server FEEDBACK_SLA_TEST_DATABASE_URL (or ``--database-url``) names, it takes
the organisations ``benchmarks/scale_data.py`` builds (or has built: ``scale_100000``, 200 managers,
and ``scale_1000000``, 2,000 managers, 40% of the waits open), brings their schema up to date
(``flask db upgrade``: the metrics rollup is created and counted there once; nothing else
changes) and, on the clock they were built for, times through the test client:

  * the admin's metrics page (every manager, the default 12 weeks; the target), by position,
    its second page, and one manager picked by email;

each against a floor measured in turn: the same figures by hand-written SQL on psycopg (the
rollup's rows per day for the totals, the open waits counted live by state, week and deadline,
the page of 50 managers by name with their rows and open waits) rendered by a minimal Jinja
table. The page's totals must equal the floor's. It prints each page's median, its floor, the
ratio, its size and statements, and the growth from 100,000 to 1,000,000.

Targets: the admin's page under 300 ms at 1,000,000 waits, at most 2.5 times its floor, and its
size at 1,000,000 at most 10% above its size at 100,000. Exits non-zero when one is missed.

    .venv/bin/python benchmarks/metrics_scale.py [--sizes 100000 1000000] [--database-url URL] [--runs 15]
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass

import jinja2
import time_machine

from benchmarks.common import (
    StatementCounter,
    interleaved_medians,
    kilobytes,
    logged_in_client,
    migrate,
    report_misses,
    server_url,
    urgency_sql,
    use_temporary_instance_folder,
)
from benchmarks.scale_data import app_config_for, organisation
from feedback_sla import create_app
from feedback_sla.database import db
from feedback_sla.metrics.service import default_period
from feedback_sla.reports.period import opened_bounds
from feedback_sla.reports.summary import percentile
from feedback_sla.settings import service as settings_service

TARGET_MS = 300.0
TARGET_RATIO = 2.5
SIZE_GROWTH = 1.10
EPOCH = dt.date(1970, 1, 1)

# --- the floor: the page's figures by hand ----------------------------------------------------

TOTALS_SQL = """
SELECT opened_day, days, answered, met, autopilot FROM metrics_answered_days
WHERE opened_day BETWEEN %(first)s AND %(last)s
"""
OPEN_SQL = f"""
SELECT {urgency_sql()} AS urgency,
       CASE WHEN w.opened_at >= %(start)s AND w.opened_at < %(end)s
            THEN date_trunc('week', w.opened_at AT TIME ZONE %(zone)s) END AS week,
       w.due_at <= %(now)s AS late, count(*)
FROM waits w WHERE w.closed_at IS NULL GROUP BY 1, 2, 3
"""
_OPEN_OF_POSITION = """
SELECT 1 FROM candidates c JOIN waits w ON w.candidate_id = c.id AND w.closed_at IS NULL
WHERE c.position_id = p.id AND w.opened_at >= %(start)s AND w.opened_at < %(end)s
"""
MANAGERS_SQL = f"""
SELECT u.id, u.email, u.name, count(*) OVER () FROM users u
WHERE EXISTS (SELECT 1 FROM positions p WHERE p.manager_id = u.id AND (
    EXISTS (SELECT 1 FROM metrics_answered r
            WHERE r.position_id = p.id AND r.opened_day BETWEEN %(first)s AND %(last)s)
    OR EXISTS ({_OPEN_OF_POSITION})))
ORDER BY u.email COLLATE "C", u.id LIMIT 50
"""
ANSWERED_SQL = """
SELECT p.manager_id, r.days, sum(r.answered), sum(r.met), sum(r.autopilot)
FROM metrics_answered r JOIN positions p ON p.id = r.position_id
WHERE p.manager_id = ANY(%(ids)s) AND r.opened_day BETWEEN %(first)s AND %(last)s GROUP BY 1, 2
"""
OPEN_OF_MANAGERS_SQL = """
SELECT p.manager_id, count(*), count(*) FILTER (WHERE w.due_at <= %(now)s)
FROM positions p JOIN candidates c ON c.position_id = p.id
JOIN waits w ON w.candidate_id = c.id AND w.closed_at IS NULL
WHERE p.manager_id = ANY(%(ids)s) AND w.opened_at >= %(start)s AND w.opened_at < %(end)s GROUP BY 1
"""
FLOOR_TEMPLATE = jinja2.Environment(autoescape=True).from_string(
    "<table>{% for g in groups %}<tr><th>{{ g.name }} {{ g.email }}</th><td>{{ g.waits }}</td>"
    "<td>{{ g.answered }}</td><td>{{ g.median }}</td><td>{{ g.p90 }}</td><td>{{ g.share }}</td>"
    "<td>{{ g.open }}</td><td>{{ g.late }}</td><td>{{ g.autopilot }}</td></tr>{% endfor %}"
    "<tr><th>All</th><td>{{ all.waits }}</td><td>{{ all.answered }}</td><td>{{ all.median }}</td>"
    "<td>{{ all.p90 }}</td><td>{{ all.open }}</td><td>{{ all.late }}</td></tr></table>"
    "<ul>{% for w in weeks %}<li>{{ w }}</li>{% endfor %}</ul>"
    "<ul>{% for d in days %}<li>{{ d }}</li>{% endfor %}</ul>"
    "<ul>{% for s in states %}<li>{{ s }}</li>{% endfor %}</ul>"
)


@dataclass
class Line:
    name: str = ""
    email: str = ""
    answered: int = 0
    met: int = 0
    autopilot: int = 0
    open: int = 0
    late: int = 0

    def __post_init__(self):
        self.days: Counter[int] = Counter()

    def figures(self) -> dict:
        decided = self.answered + self.late
        return {
            "name": self.name,
            "email": self.email,
            "waits": self.answered + self.open,
            "answered": self.answered,
            "median": percentile(self.days, 50),
            "p90": percentile(self.days, 90),
            "share": f"{100 * self.met / decided:.1f}%" if decided else "n/a",
            "open": self.open,
            "late": self.late,
            "autopilot": self.autopilot,
        }


def metrics_floor(connection, params: dict) -> tuple[dict, str]:
    """The admin's page by five raw queries: its totals (to check against the page) and HTML."""
    every, weeks = Line(), Counter()
    for day, days, answered, met, autopilot in connection.execute(TOTALS_SQL, params):
        every.answered, every.met, every.autopilot = (
            every.answered + answered,
            every.met + met,
            every.autopilot + autopilot,
        )
        every.days[days] += answered
        weeks[(day + 3) // 7] += answered
    states = Counter()
    for urgency, week, late, count in connection.execute(OPEN_SQL, params):
        states[urgency] += count
        if week is not None:
            every.open, every.late = every.open + count, every.late + count * late
            weeks[week] += count
    managers = connection.execute(MANAGERS_SQL, params).fetchall()
    lines = {m[0]: Line(m[2], m[1]) for m in managers}
    ids = {**params, "ids": list(lines)}
    for manager, days, answered, met, autopilot in connection.execute(ANSWERED_SQL, ids):
        line = lines[manager]
        line.answered, line.met, line.autopilot = (
            line.answered + answered,
            line.met + met,
            line.autopilot + autopilot,
        )
        line.days[days] += answered
    for manager, count, late in connection.execute(OPEN_OF_MANAGERS_SQL, ids):
        lines[manager].open, lines[manager].late = count, late
    totals = every.figures()
    html = FLOOR_TEMPLATE.render(
        groups=[line.figures() for line in lines.values()],
        all=totals,
        weeks=sorted(weeks.items(), key=str),
        days=sorted(every.days.items()),
        states=sorted(states.items()),
    )
    return {k: str(totals[k]) for k in ("waits", "answered", "median", "p90", "open", "late")}, html


def page_totals(html: str) -> dict[str, str]:
    """The summary's last line, as the page shows it, named as the floor names them."""
    line = html.split('data-group="all"', 1)[1].split("</tr>", 1)[0]
    shown = dict(re.findall(r'data-figure="(\w+)">([^<]*)<', line))
    names = {"median_days": "median", "p90_days": "p90", "open_now": "open", "overdue_now": "late"}
    return {names.get(k, k): v for k, v in shown.items() if names.get(k, k) in _CHECKED}


_CHECKED = ("waits", "answered", "median", "p90", "open", "late")


# --- measuring ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    label: str
    ms: float
    size: int
    statements: int
    floor_ms: float | None = None

    def line(self) -> str:
        size = kilobytes(self.size)
        text = f"  {self.label:<34} {self.ms:8.1f} ms  {size:>10}  {self.statements:2} statements"
        if self.floor_ms:
            text += f"  floor {self.floor_ms:7.1f} ms  ratio {self.ms / self.floor_ms:5.2f}"
        return text


def metrics_params(built, settings) -> dict:
    """What the floor needs for the page's default period, at the time ``built`` was built for."""
    since, until = default_period(built.built_at.date())
    start, end = opened_bounds(since, until, settings.time_zone)
    return {
        "first": (since - EPOCH).days,
        "last": (until - EPOCH).days,
        "start": start,
        "end": end,
        "now": built.built_at,
        "zone": settings.time_zone,
        "followups": settings.escalate_after_followups,
    }


def one_size(server: str, waits: int, runs: int) -> dict[str, Figure]:
    built = organisation(server, waits)
    print(
        f"{waits:,} waits, {built.managers:,} managers (built for {built.built_at:%Y-%m-%d %H:%M} UTC)",
        flush=True,
    )
    app = create_app(app_config_for(built.uri))
    migrate(app)  # creates and counts the metrics rollup the first time
    with app.app_context():
        settings = settings_service.load(db.session)
        counter = StatementCounter(db.engine)
        db.session.remove()
    raw = built.raw()
    raw.execute("ANALYZE metrics_answered, metrics_answered_days")
    figures = {}
    with time_machine.travel(built.built_at, tick=True):
        client = logged_in_client(app, built.admin_email)
        params = metrics_params(built, settings)
        pages = {
            "admin /metrics": "/metrics",
            "admin /metrics by position": "/metrics?by=position",
            "admin /metrics page 2": "/metrics?page=2",
            "admin /metrics one manager": f"/metrics?manager={built.manager_email(0)}",
        }
        for label, url in pages.items():

            def get(url=url):
                response = client.get(url)
                if response.status_code != 200:
                    raise RuntimeError(f"{url} answered {response.status_code}")
                return response.get_data()

            statements, body = counter.of(get)
            runs_of = {"page": get}
            if url == "/metrics":
                expected, _ = metrics_floor(raw, params)
                shown = page_totals(body.decode())
                if shown != expected:
                    raise RuntimeError(f"the page and its floor disagree: page {shown}, floor {expected}")
                runs_of["floor"] = lambda: metrics_floor(raw, params)
            medians = interleaved_medians(runs_of, runs, budget_seconds=20)
            figures[label] = Figure(label, medians["page"], len(body), statements, medians.get("floor"))
            print(figures[label].line(), flush=True)
    raw.close()
    with app.app_context():
        db.engine.dispose()
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--database-url", help="PostgreSQL server (default: $FEEDBACK_SLA_TEST_DATABASE_URL)")
    parser.add_argument("--runs", type=int, default=15, help="timed requests per page (at most)")
    args = parser.parse_args()
    server = server_url(args.database_url)
    if not server:
        parser.error("needs --database-url or FEEDBACK_SLA_TEST_DATABASE_URL (PostgreSQL)")
    missed = []
    with tempfile.TemporaryDirectory() as instance:
        use_temporary_instance_folder(instance)
        sizes = {waits: one_size(server, waits, args.runs) for waits in args.sizes}
    largest, smallest = max(sizes), min(sizes)
    admin = sizes[largest]["admin /metrics"]
    if admin.ms > TARGET_MS:
        missed.append(f"admin /metrics at {largest:,} waits: {admin.ms:.0f} ms (target under {TARGET_MS:g})")
    if admin.floor_ms and admin.ms / admin.floor_ms > TARGET_RATIO:
        missed.append(f"admin /metrics at {largest:,} waits: {admin.ms / admin.floor_ms:.2f} times its floor")
    if largest != smallest:
        print(f"growth from {smallest:,} to {largest:,} waits:")
        for label, figure in sizes[largest].items():
            small = sizes[smallest][label]
            print(f"  {label:<34} time x{figure.ms / small.ms:5.2f}  size x{figure.size / small.size:5.2f}")
        growth = admin.size / sizes[smallest]["admin /metrics"].size
        if growth > SIZE_GROWTH:
            missed.append(f"admin /metrics grows {growth:.2f} times in size (target at most {SIZE_GROWTH:g})")
    return report_misses(missed)


if __name__ == "__main__":
    sys.exit(main())
