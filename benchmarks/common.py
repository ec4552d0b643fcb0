"""What the page benchmarks share: a database of their own, an organisation built in bulk, a
logged-in test client, statement counting, interleaved timing and the floors' raw connections.

A benchmark runs on SQLite (a file in a temporary folder) and, when FEEDBACK_SLA_TEST_DATABASE_URL
or ``--database-url`` names a PostgreSQL server, on a database it creates there and drops after:
the test database itself is never touched.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import random
import re
import sqlite3
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import flask_migrate
import jinja2
import psycopg
import sqlalchemy as sa
from sqlalchemy.exc import SAWarning
from werkzeug.security import generate_password_hash

from feedback_sla.accounts.models import Role, User
from feedback_sla.candidates.models import PIPELINE, Candidate, Event, EventKind, Status
from feedback_sla.config import database_uri
from feedback_sla.database import db
from feedback_sla.positions.models import Position
from feedback_sla.settings import service as settings_service
from feedback_sla.testing.bulk import NewWait, open_waits_bulk
from feedback_sla.text import search_key
from feedback_sla.waits.models import WaitReason

TEST_DATABASE_ENV = "FEEDBACK_SLA_TEST_DATABASE_URL"
PASSWORD = "benchmark passphrase"  # noqa: S105  (throwaway accounts in a throwaway database)
ADMIN_EMAIL = "admin@example.com"
TIME_ZONES = ("America/New_York", "America/Los_Angeles", "Europe/Berlin", "Asia/Kolkata", "Asia/Tokyo")
#: Waits opened over the three weeks before the run: most are overdue, some escalated.
OPENED_WITHIN = dt.timedelta(days=21)
CHUNK = 20_000
FIRST_NAMES = (
    "Ada", "Amara", "Björn", "Chen", "Chloé", "Dmitri", "Élodie", "Fatima", "Günther", "Hana",
    "Ines", "Jamal", "José", "Kai", "Laila", "Łukasz", "Maya", "Mateo", "Nia", "Noah",
    "Olga", "Omar", "Priya", "Quentin", "Rosa", "Sven", "Søren", "Tariq", "Uma", "Vera",
    "Wei", "Ximena", "Yara", "Yusuf", "Zoë", "Zaid", "Aiko", "Bruno", "Carmen", "Dario",
)  # fmt: skip
#: Surnames of three syllables: a whole surname never appears inside another name or address,
#: so searching one finds the candidates who carry it (about one in 343) and no others.
SYLLABLES = ("ka", "ro", "mi", "ten", "sa", "lu", "vo")
SEARCH_TERM = "Tenluvo"


def surnames() -> list[str]:
    return [(a + b + c).capitalize() for a in SYLLABLES for b in SYLLABLES for c in SYLLABLES]


# --- the database -----------------------------------------------------------------------------


def server_url(option: str | None) -> str | None:
    """The PostgreSQL server to use: ``--database-url``, else FEEDBACK_SLA_TEST_DATABASE_URL."""
    return option or os.environ.get(TEST_DATABASE_ENV) or None


@dataclass(frozen=True)
class Database:
    kind: str  # "sqlite" or "postgresql"
    uri: str  # for the app (SQLAlchemy)
    path: Path | None = None  # SQLite's file
    conninfo: str | None = None  # PostgreSQL's, for psycopg

    def raw(self):
        """A plain driver connection for a floor: stdlib sqlite3 or psycopg, no SQLAlchemy."""
        if self.kind == "sqlite":
            return sqlite3.connect(self.path)
        return psycopg.connect(self.conninfo, autocommit=True)


@contextmanager
def fresh_database(kind: str, name: str, server: str | None) -> Iterator[Database]:
    """A new empty database, dropped (or deleted) afterwards."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"{name}.sqlite3"
            yield Database("sqlite", f"sqlite:///{path}", path=path)
        return
    url = sa.engine.make_url(database_uri(server, ""))
    database = f"bench_{name}_{os.getpid()}"
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    conninfo = url.set(drivername="postgresql", database=database).render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database}"')
        conn.execute(f'CREATE DATABASE "{database}"')
    try:
        yield Database(
            "postgresql",
            url.set(database=database).render_as_string(hide_password=False),
            conninfo=conninfo,
        )
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def app_config(database: Database) -> dict:
    """Settings for an app benchmarked in this process; nothing is ever sent."""
    return {
        "SQLALCHEMY_DATABASE_URI": database.uri,
        "SECRET_KEY": "benchmark-only",
        "SESSION_COOKIE_SECURE": False,
        "RATELIMIT_ENABLED": False,
        "OUTBOX_UNDO_SECONDS": 86_400,  # a queued email stays queued
    }


