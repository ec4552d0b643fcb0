"""Floors for ``benchmarks/scale.py``: each page's rows by the best SQL written by hand.

Written from what each page shows, not from the app's statements: what a DBA would send for that
page on the schema, with the indexes the schema has (the open waits of active candidates by
deadline, candidates by name, trigrams of the search key). Each is sent through psycopg and
shown by a minimal Jinja table.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass

import jinja2

from benchmarks.common import SEARCH_TERM, search_floor, triage_floor
from benchmarks.metrics_scale import metrics_floor, metrics_params
from benchmarks.scale_data import Built

PAGE = 50
TABLE = jinja2.Environment(autoescape=True).from_string(
    "<p>{{ total }}</p>{% for k, v in counts %}<span>{{ k }}: {{ v }}</span>{% endfor %}"
    "<table>{% for r in rows %}<tr>{% for v in r %}<td>{{ v }}</td>{% endfor %}</tr>{% endfor %}</table>"
)

STATE = (
    "CASE WHEN follow_ups >= %(followups)s OR escalate_at <= %(now)s THEN 0"
    " WHEN due_at <= %(now)s THEN 1 WHEN warn_at <= %(now)s THEN 2 ELSE 3 END"
)
#: The organisation's open waits of active candidates, counted by state from the index alone.
COUNTS = (
    f"SELECT {STATE} AS state, count(*) FROM waits WHERE closed_at IS NULL AND candidate_active GROUP BY 1"
)
#: One state's slice of the list, by deadline: ids from the index, then fifty rows joined.
SLICE = (
    f"SELECT id FROM waits WHERE closed_at IS NULL AND candidate_active AND {STATE} = %(state)s"
    " ORDER BY due_at, id LIMIT %(limit)s OFFSET %(offset)s"
)
#: The next page of one state after a row (its deadline and wait), by deadline.
AFTER = (
    f"SELECT id FROM waits WHERE closed_at IS NULL AND candidate_active AND {STATE} = %(state)s"
    " AND (due_at, id) > (%(due_at)s, %(wait_id)s) ORDER BY due_at, id LIMIT 50"
)
ROWS = """
SELECT c.id, c.name, c.email, p.title, p.time_zone, u.name, c.stage, w.reason, w.opened_at, w.due_at,
       w.promised_date, w.follow_ups
FROM waits w JOIN candidates c ON c.id = w.candidate_id JOIN positions p ON p.id = c.position_id
JOIN users u ON u.id = p.manager_id
WHERE w.id = ANY(%(ids)s) ORDER BY w.due_at, w.id
"""
CANDIDATES = """
SELECT c.id, c.name, c.email, p.title, u.name, c.stage, c.status,
       (SELECT min(f.opened_at) FROM waits f WHERE f.candidate_id = c.id), w.due_at
FROM candidates c JOIN positions p ON p.id = c.position_id JOIN users u ON u.id = p.manager_id
LEFT JOIN waits w ON w.candidate_id = c.id AND w.closed_at IS NULL
ORDER BY lower(c.name), c.id LIMIT 50
"""
POSITIONS = """
SELECT p.id, p.title, u.name, p.time_zone,
       (SELECT count(*) FROM candidates c JOIN waits w ON w.candidate_id = c.id
        WHERE c.position_id = p.id AND w.closed_at IS NULL AND w.candidate_active)
