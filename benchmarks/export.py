"""Response-time export benchmark: ``feedback-sla export response-times`` against the database's
own client writing the same rows as CSV.

For each database (SQLite; PostgreSQL with ``--database-url`` or FEEDBACK_SLA_TEST_DATABASE_URL)
and each size, it builds a fresh database through the app's migrations, the waits in bulk in SQL
(two per candidate over the two years before the run: an application answered at the interview,
then a decision answered by email or phone, still open, or closed with no closing event), then
times on the same data, in turns so that both meet the same machine load:

- the floor: ``sqlite3 -csv`` or ``psql -c "\\copy (...) to stdout csv"`` running the export's
  join (waits, candidates, positions, users, the closing event) into a file;
- the export: ``feedback-sla export response-times --format csv --output FILE``, the real command
  in a subprocess, timed from process start (start-up included), with the default settings, then
  with the holiday calendar ``US`` (business days then skip US public holidays too).

The best of ``--repeat`` runs of each is compared. It prints the times, their ratio, the start-up
(the command exporting no rows) and peak memory: of the largest process (GNU time), of all the
command's processes together (sampled from /proc: PSS counts a shared page once), and how the
peak grows from the smallest size to the largest. It exits non-zero if a target is missed: the
export at most 4 times ``sqlite3``'s time and 3 times ``psql``'s (PostgreSQL from 1,000,000
waits: below, start-up outweighs the rows), under 150 MB, and a peak at the largest size at most
1.2 times the one at the smallest. For comparison only, it also times one process (``--jobs 1``).

    python benchmarks/export.py [--sizes 100000 1000000] [--databases sqlite postgresql] [--repeat 5]
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from benchmarks.common import (
    Database,
    add_database_options,
    app_config,
    database_kinds,
    each_database,
    fresh_database,
    migrate,
)
from feedback_sla import create_app
from feedback_sla.accounts.models import Role, User
from feedback_sla.database import db
from feedback_sla.positions.models import Position
from feedback_sla.settings import service as settings_service

TARGET_RATIO = {"sqlite": 4.0, "postgresql": 3.0}
#: Below this many waits, PostgreSQL's ratio is printed but not held to its target.
POSTGRESQL_TARGET_FROM = 1_000_000
TARGET_PEAK_MB = 150.0
TARGET_GROWTH = 1.2
MANAGERS = 20
POSITIONS = 200
TIME_ZONES = ("America/New_York", "America/Los_Angeles", "Europe/Berlin", "Asia/Kolkata", "Asia/Tokyo")
SPAN_SECONDS = 730 * 86_400
GNU_TIME = "/usr/bin/time"
CALENDARS = {"default settings": "", "holiday calendar US": "US"}

# --- the data, built by the database ------------------------------------------------------------


def _dialect(kind: str) -> dict[str, str]:
    """What differs between the two databases in the builder's and the floor's SQL."""
    if kind == "postgresql":
        return {
            "series": "SELECT generate_series(1, %(n)s)::bigint",
            "ts": "to_timestamp(%s)",
            "json": "::json",
            "email_kind": "events.data ->> 'email_kind'",
            "hours": "round(extract(epoch FROM coalesce(waits.closed_at, {now}) - waits.opened_at) / 3600"
            ", 2)",
            "now": "timestamptz '{now}'",
        }
    return {
        "series": "SELECT 1 UNION ALL SELECT c + 1 FROM s WHERE c < %(n)s",
        "ts": "(strftime('%%Y-%%m-%%d %%H:%%M:%%S', %s, 'unixepoch') || '.000000')",
        "json": "",
        "email_kind": "json_extract(events.data, '$.email_kind')",
        "hours": "round((julianday(coalesce(waits.closed_at, {now})) - julianday(waits.opened_at)) * 24, 2)",
        "now": "'{now}'",
    }


#: One row per candidate c: when they applied, were interviewed and answered (seconds since 1970),
#: how the decision was answered (k), and whether it was: one in five still open, one in a
#: thousand closed with no closing event (the schema allows it).
TIMES = """
WITH RECURSIVE s(c) AS ({series}),
a AS (SELECT c, {now} - {span} * ({candidates} - c) / {candidates} - c * 7919 % 36000 AS applied FROM s),
i AS (SELECT c, applied, CASE WHEN applied + 3600 * (2 + c * 104729 % 299) < {now}
                              THEN applied + 3600 * (2 + c * 104729 % 299) ELSE {now} END AS interview
      FROM a),
