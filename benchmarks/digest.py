"""Daily digest memory: peak memory of one `digest send` run at 10,000 and at 300,000 open waits.

For each size, builds a fresh database through the app's migrations (on PostgreSQL when
FEEDBACK_SLA_TEST_DATABASE_URL is set, which the benchmark empties like the test suite does;
otherwise a SQLite file), seeds 200 managers who share the open waits evenly (about 20% of them
overdue, every manager owed a digest), and runs the real `feedback-sla digest send` command in a
fresh process with the file mail backend. It prints that process's peak memory (its maximum
resident set size), wall time and SQL statements, then delivers the queued digests as .eml files
in a temporary folder and checks that every manager got one listing at most 25 candidates.

Fails (exit status 1) when the peak memory at the largest size is more than 1.5 times the peak at
the smallest: a digest holds one manager's rows at a time, whatever the size of the organisation.

    python benchmarks/digest.py [--managers 200] [--sizes 10000,300000] [--limit 1.5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import email
import email.policy
import os
import random
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
from feedback_sla.candidates.models import Candidate, Status
from feedback_sla.config import database_uri
from feedback_sla.database import db
from feedback_sla.digest.models import DigestDay
from feedback_sla.emails.models import EmailKind, OutboxMessage
from feedback_sla.positions.models import Position
from feedback_sla.settings import service as settings_service
from feedback_sla.testing.bulk import NewWait, open_waits_bulk
from feedback_sla.waits.models import WaitReason

ZONES = ("America/New_York", "Europe/Berlin", "America/Chicago", "UTC", "Europe/London")
#: A Wednesday at 18:00 UTC: past the 08:00 digest hour, the same day, in every zone above.
NOW = dt.datetime(2026, 11, 25, 18, 0, tzinfo=dt.UTC)
BASE_URL = "https://feedback.example.com"
#: Candidates inserted per statement while seeding.
CHUNK = 20_000

#: The measured process: the `feedback-sla` command itself, counting the statements it sends.
CHILD = """
import sys
import sqlalchemy

statements = 0


def count(*_):
    global statements
    statements += 1


sqlalchemy.event.listen(sqlalchemy.engine.Engine, "before_cursor_execute", count)
from feedback_sla.cli import main

sys.argv = ["feedback-sla", *sys.argv[1:]]
try:
    main()
finally:
    print(f"statements: {statements}", file=sys.stderr)
"""


#: Starts the measured process and writes its exit status and peak memory to a file. A process's
#: peak counts the memory of the one that started it, up to the moment it runs its own program: the
#: command is started from this small process, not from the benchmark holding the seeded rows.
LAUNCHER = """
import os
import subprocess
import sys

child = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(child.pid, 0)
with open(sys.argv[1], "w") as report:
    report.write(f"{os.waitstatus_to_exitcode(status)} {usage.ru_maxrss}")
"""


@dataclass(frozen=True)
class Run:
    peak_mb: float
    wall: float
    statements: int
    output: str


def fresh_database(folder: Path) -> str:
    """The database URL to seed: the test PostgreSQL emptied, or a new SQLite file."""
    url = os.environ.get("FEEDBACK_SLA_TEST_DATABASE_URL")
    if not url:
        return f"sqlite:///{folder / 'digest.sqlite3'}"
    engine = sa.create_engine(database_uri(url, ""))
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()
    return url


def seed(managers: int, per_manager: int, rng: random.Random) -> None:
    session = db.session
    users = [
        User(
            email=f"m{i}@example.com",
            name=f"Manager {i}",
            password_hash="!",  # noqa: S106
            role=Role.MANAGER,
            time_zone=ZONES[i % len(ZONES)],
            digest_hour=8,
        )
        for i in range(managers)
    ]
    session.add_all(users)
    session.flush()
    positions = [(u.id, u.time_zone) for u in users]
    session.execute(
        sa.insert(Position.__table__),
        [
            {"title": f"Role {uid}", "manager_id": uid, "time_zone": tz, "policy_overrides": {}}
            for uid, tz in positions
        ],
    )
    settings = settings_service.load(session)
    rows = session.execute(sa.select(Position.id, Position.time_zone).order_by(Position.id)).all()
    slots = [(pid, tz, n) for pid, tz in rows for n in range(per_manager)]
    for start in range(0, len(slots), CHUNK):
        _seed_chunk(session, slots[start : start + CHUNK], per_manager, settings, rng)
    session.commit()


def _seed_chunk(session, slots, per_manager, settings, rng) -> None:
    ids = session.scalars(
        sa.insert(Candidate.__table__).returning(Candidate.id, sort_by_parameter_order=True),
        [
            {
                "name": f"Candidate {pid}-{n}",
                "email": f"c{pid}-{n}@example.org",
                "position_id": pid,
                "stage": "applied",
                "status": Status.ACTIVE,
                "created_at": NOW,
            }
            for pid, _, n in slots
        ],
    ).all()
    waits = []
    for candidate_id, (_, time_zone, n) in zip(ids, slots, strict=True):
        # One in five opened 9-12 days ago (overdue); the rest within the last 3 days. Every
        # manager's first candidate is overdue, so every manager is owed a digest.
        overdue = n % per_manager == 0 or rng.random() < 0.2
        days = rng.uniform(9, 12) if overdue else rng.uniform(0, 3)
        waits.append(
            NewWait(
                candidate_id=candidate_id,
                reason=WaitReason.APPLICATION,
                opened_at=NOW - dt.timedelta(days=days),
                time_zone=time_zone,
                policy_overrides={},
            )
        )
    open_waits_bulk(session, waits, settings)


def run_command(folder: Path, url: str, *args: str) -> Run:
    """Run `feedback-sla ARGS` in a fresh process and measure its peak memory (see LAUNCHER)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("FEEDBACK_SLA_")}
    env |= {
        "FEEDBACK_SLA_DATABASE_URL": url,
        "FEEDBACK_SLA_INSTANCE_PATH": str(folder / "instance"),
        "FEEDBACK_SLA_BASE_URL": BASE_URL,
        "FEEDBACK_SLA_MAIL_BACKEND": "file",
        "FEEDBACK_SLA_OUTBOX_MAIL_DIR": str(folder / "mail"),
    }
    out, err, report = folder / "stdout", folder / "stderr", folder / "report"
    command = [sys.executable, "-c", LAUNCHER, str(report), sys.executable, "-c", CHILD, *args]
    with out.open("w") as stdout, err.open("w") as stderr:
        start = time.perf_counter()
        subprocess.run(command, env=env, stdout=stdout, stderr=stderr, check=True)  # noqa: S603
        wall = time.perf_counter() - start
    status, maxrss = (int(word) for word in report.read_text().split())
    errors = err.read_text()
    if status != 0:
        raise SystemExit(f"feedback-sla {' '.join(args)} failed:\n{out.read_text()}{errors}")
    statements = int(errors.rsplit("statements: ", 1)[1])
    # ru_maxrss is in kilobytes on Linux and in bytes on macOS.
    peak = maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)
    return Run(peak, wall, statements, out.read_text().strip())


