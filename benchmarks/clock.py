"""Response clock benchmark on SQLite: opening waits in bulk, and "who is overdue now" for one manager.

Builds a fresh database through the app's migrations in a temporary folder: 100,000 candidates with
open waits over 50 positions in 5 time zones, one position and 2,000 candidates per manager, holiday
calendar US. Prints plain figures and exits non-zero if a target is missed. Every timing is given on
the wall clock and as this process's CPU time; on a machine busy with other work only the wall clock
grows, and the targets are then judged on CPU time (the output says so).

    /work/venv/bin/python benchmarks/clock.py [--candidates N] [--runs N]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import Select, select

from benchmarks.common import migrate
from feedback_sla import create_app
from feedback_sla.accounts.models import Role, User
from feedback_sla.candidates.models import Candidate, Status
from feedback_sla.database import db
from feedback_sla.positions.models import Position
from feedback_sla.settings import service as settings_service
from feedback_sla.testing.bulk import NewWait, open_waits_bulk
from feedback_sla.waits.models import Wait, WaitReason
from feedback_sla.waits.queries import Filters, waiting_query

TIME_ZONES = ("America/New_York", "America/Los_Angeles", "Europe/Berlin", "Asia/Kolkata", "Asia/Tokyo")
POSITIONS = 50
#: "Now" for every query: the Tuesday after US Thanksgiving 2026, so deadlines cross a holiday.
NOW = dt.datetime(2026, 12, 1, 15, 0, tzinfo=dt.UTC)
#: Waits opened over the three weeks before NOW: a bit over half of them are overdue.
OPENED_WITHIN = dt.timedelta(days=21)
TARGET_OPENED_PER_SECOND = 20_000
TARGET_RATIO = 5.0

#: The app's overdue query written by hand for the stdlib driver; SQLite stores UTC as naive text.
RAW_OVERDUE_SQL = """
SELECT waits.id, waits.candidate_id, waits.due_at
FROM waits
JOIN candidates ON waits.candidate_id = candidates.id
JOIN positions ON candidates.position_id = positions.id
WHERE waits.closed_at IS NULL AND waits.due_at <= ? AND positions.manager_id = ?
  AND candidates.status = 'active'
ORDER BY waits.due_at
"""


def sqlite_text(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


@dataclass
class Timings:
    """Wall-clock and CPU seconds of repeated runs: CPU time is what other busy processes cannot inflate."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def measure(self, run):
        wall, cpu = time.perf_counter(), time.process_time()
        result = run()
        self.cpu.append(time.process_time() - cpu)
        self.wall.append(time.perf_counter() - wall)
        return result

    @property
    def wall_ms(self) -> float:
        return statistics.median(self.wall) * 1000

    @property
    def cpu_ms(self) -> float:
        return statistics.median(self.cpu) * 1000


def machine_load() -> str:
    return f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"


def verdict(wall_ok: bool, cpu_ok: bool) -> str:
    """Met on both clocks, or on CPU time only while other processes slow the wall clock."""
    if wall_ok and cpu_ok:
        return "met"
    if cpu_ok:
        return f"met on CPU time; wall clock slowed by other processes ({machine_load()})"
    return "MISSED"


def seed_organisation(candidates: int) -> list[tuple[int, int, str, dict]]:
    """Managers, positions and candidates (untimed); returns (candidate id, manager id, zone, overrides)."""
    session = db.session
    per_position = candidates // POSITIONS
    settings_service.store(session, "holiday_calendar", "US")
    managers = [
        User(
            email=f"manager{i:02d}@example.com",
            name=f"Manager {i:02d}",
            password_hash="!",  # noqa: S106  (no password: the benchmark never signs in)
            role=Role.MANAGER,
            time_zone=TIME_ZONES[i % len(TIME_ZONES)],
        )
        for i in range(POSITIONS)
    ]
    session.add_all(managers)
    session.flush()
    positions = [
        Position(
            title=f"Position {i:02d}",
            manager_id=manager.id,
            time_zone=manager.time_zone,
            # Every fifth position answers applications within 3 business days instead of 5.
            policy_overrides={"application": 3} if i % 5 == 0 else {},
        )
        for i, manager in enumerate(managers)
    ]
    session.add_all(positions)
    session.flush()
    session.execute(
        sa.insert(Candidate.__table__),
        [
            {
                "name": f"Candidate {p.id}-{n}",
                "email": f"candidate{p.id}-{n}@example.org",
                "position_id": p.id,
                "stage": "applied",
                "status": Status.ACTIVE,
                "created_at": NOW - OPENED_WITHIN,
            }
            for p in positions
            for n in range(per_position)
        ],
    )
    session.commit()
    rows = session.execute(
        sa.select(
            Candidate.id, Position.manager_id, Position.time_zone, Position.policy_overrides, Position.id
        )
        .join(Position, Candidate.position_id == Position.id)
        .order_by(Candidate.id)
    )
    return [tuple(row) for row in rows]