t AS (SELECT c, applied, interview, interview + 3600 * (1 + c * 15485863 % 200) AS answered,
             c / 5 % 5 AS k FROM i)
"""
DECIDED = "c % 5 <> 0 AND answered < {now}"
KIND = "CASE WHEN k < 3 THEN 'email_sent' ELSE 'contact_logged' END"
CHANNEL = "CASE k WHEN 3 THEN 'phone' WHEN 4 THEN 'meeting' END"
DATA = (
    """CASE k WHEN 0 THEN '{{"email_kind": "rejection"}}' WHEN 1 THEN '{{"email_kind": "offer"}}'"""
    """ WHEN 2 THEN '{{"email_kind": "update"}}' ELSE '{{}}' END{json}"""
)
WAIT_COLUMNS = (
    "id, candidate_id, reason, opened_at, warn_at, due_at, escalate_at, policy_days, follow_ups,"
    " closed_at, closed_by_event_id"
)
BUILD = (
    "INSERT INTO candidates (id, name, email, position_id, stage, status, created_at)"
    " SELECT c, 'Candidate ' || c, 'candidate' || c || '@example.com', c % {positions} + 1,"
    " 'interview', 'active', {ts_applied} FROM t",
    "INSERT INTO events (id, candidate_id, kind, data, occurred_at, recorded_at)"
    " SELECT 2 * c - 1, c, 'interview_held', '{{}}'{json}, {ts_interview}, {ts_interview} FROM t",
    "INSERT INTO events (id, candidate_id, kind, channel, data, occurred_at, recorded_at)"
    f" SELECT 2 * c, c, {KIND}, {CHANNEL}, {DATA}, {{ts_answered}}, {{ts_answered}} FROM t"
    f" WHERE {DECIDED} AND c % 1000 <> 1",
    # Calendar days stand in for business days: the export reads deadlines, it does not make them.
    f"INSERT INTO waits ({WAIT_COLUMNS}) SELECT 2 * c - 1, c, 'application', {{ts_applied}},"
    " {ts_applied_6d}, {ts_applied_7d}, {ts_applied_14d}, 5, 0, {ts_interview}, 2 * c - 1 FROM t",
    f"INSERT INTO waits ({WAIT_COLUMNS}) SELECT 2 * c, c, 'decision', {{ts_interview}},"
    " {ts_interview_4d}, {ts_interview_5d}, {ts_interview_14d}, 3, 0,"
    f" CASE WHEN {DECIDED} THEN {{ts_answered}} END,"
    f" CASE WHEN {DECIDED} AND c % 1000 <> 1 THEN 2 * c END FROM t",
)


def build(database: Database, waits: int, now: dt.datetime) -> None:
    """``waits`` waits (rounded down to an even number), their candidates and closing events."""
    app = create_app(app_config(database))
    migrate(app)
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(sa.insert(User), [_manager(i) for i in range(MANAGERS)])
            conn.execute(sa.insert(Position), [_position(i) for i in range(POSITIONS)])
        db.engine.dispose()
    sql = _dialect(database.kind)
    values = {"now": int(now.timestamp()), "span": SPAN_SECONDS, "candidates": waits // 2}
    times = TIMES.format(series=sql["series"] % {"n": waits // 2}, **values)
    stamps = {}
    for name, days in (("applied", (0, 6, 7, 14)), ("interview", (0, 4, 5, 14)), ("answered", (0,))):
        for d in days:
            stamps[f"ts_{name}" + (f"_{d}d" if d else "")] = sql["ts"] % f"({name} + {d * 86_400})"
    # The driver's own connection: no parameters, so no placeholder is looked for in the SQL.
    connection = database.raw()
    try:
        for statement in BUILD:
            text = statement.format(positions=POSITIONS, json=sql["json"], now=values["now"], **stamps)
            connection.execute(times + text)
        if database.kind == "postgresql":
            for table in ("users", "positions", "candidates", "events", "waits"):
                connection.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
                )
            connection.execute("VACUUM ANALYZE")
        else:
            connection.commit()
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()


def _manager(i: int) -> dict:
    return {
        "id": i + 1,
        "email": f"manager{i}@example.com",
        "name": f"Manager {i}",
        "password_hash": "unused",
        "role": Role.MANAGER,
        "time_zone": TIME_ZONES[i % len(TIME_ZONES)],
    }


def _position(i: int) -> dict:
    zone = TIME_ZONES[i % len(TIME_ZONES)]
    return {"id": i + 1, "title": f"Position {i}", "manager_id": i % MANAGERS + 1, "time_zone": zone}


# --- the floor ----------------------------------------------------------------------------------

#: The export's join and the values it shows, as the database writes them.
FLOOR_SQL = """
SELECT waits.id AS wait_id, candidates.id AS candidate_id, candidates.name AS candidate_name,
       candidates.email AS candidate_email, positions.id AS position_id, positions.title AS position,
       users.email AS manager, waits.reason, waits.opened_at, waits.due_at, waits.promised_date,
       waits.closed_at,
       CASE events.kind
           WHEN 'contact_logged' THEN events.channel
           WHEN 'interview_held' THEN 'interview'
           WHEN 'email_sent' THEN coalesce({email_kind}, 'email')
           ELSE events.kind END AS closed_by,
       {hours} AS hours_waited,
       CASE WHEN waits.closed_at IS NULL THEN
                CASE WHEN waits.follow_ups >= 2 OR waits.escalate_at <= {now} THEN 'escalated'
                     WHEN waits.due_at <= {now} THEN 'overdue'
                     WHEN waits.warn_at <= {now} THEN 'due_soon'
                     ELSE 'on_track' END
            WHEN waits.closed_at <= waits.due_at THEN 'met'
            ELSE 'breached' END AS outcome,
       positions.time_zone
