"""Response-time export benchmark on SQLite: the CSV export against the ``sqlite3`` shell.

For each size (100,000 and 1,000,000 waits by default) it builds a fresh database through the app's
migrations in a temporary folder, then runs, in the same run and on the same file:

- the ``sqlite3`` command-line shell with ``-csv``, running the equivalent join
  (waits, candidates, positions, users, the closing event) into a file;
- ``feedback-sla export response-times --format csv --output FILE``, the real command in a
  subprocess, twice: with the default settings (no holiday calendar), then with the organisation's
  holiday calendar set to ``US`` (business days then skip US public holidays too).

A large export is written by several processes (``--jobs``: one per CPU by default). The script
prints each wall time, the ratio of each export's to the shell's, and peak memory: of the largest
single process (GNU time), and of all the command's processes together (sampled from /proc in a
separate run: PSS, where a page the processes share counts once, and RSS, where it counts in
each). It exits non-zero if a target is missed by either export: at most 4 times the shell's
time, and under 150 MB (the largest process, and all together by PSS). For comparison only, it
also times the export by one process (``--jobs 1``).

    /work/venv/bin/python benchmarks/export.py [--sizes 100000 1000000] [--folder DIR]
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import os
import platform
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from benchmarks.common import migrate
from feedback_sla import create_app
from feedback_sla.accounts.models import Role, User
from feedback_sla.candidates.models import Candidate, Event, EventKind, Status
from feedback_sla.database import db
from feedback_sla.positions.models import Position
from feedback_sla.settings import service as settings_service
from feedback_sla.waits.models import Wait, WaitReason

TARGET_RATIO = 4.0
TARGET_PEAK_MB = 150.0
MANAGERS = 20
POSITIONS = 200
TIME_ZONES = ("America/New_York", "America/Los_Angeles", "Europe/Berlin", "Asia/Kolkata", "Asia/Tokyo")
#: Waits opened over the two years before the run, in the order of their ids.
SPAN = dt.timedelta(days=730)
CHUNK = 20_000
GNU_TIME = "/usr/bin/time"
CLOSINGS = (
    (EventKind.EMAIL_SENT, None, "rejection"),
    (EventKind.EMAIL_SENT, None, "offer"),
    (EventKind.EMAIL_SENT, None, "update"),
    (EventKind.CONTACT_LOGGED, "phone", None),
    (EventKind.CONTACT_LOGGED, "meeting", None),
)

#: The export's join, written for the shell; SQLite stores UTC as naive text, so "now" is text too.
SHELL_SQL = """
SELECT waits.id AS wait_id, candidates.id AS candidate_id, candidates.name AS candidate_name,
       candidates.email AS candidate_email, positions.id AS position_id, positions.title AS position,
       users.email AS manager, waits.reason, waits.opened_at, waits.due_at, waits.promised_date,
       waits.closed_at,
       CASE events.kind
           WHEN 'contact_logged' THEN events.channel
           WHEN 'interview_held' THEN 'interview'
           WHEN 'email_sent' THEN coalesce(json_extract(events.data, '$.email_kind'), 'email')
           ELSE events.kind END AS closed_by,
       round((julianday(coalesce(waits.closed_at, '{now}')) - julianday(waits.opened_at)) * 24, 2)
           AS hours_waited,
       CASE WHEN waits.closed_at IS NULL THEN
                CASE WHEN waits.follow_ups >= 2 OR waits.escalate_at <= '{now}' THEN 'escalated'
                     WHEN waits.due_at <= '{now}' THEN 'overdue'
                     WHEN waits.warn_at <= '{now}' THEN 'due_soon'
                     ELSE 'on_track' END
            WHEN waits.closed_at <= waits.due_at THEN 'met'
            ELSE 'breached' END AS outcome,
       positions.time_zone