def overdue_query(now: dt.datetime, manager_id: int) -> Select:
    """A manager's open waits past their deadline.

    SQLite and PostgreSQL reach them through the manager's positions and each candidate's one open
    wait (a few thousand index lookups); the open-waits due_at index serves the organisation-wide
    question instead (``waiting_query`` with ``overdue_only``), measured here beside it.
    """
    return (
        select(Wait.id, Wait.candidate_id, Wait.due_at)
        .join(Candidate, Wait.candidate_id == Candidate.id)
        .join(Position, Candidate.position_id == Position.id)
        .where(
            Wait.closed_at.is_(None),
            Wait.due_at <= now,
            Position.manager_id == manager_id,
            Candidate.status == Status.ACTIVE,
        )
        .order_by(Wait.due_at)
    )


def planned_waits(candidates: list[tuple[int, int, str, dict, int]], seed: int) -> list[NewWait]:
    """One open wait per candidate: mostly applications, some decisions and follow-ups, some promises."""
    rng = random.Random(seed)
    reasons = [WaitReason.APPLICATION] * 7 + [WaitReason.DECISION] * 2 + [WaitReason.FOLLOW_UP]
    waits = []
    for candidate_id, _manager_id, time_zone, overrides, position_id in candidates:
        opened_at = NOW - dt.timedelta(seconds=rng.randrange(int(OPENED_WITHIN.total_seconds())))
        promised = None
        if rng.random() < 0.1:
            promised = opened_at.date() + dt.timedelta(days=rng.randrange(1, 10))
        waits.append(
            NewWait(
                candidate_id=candidate_id,
                reason=rng.choice(reasons),
                opened_at=opened_at,
                time_zone=time_zone,
                policy_overrides=overrides,
                promised_date=promised,
                position_id=position_id,
            )
        )
    return waits


def explain(connection: sqlite3.Connection, sql: str) -> list[str]:
    return [row[3] for row in connection.execute("EXPLAIN QUERY PLAN " + sql)]


def literal_sql(query) -> str:
    """The statement SQLAlchemy sends, with its parameters rendered in place (for EXPLAIN)."""
    return str(query.compile(db.engine, compile_kwargs={"literal_binds": True}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=50, help="runs per query timing (median)")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="feedback-sla-bench-") as folder:
        os.environ["FEEDBACK_SLA_INSTANCE_PATH"] = folder
        path = Path(folder) / "bench.sqlite3"
        app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "SECRET_KEY": "benchmark-only"})
        migrate(app)
        with app.app_context():
            try:
                return run(args, path)
            finally:
                db.session.remove()
                db.engine.dispose()