def use_temporary_instance_folder(folder: str) -> None:
    """Keep the app's instance folder (secret key, SQLite default) out of the working tree."""
    os.environ["FEEDBACK_SLA_INSTANCE_PATH"] = folder


def migrate(app) -> None:
    with app.app_context():
        logging.disable(logging.INFO)  # the migrations' progress lines
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", SAWarning)  # batch migrations reflecting indexes
                flask_migrate.upgrade()
        finally:
            logging.disable(logging.NOTSET)


# --- the organisation ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Organisation:
    admin_email: str
    manager_emails: list[str]  # manager i's address; index 0 is the benchmarked manager
    manager_ids: list[int]
    waiting: int
    search_matches: int  # candidates whose name holds SEARCH_TERM


def build_organisation(
    app, waiting_per_manager: list[int], now: dt.datetime, positions_per_manager: int = 3, seed: int = 5
) -> Organisation:
    """One admin and a manager per entry of ``waiting_per_manager``, each with that many waiting
    candidates (a 'created' event and an open wait each), spread over their positions."""
    rng = random.Random(seed)
    last_names = surnames()
    password_hash = generate_password_hash(PASSWORD)  # one hash for every account: hashing is slow
    managers = len(waiting_per_manager)
    users = [_user(1, ADMIN_EMAIL, "Ada Admin", Role.ADMIN, "Europe/Berlin", password_hash)]
    users += [
        _user(i + 2, _manager_email(i), f"Manager {i:03d}", Role.MANAGER, TIME_ZONES[i % 5], password_hash)
        for i in range(managers)
    ]
    positions = [
        {
            "id": i * positions_per_manager + j + 1,
            "title": f"{('Backend', 'Data', 'Design', 'Sales', 'Support')[j % 5]} role {i:03d}-{j}",
            "manager_id": i + 2,
            "time_zone": TIME_ZONES[(i + j) % 5],
            "policy_overrides": {},
        }
        for i in range(managers)
        for j in range(positions_per_manager)
    ]
    owners = [m for m, count in enumerate(waiting_per_manager) for _ in range(count)]
    matches = 0
    with app.app_context():
        settings = settings_service.load(db.session)
        with db.engine.begin() as conn:
            conn.execute(sa.insert(User), users)
            conn.execute(sa.insert(Position), positions)
        for start in range(0, len(owners), CHUNK):
            people, events, waits = [], [], []
            for c, owner in enumerate(owners[start : start + CHUNK], start=start + 1):
                position = positions[owner * positions_per_manager + c % positions_per_manager]
                name = f"{rng.choice(FIRST_NAMES)} {rng.choice(last_names)}"
                matches += SEARCH_TERM in name
                email = f"{search_key(name).replace(' ', '.')}.{c}@example.com".encode("ascii", "ignore")
                stage = rng.choice(PIPELINE)
                opened = now - OPENED_WITHIN * rng.random()
                people.append(_candidate(c, name, email.decode(), position["id"], stage, opened))
                events.append(_created(c, stage, opened))
                reason = WaitReason.APPLICATION if stage in PIPELINE[:2] else WaitReason.DECISION
                waits.append(NewWait(c, reason, opened, position["time_zone"], opened_by_event_id=c))
            with db.engine.begin() as conn:
                conn.execute(sa.insert(Candidate), people)
                conn.execute(sa.insert(Event), events)
            open_waits_bulk(db.session, waits, settings)
            db.session.commit()
        _after_bulk_load(db.engine)
        db.engine.dispose()
    return Organisation(
        ADMIN_EMAIL,
        [_manager_email(i) for i in range(managers)],
        [i + 2 for i in range(managers)],
        len(owners),
        matches,
    )


