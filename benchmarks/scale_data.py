"""A large organisation on PostgreSQL, built once and kept under its name for later runs.

``organisation(server, waits)`` returns the database of an organisation with ``waits`` waits
(100,000 or 1,000,000, or any multiple of 1,000), building it on the first call. Its shares, per
100,000 waits:

  * 200 managers with 3 positions each, time zones from New York to Tokyo; one position in three
    has autopilot on; one manager in fifty has ten times the candidates of the others;
  * 65,000 candidates: 40,000 waiting (an open wait each, 35,000 of them after an earlier wait
    closed by a status update), 25,000 decided (18,000 rejected, 2,000 hired, 5,000 withdrawn);
  * 60,000 closed waits, each closed by an event (an email sent or a stage moved), and a few
    closed without one (as waits closed before events named their closer);
  * 125,000 events, and a sent email for every wait an email closed (40,000);
  * autopilot in its steady state: the waits of autopilot positions already inside the lead time
    have had their updates, but for one in twenty, which the next run owes (the backlog).

Rows are written with COPY; deadlines come from ``waits.lifecycle.deadlines_for`` as for every wait
the app opens (opening times fall on a five-minute grid, so each is worked out once). The database
is named ``scale_<waits>`` and carries a comment with the time it was built for: measure with
that ``now`` (``built_at``), not the wall clock, so a database built yesterday reads the same.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from dataclasses import dataclass

import psycopg
import sqlalchemy as sa
from werkzeug.security import generate_password_hash

from benchmarks.common import (
    ADMIN_EMAIL,
    FIRST_NAMES,
    PASSWORD,
    SEARCH_TERM,
    TIME_ZONES,
    app_config,
    migrate,
    surnames,
)
from feedback_sla import create_app
from feedback_sla.candidates.models import PIPELINE
from feedback_sla.config import database_uri
from feedback_sla.database import db
from feedback_sla.metrics import rollup
from feedback_sla.settings import service as settings_service
from feedback_sla.text import search_key
from feedback_sla.waits.lifecycle import deadlines_for
from feedback_sla.waits.models import WaitReason

PER_UNIT = 100_000  # waits in one unit of the shares above
GRID = dt.timedelta(minutes=5)
MARK = "feedback-sla scale build"


@dataclass(frozen=True)
class Built:
    name: str
    uri: str  # for the app (SQLAlchemy)
    conninfo: str  # for psycopg
    waits: int
    managers: int
    built_at: dt.datetime
    admin_email: str = ADMIN_EMAIL

    def manager_email(self, i: int) -> str:
        return _manager_email(i)

    def raw(self):
        return psycopg.connect(self.conninfo, autocommit=True)


def _manager_email(i: int) -> str:
    return f"manager{i:04d}@example.com"


def _urls(server: str, name: str) -> tuple[str, str, str]:
    url = sa.engine.make_url(database_uri(server, ""))
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    conninfo = url.set(drivername="postgresql", database=name).render_as_string(hide_password=False)
    return admin, url.set(database=name).render_as_string(hide_password=False), conninfo


def organisation(server: str, waits: int, *, rebuild: bool = False, log=print) -> Built:
    """The organisation of ``waits`` waits on ``server``, built now if it is not there yet."""
    if waits % 1000:
        raise ValueError("waits: a multiple of 1,000")
    name = f"scale_{waits}"
    admin, uri, conninfo = _urls(server, name)
    managers = max(2, waits * 200 // PER_UNIT)
    with psycopg.connect(admin, autocommit=True) as conn:
        found = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s", (name,)
        ).fetchone()
        if found and found[0] and found[0].startswith(MARK) and not rebuild:
            built_at = dt.datetime.fromisoformat(found[0].removeprefix(MARK).strip())
            _upgrade(uri)
            return Built(name, uri, conninfo, waits, managers, built_at)
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    built_at = dt.datetime.now(dt.UTC).replace(microsecond=0)
    built = Built(name, uri, conninfo, waits, managers, built_at)
    app = create_app({**app_config_for(uri)})
    migrate(app)
    with app.app_context():
        settings = settings_service.load(db.session)
        db.engine.dispose()
    started = dt.datetime.now(dt.UTC)
    _Writer(built, settings).write()
    with app.app_context():  # the metrics page's counts of answered waits, as after an upgrade
        rollup.rebuild(db.session, settings)
        db.session.commit()
        db.engine.dispose()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"COMMENT ON DATABASE \"{name}\" IS '{MARK} {built_at.isoformat()}'")
    log(f"built {name}: {waits:,} waits in {(dt.datetime.now(dt.UTC) - started).total_seconds():.0f} s")
    return built


def _upgrade(uri: str) -> None:
    """The app's migrations newer than the build, if any; then the database is let go of (copies of
    it are made from it)."""
    app = create_app(app_config_for(uri))
    migrate(app)
    with app.app_context():
        db.engine.dispose()


def app_config_for(uri: str) -> dict:
    from benchmarks.common import Database

    return app_config(Database("postgresql", uri))


class _Writer:
    """The rows of one organisation, written table by table with COPY."""

    def __init__(self, built: Built, settings) -> None:
        self.built, self.settings = built, settings
        self.rng = random.Random(23)
        self.units = built.waits / PER_UNIT
        self.now = built.built_at
        self.schedules: dict[tuple, dict] = {}
        self.last_names = surnames()
        positions_per_manager = 3
        self.positions = [
            (m * positions_per_manager + j + 1, m + 2, TIME_ZONES[(m + j) % 5], j == 0)
            for m in range(built.managers)
            for j in range(positions_per_manager)
        ]
        # One manager in fifty has ten times the others' candidates: weights per position.
        self.weights = [10 if (p[1] - 2) % 50 == 0 else 1 for p in self.positions]

    def write(self) -> None:
        with psycopg.connect(self.built.conninfo) as conn:
            self._users(conn)
            self._positions(conn)
            self._people(conn)
            for table in ("users", "positions", "candidates", "events", "waits", "outbox_messages"):
                conn.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
                )
            conn.commit()
        with psycopg.connect(self.built.conninfo, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")

    def _users(self, conn) -> None:
        password_hash = generate_password_hash(PASSWORD)
        columns = "id, email, name, password_hash, role, time_zone, digest_hour, digest_enabled, "
        columns += "digest_empty, active, session_version, created_at"
        with conn.cursor().copy(f"COPY users ({columns}) FROM STDIN") as copy:
            copy.write_row((1, ADMIN_EMAIL, "Ada Admin", password_hash, "admin", "Europe/Berlin", 8,
                            True, False, True, 1, self.now))  # fmt: skip
            for m in range(self.built.managers):
                copy.write_row((m + 2, _manager_email(m), f"Manager {m:04d}", password_hash, "manager",
                                TIME_ZONES[m % 5], 8, True, False, True, 1, self.now))  # fmt: skip

    def _positions(self, conn) -> None:
        titles = ("Backend", "Data", "Design", "Sales", "Support")
        columns = "id, title, manager_id, time_zone, policy_overrides, is_open, autopilot, created_at"
        with conn.cursor().copy(f"COPY positions ({columns}) FROM STDIN") as copy:
            for pid, manager, tz, autopilot in self.positions:
                title = f"{titles[pid % 5]} role {manager - 2:04d}-{pid % 3}"
                copy.write_row((pid, title, manager, tz, "{}", True, autopilot, self.now))

    def _schedule(self, reason: WaitReason, opened: dt.datetime, position) -> dict:
        key = (reason, opened, position[2])
        found = self.schedules.get(key)
        if found is None:
            policy = _Policy(position[2])
            found = self.schedules[key] = deadlines_for(reason, opened, policy, self.settings).columns()
        return found

    def _opened(self, days_before: float) -> dt.datetime:
        back = dt.timedelta(days=days_before * self.rng.random())
        at = self.now - back
        return at - dt.timedelta(seconds=at.timestamp() % GRID.total_seconds())

    def _people(self, conn) -> None:
        cur = conn.cursor()
        n_waiting, n_decided = int(40_000 * self.units), int(25_000 * self.units)
        # One COPY at a time per connection: each table's rows are gathered, then written in chunks.
        self.rows = {"candidates": [], "events": [], "waits": [], "outbox_messages": []}
        self.ids = {"events": 0, "waits": 0, "outbox_messages": 0}
        for c in range(1, n_waiting + n_decided + 1):
            self._candidate(c, waiting=c <= n_waiting)
            if c % 20_000 == 0:
                self._flush(cur)
        self._flush(cur)

    def _flush(self, cur) -> None:
        copies = {
            "candidates": "id, name, email, position_id, stage, status, created_at, search_key, decided_at",
            "events": "id, candidate_id, kind, data, occurred_at, recorded_at",
            "waits": "id, candidate_id, reason, opened_at, warn_at, due_at, escalate_at, policy_days,"
            " follow_ups, autopilot_updates, closed_at, opened_by_event_id, closed_by_event_id",
            "outbox_messages": "id, candidate_id, kind, to_name, to_address, reply_to_name, reply_to_address,"
            " subject, text_body, html_body, message_id, idempotency_key, status, previous_status,"
            " promised_date, reasons, queued_at, send_after, next_attempt_at, attempts, sent_at, autopilot,"
            " reply_token",
        }
        for table, columns in copies.items():
            with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in self.rows[table]:
                    copy.write_row(row)
            self.rows[table].clear()

    def _event(self, candidate_id: int, kind: str, data: dict, at: dt.datetime) -> int:
        self.ids["events"] += 1
        self.rows["events"].append((self.ids["events"], candidate_id, kind, json.dumps(data), at, at))
        return self.ids["events"]

    def _wait(self, c, reason, opened, position, opened_by, *, closed=None, closed_by=None, updates=0):
        self.ids["waits"] += 1
        s = self._schedule(reason, opened, position)
        self.rows["waits"].append(
            (self.ids["waits"], c, reason.value, opened, s["warn_at"], s["due_at"], s["escalate_at"],
             s["policy_days"], 0, updates, closed, opened_by, closed_by)
        )  # fmt: skip
        return s

    def _email(self, c, name, email, manager, kind, at, promised=None, autopilot=False) -> None:
        self.ids["outbox_messages"] += 1
        i = self.ids["outbox_messages"]
        body = f"Dear {name},\n\nthank you for your patience. We will write again soon.\n"
        self.rows["outbox_messages"].append(
            (i, c, kind, name, email, f"Manager {manager - 2:04d}", _manager_email(manager - 2),
             "About your application", body, f"<p>{body}</p>", f"<scale.{i}@example.com>", f"scale:{i}",
             "sent", "active", promised, "[]", at, at, at, 1, at, autopilot, f"{i:032x}")
        )  # fmt: skip

    def _candidate(self, c: int, *, waiting: bool) -> None:
        rng = self.rng
        position = rng.choices(self.positions, self.weights)[0]
        name = f"{rng.choice(FIRST_NAMES)} {rng.choice(self.last_names)}"
        email = f"{search_key(name).replace(' ', '.')}.{c}@example.com".encode("ascii", "ignore").decode()
        stage = rng.choice(PIPELINE[:4])
        reason = WaitReason.APPLICATION if stage in PIPELINE[:2] else WaitReason.DECISION
        created = self._opened(60 if waiting else 120) - dt.timedelta(days=21 if waiting else 0)
        created_event = self._event(c, "created", {"stage": stage}, created)
        manager = position[1]
        if waiting:
            status, decided = "active", None
            opened, opened_by = created, created_event
            if rng.random() < 35 / 40:  # an earlier wait, closed by a status update
                moved = self._opened(21)
                sent = self._event(c, "email_sent", {"kind": "update"}, moved)
                self._wait(c, reason, opened, position, opened_by, closed=moved, closed_by=sent)
                self._email(c, name, email, manager, "update", moved)
                opened, opened_by = moved, sent
            schedule = self._schedule(reason, opened, position)
            updates = 0
            if position[3] and schedule["due_at"] <= self.now + dt.timedelta(hours=12):
                updates = 0 if rng.random() < 0.05 else 2  # the backlog, and the handled
            self._wait(c, reason, opened, position, opened_by, updates=updates)
        else:
            status = rng.choices(("rejected", "hired", "withdrawn"), (18, 2, 5))[0]
            decided = created + dt.timedelta(days=rng.uniform(1, 30))
            if status == "rejected":
                closer = self._event(c, "email_sent", {"kind": "rejection"}, decided)
                self._email(c, name, email, manager, "rejection", decided)
            else:
                closer = self._event(c, "stage_moved", {"from": stage, "to": "offer"}, decided)
            if rng.random() < 0.01:
                closer = None  # closed before events named their closer
            self._wait(c, reason, created, position, created_event, closed=decided, closed_by=closer)
        self.rows["candidates"].append(
            (c, name, email, position[0], stage, status, created, search_key(name, email), decided)
        )


@dataclass(frozen=True)
class _Policy:
    time_zone: str
    policy_overrides: dict | None = None


def search_term() -> str:
    return SEARCH_TERM