FROM waits
JOIN candidates ON waits.candidate_id = candidates.id
JOIN positions ON candidates.position_id = positions.id
JOIN users ON positions.manager_id = users.id
LEFT OUTER JOIN events ON waits.closed_by_event_id = events.id
ORDER BY waits.id;
"""


def sqlite_text(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def build(path: Path, waits: int, now: dt.datetime) -> None:
    """A database with ``waits`` waits: two per candidate, an application answered at the
    interview, then a decision answered by email or phone, or (one in five) still open."""
    uri = f"sqlite:///{path}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": uri, "SECRET_KEY": "benchmark-only"})
    migrate(app)
    with app.app_context():
        rng = random.Random(6)
        with db.engine.begin() as conn:
            conn.execute(
                sa.insert(User),
                [
                    {
                        "id": i + 1,
                        "email": f"manager{i}@example.com",
                        "name": f"Manager {i}",
                        "password_hash": "unused",
                        "role": Role.MANAGER,
                        "time_zone": TIME_ZONES[i % len(TIME_ZONES)],
                    }
                    for i in range(MANAGERS)
                ],
            )
            conn.execute(
                sa.insert(Position),
                [
                    {
                        "id": i + 1,
                        "title": f"Position {i}",
                        "manager_id": i % MANAGERS + 1,
                        "time_zone": TIME_ZONES[i % len(TIME_ZONES)],
                    }
                    for i in range(POSITIONS)
                ],
            )
        candidates = waits // 2
        event_id = 0
        for start in range(0, candidates, CHUNK):
            people, events, rows = [], [], []
            for c in range(start + 1, min(start + CHUNK, candidates) + 1):
                # Ids grow with time, as they do when waits open one after another.
                applied = now - SPAN * (1 - c / candidates) - dt.timedelta(minutes=rng.randint(0, 600))
                people.append(
                    {
                        "id": c,
                        "name": f"Candidate {c}",
                        "email": f"candidate{c}@example.com",
                        "position_id": c % POSITIONS + 1,
                        "stage": "interview",
                        "status": Status.ACTIVE,
                        "created_at": applied,
                    }
                )
                interview = min(applied + dt.timedelta(hours=rng.randint(2, 300)), now)
                event_id += 1
                events.append(_event(event_id, c, EventKind.INTERVIEW_HELD, None, None, interview))
                rows.append(_wait(2 * c - 1, c, WaitReason.APPLICATION, applied, 5, interview, event_id))
                answered = interview + dt.timedelta(hours=rng.randint(1, 200))
                if rng.random() < 0.8 and answered < now:
                    event_id += 1
                    kind, channel, email_kind = rng.choice(CLOSINGS)
                    events.append(_event(event_id, c, kind, channel, email_kind, answered))
                    rows.append(_wait(2 * c, c, WaitReason.DECISION, interview, 3, answered, event_id))
                else:
                    rows.append(_wait(2 * c, c, WaitReason.DECISION, interview, 3, None, None))
            with db.engine.begin() as conn:
                conn.execute(sa.insert(Candidate), people)
                conn.execute(sa.insert(Event), events)
                conn.execute(sa.insert(Wait), rows)
        with db.engine.begin() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        db.engine.dispose()


def _event(event_id, candidate_id, kind, channel, email_kind, at) -> dict:
    return {
        "id": event_id,
        "candidate_id": candidate_id,
        "kind": kind,
        "channel": channel,
        "data": {"email_kind": email_kind} if email_kind else {},
        "occurred_at": at,
        "recorded_at": at,
    }


def _wait(wait_id, candidate_id, reason, opened, days, closed, event_id) -> dict:
    # Calendar days stand in for business days: the export reads deadlines, it does not make them.
    due = opened + dt.timedelta(days=days + 2)
    return {
        "id": wait_id,
        "candidate_id": candidate_id,
        "reason": reason,
        "opened_at": opened,
        "warn_at": due - dt.timedelta(days=1),
        "due_at": due,
        "escalate_at": opened + dt.timedelta(days=14),
        "policy_days": days,
        "promised_date": None,
        "follow_ups": 0,
        "closed_at": closed,
        "closed_by_event_id": event_id,
    }


@dataclass(frozen=True)
class Run:
    seconds: float
    peak_mb: float  # the largest single process, as GNU time reports it
    lines: int
    together_rss_mb: float = 0.0  # every process of the command at once, sampled
    together_pss_mb: float = 0.0


def measure(command: list[str], env: dict[str, str], output: Path, stdin: str | None = None) -> Run:
    """Wall time, and peak resident memory as GNU time reports it for the process alone.

    (The rusage of a child of this process would count this process's own size: Linux carries
    the peak over fork and exec.)
    """
    peak_file = output.with_suffix(".peak")
    started = time.perf_counter()
    completed = subprocess.run(
        [GNU_TIME, "-f", "%M", "-o", str(peak_file), *command],
        env=env,
        input=stdin,
        stdout=subprocess.DEVNULL,
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


def tree_memory(command: list[str], env: dict[str, str], interval: float = 0.02) -> tuple[float, float]:
    """Peak memory of a command and the processes it starts, added together: resident (RSS: pages
    shared between processes counted in each) and proportional (PSS: a shared page split between
    its processes). Sampled every ``interval`` seconds from /proc, in a run of its own so that the
    sampling does not slow the timed run.
    """
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak_rss = peak_pss = 0
    while process.poll() is None:
        rss = pss = 0
        for pid in _tree(process.pid):
            try:
                for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                    if line.startswith("Rss:"):
                        rss += int(line.split()[1])
                    elif line.startswith("Pss:"):
                        pss += int(line.split()[1])
            except (FileNotFoundError, ProcessLookupError, PermissionError):
                pass  # ended between listing and reading
        peak_rss, peak_pss = max(peak_rss, rss), max(peak_pss, pss)
        time.sleep(interval)
    if process.returncode != 0:
        raise SystemExit(f"{command[0]} failed ({process.returncode}): {process.stderr.read()}")
    return peak_rss / 1024, peak_pss / 1024


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


def set_holiday_calendar(database: Path, code: str) -> None:
    """The organisation setting, stored as ``feedback-sla settings set`` stores it."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}", "SECRET_KEY": "benchmark-only"})
    with app.app_context():
        settings_service.store(db.session, "holiday_calendar", code)
        db.session.commit()
        db.engine.dispose()