def _manager_email(i: int) -> str:
    return f"manager{i:03d}@example.com"


def _user(user_id, email, name, role, time_zone, password_hash) -> dict:
    return {
        "id": user_id,
        "email": email,
        "name": name,
        "password_hash": password_hash,
        "role": role,
        "time_zone": time_zone,
        "active": True,
        "session_version": 1,
    }


def _candidate(candidate_id, name, email, position_id, stage, created) -> dict:
    return {
        "id": candidate_id,
        "name": name,
        "email": email,
        "position_id": position_id,
        "stage": stage,
        "status": Status.ACTIVE,
        "created_at": created,
        "search_key": search_key(name, email),
    }


def _created(candidate_id, stage, at) -> dict:
    return {
        "id": candidate_id,
        "candidate_id": candidate_id,
        "kind": EventKind.CREATED,
        "data": {"stage": stage},
        "occurred_at": at,
        "recorded_at": at,
    }


def _after_bulk_load(engine) -> None:
    """PostgreSQL: move the id sequences past the ids given above, and gather the statistics
    autovacuum would gather; SQLite: fold the write-ahead log into the file."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            for table in ("users", "positions", "candidates", "events", "waits"):
                conn.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
                )
            conn.exec_driver_sql("ANALYZE")
        else:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


# --- requests through the test client -------------------------------------------------------------

CSRF_PATTERN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
NONCE_PATTERN = re.compile(r'name="nonce"[^>]*value="([^"]+)"')


def hidden(pattern: re.Pattern, html: str) -> str:
    found = pattern.search(html)
    if found is None:
        raise RuntimeError(f"no {pattern.pattern} on the page")
    return found.group(1)


def logged_in_client(app, email: str):
    """A test client logged in through the login form, CSRF token and all."""
    client = app.test_client()
    token = hidden(CSRF_PATTERN, client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token})
    if response.status_code != 302:
        raise RuntimeError(f"login as {email} answered {response.status_code}")
    return client


class StatementCounter:
    """The SQL statements the app's engine sends while ``counting`` is on, each with its time."""

    def __init__(self, engine) -> None:
        self.seen: list[list] = []  # [statement, milliseconds (None until it returns)]
        self.counting = False
        self._started = 0.0
        sa.event.listen(engine, "before_cursor_execute", self._before)
        sa.event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, _conn, _cursor, statement, *_args) -> None:
        if self.counting:
            self.seen.append([statement, None])
            self._started = time.perf_counter()

    def _after(self, *_args) -> None:
        if self.counting and self.seen:
            self.seen[-1][1] = (time.perf_counter() - self._started) * 1000

    @property
    def count(self) -> int:
        return len(self.seen)

    def of(self, run: Callable[[], object]) -> tuple[int, object]:
        self.seen, self.counting = [], True
        try:
            result = run()
        finally:
            self.counting = False
        return self.count, result

    def describe(self) -> list[str]:
        """One line per statement of the last ``of``: its milliseconds and its start."""
        return [f"{ms or 0:8.2f} ms  {' '.join(sql.split())[:150]}" for sql, ms in self.seen]


def interleaved_medians(
    runs: dict[str, Callable[[], object]], times: int, budget_seconds: float = 20.0
) -> dict[str, float]:
    """Median milliseconds of each, timed in turn so all meet the same machine load.

    Stops early (after at least 5 rounds) once ``budget_seconds`` are spent: a page that takes
    seconds needs fewer samples than one that takes milliseconds.
    """
    for run in runs.values():
        run()
    timings: dict[str, list[float]] = {name: [] for name in runs}
    started = time.perf_counter()
    for done in range(times):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            timings[name].append((time.perf_counter() - start) * 1000)
        if done >= 4 and time.perf_counter() - started > budget_seconds:
            break
    return {name: statistics.median(values) for name, values in timings.items()}


# --- the floors' SQL ------------------------------------------------------------------------------


def raw_sql(sql: str, kind: str) -> str:
    """SQL written with psycopg's ``%(name)s`` placeholders, for the connection's driver."""
    return sql if kind == "postgresql" else re.sub(r"%\((\w+)\)s", r":\1", sql)


