"""Daily digest benchmark on SQLite: 1,000 managers, their candidates, one full `digest send` run.

For 20 and then 100 candidates per manager (about 20% of them overdue), builds a fresh database
through the app's migrations, runs the real `feedback-sla digest send` command once, and prints its
wall time and the number of SQL statements it issued. The statement count depends on the number of
managers, not on how many candidates each one has.

    python benchmarks/digest.py [--managers 1000] [--sizes 20,100]
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import random
import sqlite3
import tempfile
import time
from pathlib import Path

import flask_migrate
import sqlalchemy as sa

from feedback_sla import create_app
from feedback_sla.accounts.models import Role, User
from feedback_sla.candidates.models import Candidate, Status
from feedback_sla.cli import cli
from feedback_sla.database import db
from feedback_sla.digest.models import DigestDay
from feedback_sla.emails.models import EmailKind, OutboxMessage
from feedback_sla.positions.models import Position
from feedback_sla.settings import service as settings_service
from feedback_sla.waits.models import WaitReason
from tests.bulk import NewWait, open_waits_bulk

ZONES = ("America/New_York", "Europe/Berlin", "America/Chicago", "UTC", "Europe/London")
#: A Wednesday at 18:00 UTC: past the 08:00 digest hour, the same day, in every zone above.
NOW = dt.datetime(2026, 11, 25, 18, 0, tzinfo=dt.UTC)


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
    positions = [
        Position(title=f"Role {u.id}", manager_id=u.id, time_zone=u.time_zone, policy_overrides={})
        for u in users
    ]
    session.add_all(positions)
    session.flush()
    session.execute(
        sa.insert(Candidate.__table__),
        [
            {
                "name": f"Candidate {p.id}-{n}",
                "email": f"c{p.id}-{n}@example.org",
                "position_id": p.id,
                "stage": "applied",
                "status": Status.ACTIVE,
                "created_at": NOW,
            }
            for p in positions
            for n in range(per_manager)
        ],
    )
    rows = session.execute(
        sa.select(Candidate.id, Position.time_zone)
        .join(Position, Candidate.position_id == Position.id)
        .order_by(Candidate.id)
    )
    settings = settings_service.load(session)
    waits = []
    for index, (candidate_id, time_zone) in enumerate(rows):
        # One in five opened 9-12 days ago (overdue); the rest within the last 3 days. Every
        # manager's first candidate is overdue, so every manager is owed a digest.
        overdue = index % per_manager == 0 or rng.random() < 0.2
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
    session.commit()


def one_size(managers: int, per_manager: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="feedback-sla-digest-") as folder:
        os.environ["FEEDBACK_SLA_INSTANCE_PATH"] = folder
        path = Path(folder) / "digest.sqlite3"
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}",
                "SECRET_KEY": "benchmark",
                "BASE_URL": "https://feedback.example.com",
            }
        )
        with app.app_context():
            logging.disable(logging.INFO)
            flask_migrate.upgrade()
            logging.disable(logging.NOTSET)
            seed(managers, per_manager, random.Random(per_manager))
            db.session.remove()

            statements = []
            sa.event.listen(db.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
            runner = app.test_cli_runner()
            start = time.perf_counter()
            result = runner.invoke(cli, ["digest", "send", "--now", NOW.isoformat()])
            wall = time.perf_counter() - start
            assert result.exit_code == 0, result.output
            queued = db.session.scalar(
                sa.select(sa.func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.kind == EmailKind.DIGEST)
            )
            days = db.session.scalar(sa.select(sa.func.count()).select_from(DigestDay))
            db.session.remove()
            db.engine.dispose()
        overdue = (
            sqlite3.connect(path)
            .execute("SELECT count(*) FROM waits WHERE due_at <= ?", (NOW.strftime("%Y-%m-%d %H:%M:%S.%f"),))
            .fetchone()[0]
        )
    return {
        "per_manager": per_manager,
        "wall": wall,
        "statements": len(statements),
        "queued": queued,
        "days": days,
        "overdue": overdue,
        "output": result.output.strip(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--managers", type=int, default=1000)
    parser.add_argument("--sizes", default="20,100", help="candidates per manager, comma-separated")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"feedback-sla digest benchmark: {args.managers:,} managers, now = {NOW.isoformat()}")
    results = []
    for per_manager in sizes:
        r = one_size(args.managers, per_manager)
        results.append(r)
        total = args.managers * per_manager
        print(
            f"  {per_manager:>4} candidates per manager ({total:,} in all, {r['overdue']:,} overdue "
            f"= {r['overdue'] / total:.0%}): digest send took {r['wall']:.2f} s, "
            f"{r['statements']:,} SQL statements, {r['queued']:,} digests queued, "
            f"{r['days']:,} manager-days claimed"
        )
    counts = {r["statements"] for r in results}
    verdict = "the same" if len(counts) == 1 else "DIFFERENT"
    print(
        f"statement count for {', '.join(str(s) for s in sizes)} candidates per manager: {verdict} "
        f"({', '.join(str(r['statements']) for r in results)})"
    )


if __name__ == "__main__":
    main()