FROM waits
JOIN candidates ON waits.candidate_id = candidates.id
JOIN positions ON candidates.position_id = positions.id
JOIN users ON positions.manager_id = users.id
LEFT OUTER JOIN events ON waits.closed_by_event_id = events.id
ORDER BY waits.id
"""


def floor_command(database: Database, now: dt.datetime, output: Path) -> tuple[list[str], str | None]:
    """The client's command line and standard input; the CSV goes to ``output`` (SQLite) or to
    standard output (PostgreSQL)."""
    sql = _dialect(database.kind)
    text = now.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if database.kind == "postgresql":
        now_sql = sql["now"].format(now=text + "+00")
    else:
        now_sql = sql["now"].format(now=text)
    hours = sql["hours"].format(now=now_sql)
    select = FLOOR_SQL.format(email_kind=sql["email_kind"], hours=hours, now=now_sql)
    if database.kind == "sqlite":
        return ["sqlite3", "-csv", "-header", str(database.path)], f".output {output}\n{select};\n"
    copy = f"\\copy ({' '.join(select.split())}) to stdout csv header"
    return ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", database.conninfo, "-c", copy], None


# --- running and measuring ----------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    seconds: float
    peak_mb: float  # the largest single process, as GNU time reports it
    lines: int


def measure(command: list[str], env: dict[str, str], output: Path, stdin: str | None = None) -> Run:
    """Wall time, and peak resident memory as GNU time reports it for the process alone; what the
    command writes to standard output goes to ``output`` (which it may also write itself).

    (The rusage of a child of this process would count this process's own size: Linux carries
    the peak over fork and exec.)
    """
    peak_file = output.with_suffix(".peak")
    with output.open("w") as out:
        started = time.perf_counter()
        completed = subprocess.run(
            [GNU_TIME, "-f", "%M", "-o", str(peak_file), *command],
            env=env,
            input=stdin,
            stdout=out,
            stderr=subprocess.PIPE,
            text=True,
        )
        seconds = time.perf_counter() - started
    if completed.returncode != 0:
        raise SystemExit(f"{command[0]} failed ({completed.returncode}): {completed.stderr}")
    peak_kb = int(peak_file.read_text().split()[-1])
    peak_file.unlink()
    with output.open("rb") as f:
        lines = sum(1 for _ in f)
    return Run(seconds, peak_kb / 1024, lines)


def best(runs: list[Run]) -> Run:
    """The fastest run, with the highest peak of them all."""
    fastest = min(runs, key=lambda r: r.seconds)
    return dataclasses.replace(fastest, peak_mb=max(r.peak_mb for r in runs))


def tree_pss(command: list[str], env: dict[str, str], interval: float = 0.02) -> float:
    """Peak proportional memory (PSS: a page shared between processes split between them) of a
    command and the processes it starts, added together; sampled every ``interval`` seconds from
    /proc, in a run of its own so that the sampling does not slow the timed runs."""
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    while process.poll() is None:
        pss = 0
        for pid in _tree(process.pid):
            try:
                for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                    if line.startswith("Pss:"):
                        pss += int(line.split()[1])
            except (FileNotFoundError, ProcessLookupError, PermissionError):
                pass  # ended between listing and reading
        peak = max(peak, pss)
        time.sleep(interval)
    if process.returncode != 0:
        raise SystemExit(f"{command[0]} failed ({process.returncode}): {process.stderr.read()}")
    return peak / 1024


def _tree(root: int) -> list[int]:
    """``root`` and its descendants, from each process's children list in /proc."""
    found, pending = [], [root]
    while pending:
        pid = pending.pop()
        found.append(pid)
        try:
            for task in Path(f"/proc/{pid}/task").iterdir():
                pending.extend(int(c) for c in (task / "children").read_text().split())
        except (FileNotFoundError, ProcessLookupError):
            pass
    return found