FROM positions p JOIN users u ON u.id = p.manager_id
WHERE p.is_open ORDER BY lower(p.title), p.id LIMIT 50
"""


@dataclass(frozen=True)
class Manager:
    index: int  # as in the builder's addresses
    id: int
    waiting: int


def manager_sizes(built: Built) -> tuple[Manager, Manager]:
    """The manager with the most waiting candidates (about 2,000) and one with about 200."""
    with built.raw() as conn:
        rows = conn.execute(
            "SELECT p.manager_id, count(*) FROM waits w JOIN candidates c ON c.id = w.candidate_id"
            " JOIN positions p ON p.id = c.position_id WHERE w.closed_at IS NULL AND w.candidate_active"
            " GROUP BY 1 ORDER BY 2 DESC, 1"
        ).fetchall()
    big, small = rows[0], min(rows, key=lambda row: (abs(row[1] - 200), row[0]))
    return Manager(big[0] - 2, big[0], big[1]), Manager(small[0] - 2, small[0], small[1])


@dataclass
class Page:
    label: str
    who: str  # "admin", "big manager" or "small manager"
    url: str
    floor: Callable[[], str]
    rows: int | None = None  # the rows the page must list, if known

    def check(self, html: str) -> None:
        if self.rows is not None:
            found = html.count("data-candidate-id=")
            if found != self.rows:
                raise RuntimeError(f"{self.label}: {found} rows on the page, expected {self.rows}")


class Floors:
    def __init__(self, conn, now: dt.datetime) -> None:
        self.conn, self.now = conn, now
        self.params = {"now": now, "followups": 2}

    def counts(self) -> dict[int, int]:
        return dict(self.conn.execute(COUNTS, self.params).fetchall())

    def organisation_triage(self, page: int) -> str:
        counts = self.counts()
        offset, start, ids = (page - 1) * PAGE, 0, []
        for state in range(4):
            low, high = max(offset, start), min(offset + PAGE, start + counts.get(state, 0))
            if low < high:
                values = {**self.params, "state": state, "limit": high - low, "offset": low - start}
                ids += [row[0] for row in self.conn.execute(SLICE, values)]
            start += counts.get(state, 0)
        rows = self.conn.execute(ROWS, {"ids": ids}).fetchall()
        return TABLE.render(total=sum(counts.values()), counts=sorted(counts.items()), rows=rows)

    def next_page(self, cursor: str) -> str:
        """The page after a row, as the app's Next link names it (``state.micros.wait``)."""
        counts = self.counts()
        state, micros, wait_id = map(int, cursor.split("."))
        due_at = dt.datetime.fromtimestamp(micros / 1_000_000, dt.UTC)
        values = {**self.params, "state": state, "due_at": due_at, "wait_id": wait_id}
        ids = [row[0] for row in self.conn.execute(AFTER, values)]
        rows = self.conn.execute(ROWS, {"ids": ids}).fetchall()
        return TABLE.render(total=sum(counts.values()), counts=sorted(counts.items()), rows=rows)

    def candidates(self) -> str:
        total = self.conn.execute("SELECT count(*) FROM candidates").fetchone()[0]
        return TABLE.render(total=total, counts=(), rows=self.conn.execute(CANDIDATES).fetchall())

    def positions(self) -> str:
        total = self.conn.execute("SELECT count(*) FROM positions WHERE is_open").fetchone()[0]
        return TABLE.render(total=total, counts=(), rows=self.conn.execute(POSITIONS).fetchall())


def next_link(client, url: str) -> str:
    """The address of the Next link on a page of the app."""
    html = client.get(url).get_data(as_text=True)
    found = re.search(r'rel="next" href="([^"]+)"', html)
    if found is None:
        raise RuntimeError(f"no Next link on {url}")
    return found.group(1).replace("&amp;", "&")


def pages(conn, built: Built, big: Manager, small: Manager, admin_client, settings) -> list[Page]:
    floors = Floors(conn, built.built_at)
    params = metrics_params(built, settings)
    waiting = sum(floors.counts().values())
    middle = max(1, -(-waiting // PAGE) // 2)
    following = next_link(admin_client, f"/?page={middle - 1}")
    cursor = re.search(r"after=([0-9.]+)", following).group(1)
    return [
        Page(f"admin triage, page {middle:,} (Next)", "admin", following,
             lambda: floors.next_page(cursor), PAGE),
        Page("admin triage, page 1", "admin", "/", lambda: floors.organisation_triage(1), PAGE),
        Page(f"admin triage, page {middle:,}", "admin", f"/?page={middle}",
             lambda: floors.organisation_triage(middle), PAGE),
        Page("admin candidates, page 1", "admin", "/candidates", floors.candidates),
        Page(f"admin candidates, search {SEARCH_TERM}", "admin", f"/candidates?q={SEARCH_TERM}",
             lambda: search_floor(conn, "postgresql", SEARCH_TERM, None)[1]),
        Page("admin positions, page 1", "admin", "/positions", floors.positions),
        Page("admin metrics", "admin", "/metrics", lambda: metrics_floor(conn, params)[1]),
        Page(f"manager triage ({big.waiting:,} waiting)", "big manager", "/",
             lambda: triage_floor(conn, "postgresql", big.id, 1, 2), PAGE),
        Page(f"manager triage ({small.waiting:,} waiting)", "small manager", "/",
             lambda: triage_floor(conn, "postgresql", small.id, 1, 2), min(PAGE, small.waiting)),
    ]  # fmt: skip


def queued_by_autopilot(built: Built, database: str) -> int:
    """Autopilot's messages in a copy of the organisation (the builder queued none)."""
    import psycopg

    conninfo = re.sub(r"/[^/?]*$", f"/{database}", built.conninfo)
    with psycopg.connect(conninfo) as conn:
        return conn.execute("SELECT count(*) FROM outbox_messages WHERE autopilot").fetchone()[0]