def raw_time(value: dt.datetime, kind: str):
    """A UTC time as the column stores it: SQLite keeps naive text."""
    if kind == "postgresql":
        return value
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def urgency_sql(alias: str = "w") -> str:
    """``waits.queries.urgency_expression`` by hand (0 escalated … 3 on track)."""
    return (
        f"CASE WHEN {alias}.follow_ups >= %(followups)s OR {alias}.escalate_at <= %(now)s THEN 0 "
        f"WHEN {alias}.due_at <= %(now)s THEN 1 WHEN {alias}.warn_at <= %(now)s THEN 2 ELSE 3 END"
    )


#: The triage page's rows and counts: ``triage.service.triage`` by hand.
_WAITING_FROM = """
FROM waits w
JOIN candidates c ON c.id = w.candidate_id
JOIN positions p ON p.id = c.position_id
JOIN users u ON u.id = p.manager_id
WHERE w.closed_at IS NULL AND c.status = 'active'{mine}
"""
TRIAGE_ROWS_SQL = (
    "SELECT c.id, c.name, p.title, u.name, c.stage, w.reason, w.opened_at, w.due_at, w.promised_date,"
    f" w.follow_ups, {urgency_sql()} AS urgency{_WAITING_FROM}"
    "ORDER BY urgency, w.due_at, c.id LIMIT 50 OFFSET %(offset)s"
)
TRIAGE_COUNTS_SQL = f"SELECT {urgency_sql()} AS urgency, count(*){_WAITING_FROM}GROUP BY 1"
STATE_WORDS = ("escalated", "overdue", "due soon", "on track")
TRIAGE_TEMPLATE = jinja2.Environment(autoescape=True).from_string(
    "<ul>{% for u, n in counts %}<li>{{ states[u] }}: {{ n }}</li>{% endfor %}</ul>"
    '<form method="post" id="qa">{% for k, v in hidden.items() %}'
    '<input type="hidden" name="{{ k }}" value="{{ v }}">{% endfor %}</form>'
    '<table>{% for r in rows %}<tr data-candidate-id="{{ r[0] }}">'
    '<td><a href="/candidates/{{ r[0] }}">{{ r[1] }}</a></td>'
    "<td>{{ r[2] }} {{ r[3] }}</td><td>{{ r[4] }}</td><td>{{ r[5] }}</td><td>{{ r[6] }}</td>"
    "<td>{{ r[7] }}</td><td>{{ states[r[10]] }}</td><td>{{ r[8] or '' }}</td><td>{{ r[9] }}</td></tr>"
    "{% endfor %}</table>"
)


def triage_floor(
    connection, kind: str, manager_id: int | None, page: int, followups: int, hidden: dict | None = None
) -> str:
    """The triage page's work done by hand: two raw queries, a minimal Jinja table (and the
    hidden fields of its one-click form, if any)."""
    return triage_floor_rows(connection, kind, manager_id, page, followups, hidden)[1]


def triage_floor_rows(
    connection, kind: str, manager_id: int | None, page: int, followups: int, hidden: dict | None = None
) -> tuple[list, str]:
    """``triage_floor``, and the rows it shows."""
    mine = "" if manager_id is None else " AND p.manager_id = %(manager)s"
    params = {
        "now": raw_time(dt.datetime.now(dt.UTC), kind),
        "followups": followups,
        "manager": manager_id,
        "offset": (page - 1) * 50,
    }
    rows = connection.execute(raw_sql(TRIAGE_ROWS_SQL.format(mine=mine), kind), params).fetchall()
    counts = connection.execute(raw_sql(TRIAGE_COUNTS_SQL.format(mine=mine), kind), params).fetchall()
    html = TRIAGE_TEMPLATE.render(rows=rows, counts=sorted(counts), states=STATE_WORDS, hidden=hidden or {})
    return rows, html