def set_holiday_calendar(database: Database, code: str) -> None:
    """The organisation setting, stored as ``feedback-sla settings set`` stores it."""
    app = create_app(app_config(database))
    with app.app_context():
        settings_service.store(db.session, "holiday_calendar", code)
        db.session.commit()
        db.engine.dispose()


def bench(kind: str, server: str | None, size: int, repeat: int, folder: Path) -> tuple[list[str], float]:
    """Build, time and print one size on one database; the targets it missed, and the largest
    process's peak memory in MB."""
    missed, now = [], dt.datetime.now(dt.UTC)
    with fresh_database(kind, f"export{size}", server) as database:
        started = time.perf_counter()
        build(database, size, now)
        print(
            f"  {size:,} waits built in {time.perf_counter() - started:.1f} s; machine load "
            f"{os.getloadavg()[0]:.1f} (other processes slow the export's several processes more "
            "than the floor's one)",
            flush=True,
        )
        env = {**os.environ, "FEEDBACK_SLA_DATABASE_URL": database.uri}
        floor_out, export_out = folder / "floor.csv", folder / "export.csv"
        floor_args, floor_stdin = floor_command(database, now, floor_out)
        export = [str(Path(sys.executable).with_name("feedback-sla")), "export", "response-times"]
        export += ["--format", "csv", "--output", str(export_out)]
        floors, peaks, target = [], [], TARGET_RATIO[kind]
        held = kind == "sqlite" or size >= POSTGRESQL_TARGET_FROM
        for label, calendar in CALENDARS.items():
            set_holiday_calendar(database, calendar)
            runs = []
            for _ in range(repeat):
                floors.append(measure(floor_args, env, floor_out, floor_stdin))
                runs.append(measure(export, env, export_out))
            run, floor = best(runs), best(floors)
            ratio, pss = run.seconds / floor.seconds, tree_pss(export, env)
            peaks.append(run.peak_mb)
            note = "" if held else ", held from 1,000,000 waits"
            print(
                f"  export, {label + ':':<21}{run.seconds:6.2f} s  ratio {ratio:5.2f} (target <= {target:g}"
                f"{note})  {(run.lines - 1) / run.seconds:9,.0f} rows/s\n      peak memory: largest "
                f"process {run.peak_mb:5.1f} MB, all its processes {pss:5.1f} MB PSS",
                flush=True,
            )
            where = f"{kind}, {size:,} waits, {label}"
            if floor.lines != run.lines:
                missed.append(f"{where}: {run.lines} lines exported, the floor wrote {floor.lines}")
            if held and ratio > target:
                missed.append(f"{where}: ratio {ratio:.2f} > {target:g}")
            if max(run.peak_mb, pss) >= TARGET_PEAK_MB:
                missed.append(f"{where}: peak {max(run.peak_mb, pss):.1f} MB >= {TARGET_PEAK_MB:g} MB")
        floor = best(floors)
        print(f"  floor, {floor_args[0] + ':':<22}{floor.seconds:6.2f} s  peak {floor.peak_mb:5.1f} MB")
        one = measure([*export, "--jobs", "1"], env, export_out)
        peaks.append(one.peak_mb)
        print(
            f"  for comparison, --jobs 1 (US):{one.seconds:6.2f} s  ratio {one.seconds / floor.seconds:5.2f}"
        )
        empty = best([measure([*export, "--since", "2199-01-01"], env, export_out) for _ in range(repeat)])
        print(
            f"  start-up (an export of no rows): {empty.seconds:5.2f} s, peak {empty.peak_mb:5.1f} MB; "
            f"machine load {os.getloadavg()[0]:.1f}"
        )
    return missed, max(peaks)