def run(args, path: Path) -> int:
    failures = []
    verdicts = []
    candidates = seed_organisation(args.candidates)
    settings = settings_service.load(db.session)
    per_manager: dict[int, int] = {}
    for _cid, manager_id, _tz, _ov, _position in candidates:
        per_manager[manager_id] = per_manager.get(manager_id, 0) + 1
    manager_id = min(per_manager)
    manager = db.session.get(User, manager_id)
    waits = planned_waits(candidates, args.seed)

    print("feedback-sla response clock benchmark")
    print(
        f"  Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
        f"SQLAlchemy {sa.__version__}, {machine_load()}"
    )
    print(
        f"  {len(candidates):,} candidates with an open wait, {len(per_manager)} positions with one "
        f"manager each, {len(TIME_ZONES)} time zones ({', '.join(TIME_ZONES)})"
    )
    print(f"  holiday calendar {settings.holiday_calendar}, now = {NOW.isoformat()}")
    print()

    # --- Opening waits -------------------------------------------------------------------------------
    timing = Timings()
    opened = timing.measure(lambda: open_waits_bulk(db.session, waits, settings))
    timing.measure(db.session.commit)
    wall, cpu = sum(timing.wall), sum(timing.cpu)
    print("Opening waits")
    print("  timed: open_waits_bulk (policy days and clock.deadlines for every wait,")
    print("  then one INSERT of all rows into waits through SQLAlchemy) and the COMMIT")
    print(f"  waits opened:             {opened:,} in {wall:.2f} s wall clock, {cpu:.2f} s CPU")
    print(f"  waits opened per second:  {opened / wall:,.0f} wall clock, {opened / cpu:,.0f} CPU time")
    result = verdict(opened / wall >= TARGET_OPENED_PER_SECOND, opened / cpu >= TARGET_OPENED_PER_SECOND)
    verdicts.append(result)
    print(f"  target >= {TARGET_OPENED_PER_SECOND:,} per second: {result}")
    if result == "MISSED":
        failures.append("waits opened per second")
    print()

    # --- Overdue now for one manager ----------------------------------------------------------------
    raw = sqlite3.connect(path)
    raw_params = (sqlite_text(NOW), manager_id)

    def app_query():
        return db.session.execute(overdue_query(NOW, manager_id)).all()

    def raw_query():
        return raw.execute(RAW_OVERDUE_SQL, raw_params).fetchall()

    app_query(), raw_query()  # warm both caches
    app, raw_sql = Timings(), Timings()
    for _ in range(args.runs):  # interleaved, so both see the same machine
        app_rows = app.measure(app_query)
        raw_rows = raw_sql.measure(raw_query)
    same = sorted(r.id for r in app_rows) == sorted(r[0] for r in raw_rows)
    wall_ratio, cpu_ratio = app.wall_ms / raw_sql.wall_ms, app.cpu_ms / raw_sql.cpu_ms
    print(
        f"Overdue now for one manager ({manager.email}, {per_manager[manager_id]:,} candidates), "
        f"median of {args.runs} runs"
    )
    print(
        f"  rows: {len(app_rows):,} from the app, {len(raw_rows):,} from raw SQL, "
        f"{'the same waits' if same else 'DIFFERENT waits'}"
    )
    print("                                            wall clock      CPU")
    print(f"  app (overdue_query, db.session):          {app.wall_ms:7.3f} ms  {app.cpu_ms:7.3f} ms")
    print(f"  raw SQL (sqlite3 module):                 {raw_sql.wall_ms:7.3f} ms  {raw_sql.cpu_ms:7.3f} ms")
    print(f"  ratio app / raw:                          {wall_ratio:7.2f}x    {cpu_ratio:7.2f}x")
    result = verdict(wall_ratio <= TARGET_RATIO, cpu_ratio <= TARGET_RATIO)
    verdicts.append(result)
    print(f"  target <= {TARGET_RATIO:g}x: {result}")
    if result == "MISSED":
        failures.append("overdue query ratio")
    if not same:
        failures.append("same rows")
    print()

    # --- Query plans --------------------------------------------------------------------------------
    print("Query plan: overdue now for one manager (overdue_query)")
    for line in explain(raw, literal_sql(overdue_query(NOW, manager_id))):
        print(f"  {line}")
    forced = RAW_OVERDUE_SQL.replace("FROM waits", "FROM waits INDEXED BY ix_waits_open_due")
    forced_timing = Timings()
    for _ in range(5):
        forced_rows = forced_timing.measure(lambda: raw.execute(forced, raw_params).fetchall())
    print(
        f"  (the same query forced through ix_waits_open_due walks every overdue wait of the"
        f" organisation: {forced_timing.wall_ms:.1f} ms, {len(forced_rows):,} rows)"
    )
    print()

    org_query = waiting_query(NOW, settings, Filters(overdue_only=True))
    org_timing = Timings()
    for _ in range(3):
        org_rows = org_timing.measure(lambda: db.session.execute(org_query).all())
    print(
        "Query plan: overdue now across the organisation "
        "(queries.waiting_query with overdue_only, the due_at index)"
    )
    plan = explain(raw, literal_sql(org_query))
    for line in plan:
        print(f"  {line}")
    print(f"  {len(org_rows):,} rows in {org_timing.wall_ms:.1f} ms (median of 3 runs)")
    if not any("ix_waits_open_due" in line for line in plan):
        print("  ix_waits_open_due is not used")
        failures.append("due_at index")
    raw.close()
    print()

    if failures:
        print("MISSED: " + ", ".join(failures))
        return 1
    if all(v == "met" for v in verdicts):
        print("All targets met.")
    else:
        print("All targets met on CPU time; run again on an idle machine for the wall-clock figures.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