def bench(size: int, folder: Path) -> tuple[Run, dict[str, Run], Run, float]:
    database = folder / f"waits-{size}.sqlite3"
    now = dt.datetime.now(dt.UTC)
    started = time.perf_counter()
    build(database, size, now)
    print(
        f"  built {size:,} waits in {time.perf_counter() - started:.1f} s "
        f"({database.stat().st_size / 2**20:.0f} MB)",
        flush=True,
    )
    env = {
        **os.environ,
        "FEEDBACK_SLA_DATABASE_URL": f"sqlite:///{database}",
    }
    feedback_sla = str(Path(sys.executable).with_name("feedback-sla"))
    shell_out = folder / f"shell-{size}.csv"
    export_out = folder / f"export-{size}.csv"
    sql = SHELL_SQL.format(now=sqlite_text(now))
    shell = measure(
        ["sqlite3", "-csv", "-header", str(database)],
        env,
        shell_out,
        stdin=f".output {shell_out}\n{sql}",
    )
    command = [feedback_sla, "export", "response-times", "--format", "csv", "--output", str(export_out)]
    exports = {}
    for label, calendar in (("default settings", ""), ("holiday calendar US", "US")):
        set_holiday_calendar(database, calendar)
        run = measure(command, env, export_out)
        rss, pss = tree_memory(command, env)
        exports[label] = dataclasses.replace(run, together_rss_mb=rss, together_pss_mb=pss)
    # For comparison, not a target: the same export by one process (US calendar still set).
    one_process = measure([*command, "--jobs", "1"], env, export_out)
    # What every feedback-sla command pays before its first row: interpreter, imports, the app.
    started = time.perf_counter()
    subprocess.run(
        [feedback_sla, "export", "response-times", "--help"], env=env, capture_output=True, check=True
    )
    startup = time.perf_counter() - started
    for path in (database, shell_out, export_out):
        path.unlink()
    return shell, exports, one_process, startup


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--folder", type=Path, help="Work here instead of a temporary folder.")
    args = parser.parse_args()
    if shutil.which("sqlite3") is None:
        raise SystemExit("the sqlite3 command-line shell is needed (apt-get install sqlite3)")
    if not os.access(GNU_TIME, os.X_OK):
        raise SystemExit(f"GNU time is needed at {GNU_TIME} (apt-get install time)")
    shell_version = subprocess.run(
        ["sqlite3", "--version"], capture_output=True, text=True, check=True
    ).stdout.split()[0]
    print(
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version} (Python), "
        f"{shell_version} (shell), {os.cpu_count()} CPUs"
    )
    missed = []
    with tempfile.TemporaryDirectory(prefix="fsla-export-bench-", dir=args.folder) as tmp:
        os.environ["FEEDBACK_SLA_INSTANCE_PATH"] = str(Path(tmp) / "instance")
        for size in args.sizes:
            print(f"{size:,} waits", flush=True)
            shell, exports, one_process, startup = bench(size, Path(tmp))
            print(f"  sqlite3 -csv:{'':24}{shell.seconds:5.2f} s  peak {shell.peak_mb:6.1f} MB")
            for label, export in exports.items():
                ratio = export.seconds / shell.seconds
                print(
                    f"  feedback-sla export, {label + ':':<16}{export.seconds:5.2f} s  "
                    f"ratio {ratio:5.2f} (target <= {TARGET_RATIO:g})  "
                    f"{(export.lines - 1) / export.seconds:9,.0f} rows/s\n"
                    f"      peak memory: largest process {export.peak_mb:6.1f} MB; all its processes "
                    f"together {export.together_pss_mb:6.1f} MB PSS, {export.together_rss_mb:6.1f} MB RSS "
                    f"(target < {TARGET_PEAK_MB:g} MB PSS)"
                )
                where = f"{size:,} waits, {label}"
                if shell.lines != export.lines:
                    missed.append(f"{where}: {export.lines} lines exported, the shell wrote {shell.lines}")
                if ratio > TARGET_RATIO:
                    missed.append(f"{where}: ratio {ratio:.2f} > {TARGET_RATIO:g}")
                if max(export.peak_mb, export.together_pss_mb) >= TARGET_PEAK_MB:
                    missed.append(
                        f"{where}: peak {max(export.peak_mb, export.together_pss_mb):.1f} MB "
                        f">= {TARGET_PEAK_MB:g} MB"
                    )
            print(
                f"  for comparison, --jobs 1 (US):      {one_process.seconds:5.2f} s  "
                f"ratio {one_process.seconds / shell.seconds:5.2f}  peak {one_process.peak_mb:6.1f} MB"
            )
            print(f"  start-up (the command with --help): {startup:5.2f} s", flush=True)
    for problem in missed:
        print(f"MISSED {problem}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