#: The candidates page: ``waits.search.find_candidates`` by hand, the page of rows and, in the
#: same statement, the total (an uncorrelated subquery: counted once, as the page counts it).
SEARCH_SQL = """
SELECT c.id, c.name, c.email, p.title, u.name, c.stage, c.status,
       (SELECT min(f.opened_at) FROM waits f WHERE f.candidate_id = c.id) AS applied_at,
       w.due_at,
       (SELECT count(*) FROM candidates c JOIN positions p ON p.id = c.position_id
        WHERE c.search_key LIKE %(pattern)s ESCAPE '/'{mine}) AS total
FROM candidates c
JOIN positions p ON p.id = c.position_id
JOIN users u ON u.id = p.manager_id
LEFT JOIN waits w ON w.candidate_id = c.id AND w.closed_at IS NULL
WHERE c.search_key LIKE %(pattern)s ESCAPE '/'{mine}
ORDER BY lower(c.name), c.id
LIMIT 50
"""
SEARCH_TEMPLATE = jinja2.Environment(autoescape=True).from_string(
    "<p>{{ rows[0][9] if rows else 0 }} candidates</p>"
    '<table>{% for r in rows %}<tr><td><a href="/candidates/{{ r[0] }}">{{ r[1] }}</a><br>{{ r[2] }}</td>'
    "<td>{{ r[3] }}</td><td>{{ r[4] }}</td><td>{{ r[5] }}</td><td>{{ r[6] }}</td><td>{{ r[7] or '' }}</td>"
    "<td>{{ r[8] or '' }}</td></tr>{% endfor %}</table>"
)


def search_floor(connection, kind: str, text: str, manager_id: int | None) -> tuple[int, str]:
    """The candidates page's search done by hand: one raw query, a minimal Jinja table."""
    mine = "" if manager_id is None else " AND p.manager_id = %(manager)s"
    key = search_key(text.strip()).replace("/", "//").replace("%", "/%").replace("_", "/_")
    params = {"pattern": f"%{key}%", "manager": manager_id}
    rows = connection.execute(raw_sql(SEARCH_SQL.format(mine=mine), kind), params).fetchall()
    return (rows[0][9] if rows else 0), SEARCH_TEMPLATE.render(rows=rows)


def kilobytes(size: int) -> str:
    return f"{size / 1024:,.1f} KB"


# --- the scripts' command line and main loop ------------------------------------------------------


def add_database_options(parser) -> None:
    """``--databases`` and ``--database-url``, as every multi-database benchmark takes them."""
    parser.add_argument("--databases", nargs="+", choices=("sqlite", "postgresql"))
    parser.add_argument("--database-url", help="PostgreSQL server (default: $FEEDBACK_SLA_TEST_DATABASE_URL)")


def database_kinds(parser, args) -> tuple[str | None, list[str]]:
    """The PostgreSQL server (if any) and the databases to run on: both when a server is named."""
    server = server_url(args.database_url)
    kinds = args.databases or (["sqlite", "postgresql"] if server else ["sqlite"])
    if "postgresql" in kinds and not server:
        parser.error("postgresql needs --database-url or FEEDBACK_SLA_TEST_DATABASE_URL")
    return server, kinds


def spread(total: int, managers: int, first: int | None = None) -> list[int]:
    """Waiting candidates per manager: ``first`` for the benchmarked one (if given), the rest
    shared out evenly."""
    if first is None:
        return [total // managers + (i < total % managers) for i in range(managers)]
    return [first, *spread(total - first, managers - 1)]


def each_database(
    kinds: list[str], one: Callable[[str], list[str]], note: Callable[[], str] | None = None
) -> int:
    """Run ``one`` on each kind of database (it returns the targets it missed) with the app's
    instance folder in a temporary one, then report the misses; the exit code."""
    missed = []
    with tempfile.TemporaryDirectory() as instance:
        use_temporary_instance_folder(instance)
        for kind in kinds:
            extra = f", {note()}" if note else ""
            print(f"{kind}, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC{extra}", flush=True)
            missed += one(kind)
    return report_misses(missed)


def report_misses(missed: list[str]) -> int:
    """Print each missed target (or that all were met); the exit code: 1 if any was missed."""
    for problem in missed:
        print(f"MISSED {problem}")
    if not missed:
        print("every target met")
    return 1 if missed else 0