def growth(kind: str, peaks: dict[int, float]) -> list[str]:
    """Print how the peak grows from the smallest size to the largest; the target missed, if any."""
    if len(peaks) < 2:
        return []
    small, large = min(peaks), max(peaks)
    ratio = peaks[large] / peaks[small]
    print(
        f"{kind}: peak memory at {large:,} waits / at {small:,}: {peaks[large]:.1f} / {peaks[small]:.1f} MB"
        f" = {ratio:.2f} (target <= {TARGET_GROWTH:g})"
    )
    return [f"{kind}: peak memory grows {ratio:.2f} times"] if ratio > TARGET_GROWTH else []


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=5, help="Runs of each command; the best counts.")
    parser.add_argument("--folder", type=Path, help="Write the CSV files here instead of a temporary folder.")
    add_database_options(parser)
    args = parser.parse_args()
    server, kinds = database_kinds(parser, args)
    for tool in ("sqlite3" if "sqlite" in kinds else "", "psql" if "postgresql" in kinds else ""):
        if tool and shutil.which(tool) is None:
            raise SystemExit(f"the {tool} command-line client is needed")
    if not os.access(GNU_TIME, os.X_OK):
        raise SystemExit(f"GNU time is needed at {GNU_TIME} (apt-get install time)")
    print(f"Python {platform.python_version()}, {os.cpu_count()} CPUs, best of {args.repeat} runs")

    def one(kind: str) -> list[str]:
        missed, peaks = [], {}
        with tempfile.TemporaryDirectory(prefix="fsla-export-bench-", dir=args.folder) as tmp:
            for size in args.sizes:
                size_missed, peaks[size] = bench(kind, server, size, args.repeat, Path(tmp))
                missed += size_missed
        return missed + growth(kind, peaks)

    return each_database(kinds, one)


if __name__ == "__main__":
    sys.exit(main())