def check_delivered(folder: Path, managers: int) -> str:
    """Every manager's digest delivered as a .eml file, at most 25 candidates listed in each."""
    recipients, listed, more = set(), set(), set()
    for path in (folder / "mail").glob("*.eml"):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        recipients.add(message["To"].addresses[0].addr_spec)
        text = message.get_body(("plain",)).get_content()
        listed.add(text.count(f"{BASE_URL}/candidates/"))
        more.update(int(line.split()[1]) for line in text.splitlines() if line.startswith("...and "))
    assert recipients == {f"m{i}@example.com" for i in range(managers)}, len(recipients)
    assert max(listed) <= 25, listed
    counted = f", {min(more):,} to {max(more):,} more counted" if more else ""
    return f"{len(recipients)} .eml files listing {min(listed)} to {max(listed)} candidates{counted}"


def one_size(managers: int, waits: int) -> Run:
    with tempfile.TemporaryDirectory(prefix="feedback-sla-digest-") as name:
        folder = Path(name)
        url = fresh_database(folder)
        os.environ["FEEDBACK_SLA_INSTANCE_PATH"] = str(folder / "instance")
        app = create_app({"SQLALCHEMY_DATABASE_URI": database_uri(url, ""), "SECRET_KEY": "benchmark"})
        migrate(app)
        with app.app_context():
            seed(managers, waits // managers, random.Random(waits))
            db.session.remove()
            run = run_command(folder, url, "digest", "send", "--now", NOW.isoformat())
            queued = db.session.scalar(
                sa.select(sa.func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.kind == EmailKind.DIGEST)
            )
            days = db.session.scalar(sa.select(sa.func.count()).select_from(DigestDay))
            db.session.remove()
            db.engine.dispose()
        assert queued == days == managers, (queued, days)
        run_command(folder, url, "worker", "--once")
        delivered = check_delivered(folder, managers)
    print(
        f"  {waits:>7,} open waits ({waits // managers:,} per manager): peak memory "
        f"{run.peak_mb:.0f} MB, {run.wall:.1f} s, {run.statements:,} SQL statements; "
        f"{run.output}; {delivered}"
    )
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--managers", type=int, default=200)
    parser.add_argument("--sizes", default="10000,300000", help="open waits in all, comma-separated")
    parser.add_argument("--limit", type=float, default=1.5, help="largest peak / smallest peak allowed")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    engine = "PostgreSQL" if os.environ.get("FEEDBACK_SLA_TEST_DATABASE_URL") else "SQLite"
    print(f"feedback-sla digest benchmark on {engine}: {args.managers:,} managers, now = {NOW.isoformat()}")
    runs = [one_size(args.managers, waits) for waits in sizes]
    ratio = runs[-1].peak_mb / runs[0].peak_mb
    verdict = "ok" if ratio <= args.limit else f"FAIL: more than {args.limit}"
    print(
        f"peak memory {runs[0].peak_mb:.0f} MB at {sizes[0]:,} open waits, {runs[-1].peak_mb:.0f} MB "
        f"at {sizes[-1]:,}: ratio {ratio:.2f} ({verdict})"
    )
    if ratio > args.limit:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
