"""An organisation-wide settings change: `settings set policy.application` at 100,000 and 400,000
open waits, its time and its memory.

For each size and database (SQLite; PostgreSQL too when FEEDBACK_SLA_TEST_DATABASE_URL or
--database-url names a server), on a database of its own, it builds an organisation in bulk
(``benchmarks.common.build_organisation``: one manager per 200 open waits, three positions each,
time zones from Los Angeles to Tokyo, US public holidays) whose waits are mostly closed history, as
in a real one: 1.5 closed waits per open wait by default, older, ids in the order the waits opened
(400,000 open waits sit among 1,000,000). Then, each in a fresh process of its own, ``--runs``
times in turn:

- the change: ``settings.service.update`` with the arguments ``feedback-sla settings set`` gives it
  (``policy.application`` to 6, then to 7 and so on, so that every open application wait moves
  each time), and the commit. Timed, with its memory: its peak RSS (VmHWM, started again just
  before the change) and how far that is above its RSS just before;
- the floor: the whole job by hand: the same open waits read by one raw query on the plain driver
  (stdlib sqlite3 or psycopg), ``waits.lifecycle.deadlines_for`` called on each in a plain loop and
  the moved ones written by one raw executemany UPDATE (rolled back). A single SQL UPDATE is no
  floor: deadlines follow business-day calendars worked out in Python;
- for comparison only, the deadlines alone: the floor without its writes.

Times are the best of the runs, on the wall clock and in CPU time (this process's, plus the
PostgreSQL backend's when the server runs on this machine: the writes are its work). It prints each
figure, the time per 1,000 open waits and the ratio to the floor's, and the growth of memory from
the smallest size to the largest. Targets: the change within 2.5 times the floor's time at every
size (met on CPU time counts while other processes slow the wall clock, and says so), and its
memory at the largest size at most 1.5 times that at the smallest. Exits non-zero when one is
missed.

    .venv/bin/python benchmarks/recompute.py [--sizes 100000 400000] [--databases sqlite postgresql]
        [--runs 3]

``measure(database_url_or_kind, open_waits)`` builds one organisation and measures it (a dict of
figures), for other scripts.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from types import SimpleNamespace

import sqlalchemy as sa

from benchmarks.common import (
    Database,
    add_database_options,
    app_config,
    build_organisation,
    database_kinds,
    each_database,
    fresh_database,
    migrate,
    raw_sql,
    raw_time,
    server_url,
    spread,
    use_temporary_instance_folder,
)
from feedback_sla import create_app
from feedback_sla.database import db
from feedback_sla.settings import service as settings_service
from feedback_sla.waits.lifecycle import deadlines_for
from feedback_sla.waits.models import WaitReason

#: Tuesday 1 December 2026, 15:00 UTC: the waits opened over the three weeks before, Thanksgiving
#: among them.
NOW = dt.datetime(2026, 12, 1, 15, 0, tzinfo=dt.UTC)
KEY = "policy.application"
VALUES = ("6", "7", "8")
CALENDAR = "US"
WAITING_PER_MANAGER = 200
CLOSED_PER_OPEN = 1.5
#: Closed waits opened this long before the open wait they are copied from.
HISTORY = dt.timedelta(days=40)
TARGET_RATIO = 2.5
TARGET_MEMORY_GROWTH = 1.5

#: The floor's query: the open waits and their positions' zone and overrides, as the change reads them.
FLOOR_SQL = """
SELECT w.id, w.reason, w.opened_at, w.promised_date, p.time_zone, p.policy_overrides
FROM waits w
JOIN candidates c ON c.id = w.candidate_id
JOIN positions p ON p.id = c.position_id
WHERE w.closed_at IS NULL
"""
#: The whole job by hand, for comparison: the old deadlines read too, the moved ones written.
FLOOR_WRITE_SQL = FLOOR_SQL.replace(
    "p.policy_overrides", "p.policy_overrides, w.policy_days, w.warn_at, w.due_at, w.escalate_at"
)
FLOOR_KEYS = ("policy_days", "warn_at", "due_at", "escalate_at", "id")
FLOOR_UPDATE_SQL = (
    "UPDATE waits SET policy_days = %(policy_days)s, warn_at = %(warn_at)s, due_at = %(due_at)s,"
    " escalate_at = %(escalate_at)s WHERE id = %(id)s"
)


# --- building ------------------------------------------------------------------------------------


def build(database: Database, open_waits: int, closed_per_open: float) -> int:
    """The organisation, with its closed history; how many closed waits it has."""
    app = create_app(app_config(database))
    migrate(app)
    with app.app_context():
        settings_service.store(db.session, "holiday_calendar", CALENDAR)
        db.session.commit()
    managers = max(1, open_waits // WAITING_PER_MANAGER)
    build_organisation(app, spread(open_waits, managers), NOW)
    closed = int(open_waits * closed_per_open)
    with app.app_context():
        _add_history(open_waits, closed)
        db.session.remove()
        db.engine.dispose()
    return closed


def _add_history(open_waits: int, closed: int) -> None:
    """``closed`` closed waits of the same candidates, older, with ids 1 to ``closed``: the open
    waits move up past them, numbered in the order they opened (nothing refers to a wait's id)."""
    postgresql = db.engine.dialect.name == "postgresql"
    offset = closed + open_waits

    def earlier(column: str, days: int = HISTORY.days) -> str:
        if postgresql:
            return f"{column} - interval '{days} days'"
        return f"datetime({column}, '-{days} days')"

    columns = "id, candidate_id, reason, opened_at, warn_at, due_at, escalate_at, policy_days, follow_ups"
    copied = (
        f"candidate_id, reason, {earlier('opened_at')}, {earlier('warn_at')}, {earlier('due_at')}, "
        f"{earlier('escalate_at')}, policy_days, 0, {earlier('opened_at', HISTORY.days - 3)}"
    )
    with db.engine.begin() as conn:
        # Ids in the order the waits opened, as a real organisation's are.
        conn.exec_driver_sql(
            "UPDATE waits SET id = ranked.new_id FROM (SELECT id AS old_id,"
            f" {offset} + row_number() OVER (ORDER BY opened_at, id) AS new_id FROM waits) AS ranked"
            " WHERE waits.id = ranked.old_id"
        )
        for copy in range(-(-closed // open_waits)):  # each open wait copied once per round
            new_id = f"id - {offset} + {copy * open_waits}"
            conn.exec_driver_sql(
                f"INSERT INTO waits ({columns}, closed_at) SELECT {new_id}, {copied} FROM waits"
                f" WHERE id > {offset} AND {new_id} <= {closed}"
            )
        if postgresql:
            conn.exec_driver_sql(
                "SELECT setval(pg_get_serial_sequence('waits', 'id'), (SELECT max(id) FROM waits))"
            )
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if postgresql:
            conn.exec_driver_sql("VACUUM ANALYZE waits")
        else:
            conn.exec_driver_sql("ANALYZE")
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


# --- the measured processes ---------------------------------------------------------------------


class Clocks:
    """Wall time, and CPU time: this process's, plus the PostgreSQL backend's serving ``connection``
    when the server runs on this machine (its /proc entry readable), since the writes are its work.
    CPU time is what other busy processes on a shared machine cannot inflate."""

    def __init__(self, backend_pid: int | None = None) -> None:
        self.stat = f"/proc/{backend_pid}/stat" if backend_pid else None
        if self.stat and not os.access(self.stat, os.R_OK):
            self.stat = None
        self.wall, self.cpu = time.perf_counter(), self._cpu()

    def _cpu(self) -> float:
        cpu = time.process_time()
        if self.stat:
            with open(self.stat) as stat:
                utime, stime = stat.read().rsplit(")", 1)[1].split()[11:13]
            cpu += (int(utime) + int(stime)) / os.sysconf("SC_CLK_TCK")
        return cpu

    def read(self) -> dict:
        return {"seconds": time.perf_counter() - self.wall, "cpu_seconds": self._cpu() - self.cpu}


def _memory_kb(field: str) -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field + ":"))


def _reset_peak() -> None:
    """Start this process's peak RSS (VmHWM) again from its RSS now, where Linux allows it."""
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
    except OSError:
        pass


def _backend_pid(connection) -> int | None:
    if connection.dialect.name != "postgresql":
        return None
    return connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()


def child_change(uri: str, value: str) -> dict:
    """The settings change as the command makes it, in this fresh process: times and memory."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": uri, "SECRET_KEY": "benchmark-only", "COMMAND_LINE": True})
    with app.app_context():
        settings_service.load(db.session)  # connected, the settings read once: untimed
        backend = _backend_pid(db.session.connection())
        statements = []
        sa.event.listen(db.engine, "before_cursor_execute", lambda *args: statements.append(1))
        gc.collect()
        before = _memory_kb("VmRSS")
        _reset_peak()
        clocks = Clocks(backend)
        update = settings_service.update(
            db.session, {KEY: value}, recompute=KEY in settings_service.DEADLINE_KEYS, config=app.config
        )
        db.session.commit()
        times = clocks.read()
        peak = _memory_kb("VmHWM")
    return {
        **times,
        "rss_before_mb": before / 1024,
        "peak_rss_mb": peak / 1024,
        "growth_mb": max(peak - before, 0) / 1024,
        "moved": update.recomputed.changed,
        "new_deadlines": update.recomputed.due,
        "statements": len(statements),
    }


def child_floor(kind: str, uri: str, value: str, write: str = "") -> dict:
    """The floor in this fresh process: one raw query, ``deadlines_for`` on each row. With
    ``write``, the hand-written whole job for comparison: the old deadlines read too, and the moved
    ones written by one executemany UPDATE (rolled back)."""
    database = _database(kind, uri)
    app = create_app({"SQLALCHEMY_DATABASE_URI": uri, "SECRET_KEY": "benchmark-only", "COMMAND_LINE": True})
    with app.app_context():
        settings = dataclasses.replace(settings_service.load(db.session), policy_application=int(value))
        db.session.remove()
        db.engine.dispose()
    connection = database.raw()
    if kind == "postgresql":
        connection.autocommit = False
    backend = connection.execute("SELECT pg_backend_pid()").fetchone()[0] if kind == "postgresql" else None
    parse_time = dt.datetime.fromisoformat
    parse_date = dt.date.fromisoformat
    overrides: dict[str, dict] = {}
    moved = []
    clocks = Clocks(backend)
    count = 0
    for wait_id, reason, opened_at, promised, time_zone, policy, *old in connection.execute(
        FLOOR_WRITE_SQL if write else FLOOR_SQL
    ):
        if kind == "sqlite":
            opened_at = parse_time(opened_at + "+00:00")
            promised = parse_date(promised) if promised else None
            policy = overrides.get(policy) or overrides.setdefault(policy, json.loads(policy))
        position = SimpleNamespace(time_zone=time_zone, policy_overrides=policy)
        schedule = deadlines_for(WaitReason(reason), opened_at, position, settings, promised)
        count += 1
        if write:
            times = schedule.times
            new = [
                schedule.policy_days,
                *(raw_time(t, kind) for t in (times.warn_at, times.due_at, times.escalate_at)),
            ]
            if new != old:
                moved.append((*new, wait_id))
    if moved:
        rows = [dict(zip(FLOOR_KEYS, row, strict=True)) for row in moved]
        connection.cursor().executemany(raw_sql(FLOOR_UPDATE_SQL, kind), rows)
    times = clocks.read()
    connection.rollback()
    if write and kind == "postgresql":  # the change that runs next finds no dead rows of ours
        connection.autocommit = True
        connection.execute("VACUUM waits")
    connection.close()
    return {**times, "rows": count, "moved": len(moved)}


def _database(kind: str, uri: str) -> Database:
    if kind == "sqlite":
        return Database("sqlite", uri, path=uri.removeprefix("sqlite:///"))
    url = sa.engine.make_url(uri).set(drivername="postgresql")
    return Database("postgresql", uri, conninfo=url.render_as_string(hide_password=False))


def _in_child(*args: str) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, "--child", *args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:1])} failed: {done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- one organisation ----------------------------------------------------------------------------


def measure(
    database_url_or_kind: str, open_waits: int, *, runs: int = 3, closed_per_open: float = CLOSED_PER_OPEN
) -> dict:
    """Build an organisation of ``open_waits`` open waits on a fresh database and measure the
    change, its floor and the hand-written whole job (the best of ``runs`` each, interleaved).

    ``database_url_or_kind``: "sqlite" (a temporary file), "postgresql" (a new database on the
    server FEEDBACK_SLA_TEST_DATABASE_URL names) or a PostgreSQL server's URL (a new database there,
    dropped afterwards). Times are in seconds, memory in MB; ``ratio`` is the change's wall time
    over the floor's, ``cpu_ratio`` the same in CPU time.
    """
    kind, server = _kind_and_server(database_url_or_kind)
    with tempfile.TemporaryDirectory() as instance:
        if not os.environ.get("FEEDBACK_SLA_INSTANCE_PATH"):
            use_temporary_instance_folder(instance)
        with fresh_database(kind, f"recompute{open_waits}", server) as database:
            started = time.perf_counter()
            closed = build(database, open_waits, closed_per_open)
            built = time.perf_counter() - started
            changes, floors, by_hand = [], [], []
            for run in range(runs):
                value = VALUES[run % len(VALUES)]
                floors.append(_in_child("floor", kind, database.uri, value))
                by_hand.append(_in_child("floor", kind, database.uri, value, "write"))
                changes.append(_in_child("change", database.uri, value))

    def best(figures: list[dict], clock: str = "seconds") -> float:
        return min(f[clock] for f in figures)

    return {
        "database": kind,
        "open_waits": open_waits,
        "closed_waits": closed,
        "build_seconds": built,
        "seconds": best(changes),
        "cpu_seconds": best(changes, "cpu_seconds"),
        "ms_per_1000": best(changes) * 1e6 / open_waits,
        "moved": changes[0]["moved"],
        "new_deadlines": changes[0]["new_deadlines"],
        "statements": changes[0]["statements"],
        "same_moved": all(f["moved"] == changes[0]["moved"] > 0 for f in changes + by_hand),
        "rss_before_mb": changes[0]["rss_before_mb"],
        "growth_mb": max(f["growth_mb"] for f in changes),
        "peak_rss_mb": max(f["peak_rss_mb"] for f in changes),
        "floor_seconds": best(floors),
        "floor_cpu_seconds": best(floors, "cpu_seconds"),
        "floor_ms_per_1000": best(floors) * 1e6 / open_waits,
        "floor_rows": floors[0]["rows"],
        "by_hand_seconds": best(by_hand),
        "by_hand_cpu_seconds": best(by_hand, "cpu_seconds"),
        "ratio": best(changes) / best(by_hand),
        "cpu_ratio": best(changes, "cpu_seconds") / best(by_hand, "cpu_seconds"),
    }


def _kind_and_server(given: str) -> tuple[str, str | None]:
    if given == "sqlite":
        return "sqlite", None
    if given == "postgresql":
        server = server_url(None)
        if not server:
            raise ValueError("postgresql needs FEEDBACK_SLA_TEST_DATABASE_URL, or pass the server's URL")
        return "postgresql", server
    if given.startswith(("postgresql", "postgres:")):
        return "postgresql", given
    raise ValueError(f"{given!r} is neither sqlite, postgresql nor a PostgreSQL URL")


# --- the script ------------------------------------------------------------------------------------


def show(f: dict) -> None:
    total = f["open_waits"] + f["closed_waits"]
    print(f"  {f['open_waits']:>9,} open waits among {total:,} (built in {f['build_seconds']:.0f} s)")
    print(
        f"    change:  {f['seconds']:7.2f} s wall, {f['cpu_seconds']:6.2f} s CPU, {f['ms_per_1000']:6.1f} ms"
        f" per 1,000 open waits; {f['moved']:,} waits moved ({f['new_deadlines']:,} new deadlines),"
        f" {f['statements']:,} statements"
    )
    print(
        f"    floor:   {f['by_hand_seconds']:7.2f} s wall, {f['by_hand_cpu_seconds']:6.2f} s CPU:"
        " the whole job by hand (a raw query, deadlines_for on each,"
        " the moved waits written by one executemany)"
    )
    print(
        f"    ratio change / floor: {f['ratio']:.2f} wall, {f['cpu_ratio']:.2f} CPU"
        f" (target <= {TARGET_RATIO}): {verdict(f)}"
    )
    print(
        f"    for comparison, the deadlines alone ({f['floor_rows']:,} rows by a raw query, deadlines_for"
        f" on each): {f['floor_seconds']:.2f} s wall, {f['floor_cpu_seconds']:.2f} s CPU,"
        f" {f['floor_ms_per_1000']:.1f} ms per 1,000"
    )
    print(
        f"    memory:  peak RSS {f['peak_rss_mb']:.1f} MB, {f['growth_mb']:.1f} MB above the"
        f" {f['rss_before_mb']:.1f} MB before the change",
        flush=True,
    )


def verdict(f: dict) -> str:
    """Met on both clocks, or on CPU time only while other processes slow the wall clock."""
    if f["ratio"] <= TARGET_RATIO:
        return "met"
    if f["cpu_ratio"] <= TARGET_RATIO:
        return f"met on CPU time; wall clock slowed by other processes (load {os.getloadavg()[0]:.1f})"
    return "MISSED"


def missed(kind: str, results: list[dict]) -> list[str]:
    problems = [
        f"{kind}: {f['open_waits']:,} open waits: {f['ratio']:.2f} times the floor's wall time,"
        f" {f['cpu_ratio']:.2f} its CPU time (target {TARGET_RATIO})"
        for f in results
        if verdict(f) == "MISSED"
    ]
    problems += [
        f"{kind}: {f['open_waits']:,} open waits: the runs did not all move the same waits"
        for f in results
        if not f["same_moved"]
    ]
    small, large = results[0], results[-1]
    for label, key in (("above the RSS before the change", "growth_mb"), ("peak RSS", "peak_rss_mb")):
        ratio = large[key] / max(small[key], 1.0)  # under 1 MB counts as 1 MB
        print(
            f"  memory {label}: {large[key]:.1f} MB at {large['open_waits']:,} open waits, {small[key]:.1f}"
            f" MB at {small['open_waits']:,}: {ratio:.2f}x (target <= {TARGET_MEMORY_GROWTH})"
        )
        if ratio > TARGET_MEMORY_GROWTH:
            problems.append(f"{kind}: memory {label} {ratio:.2f}x from {small['open_waits']:,} open waits")
    return problems


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        task, *rest = sys.argv[2:]
        figures = child_change(*rest) if task == "change" else child_floor(*rest)
        print(json.dumps(figures))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=[100_000, 400_000], help="open waits")
    parser.add_argument("--runs", type=int, default=3, help="runs of the change and of the floor (best)")
    parser.add_argument("--closed-per-open", type=float, default=CLOSED_PER_OPEN)
    add_database_options(parser)
    args = parser.parse_args()
    server, kinds = database_kinds(parser, args)
    sizes = sorted(args.sizes)

    def one(kind: str) -> list[str]:
        results = []
        for size in sizes:
            figures = measure(server if kind == "postgresql" else kind, size, runs=args.runs,
                              closed_per_open=args.closed_per_open)  # fmt: skip
            show(figures)
            results.append(figures)
        return missed(kind, results)

    return each_database(kinds, one)


if __name__ == "__main__":
    sys.exit(main())
