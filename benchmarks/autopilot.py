"""Autopilot at scale: one `autopilot run` over 10,000 and 100,000 open waits, 10% inside the lead time.

For each size, on a database of its own (SQLite, and PostgreSQL when FEEDBACK_SLA_TEST_DATABASE_URL
or --database-url names a server), builds an organisation in bulk (50 managers, 3 positions each,
every position with autopilot on, time zones from New York to Tokyo), sets one wait in ten due three
hours after the run (inside the 4 business hours' lead time everywhere) and the rest five days
later, and runs ``autopilot.service.run`` as the command does. It prints the run's wall time, its SQL
statements, the updates it queued and the statements per queued update; then runs again, which must
queue nothing.

Fails (exit status 1) when a run does not queue one update per wait inside the lead time, when the
second run queues anything, or when the statements per queued update at the largest size exceed
those at the smallest by more than ``--limit`` (default 2%): the run reads the waits in one statement
and then costs the same few statements per update, whatever the number of open waits.

    python benchmarks/autopilot.py [--sizes 10000,100000] [--databases sqlite postgresql]
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from dataclasses import dataclass

import sqlalchemy as sa

from benchmarks.common import (
    StatementCounter,
    add_database_options,
    app_config,
    build_organisation,
    database_kinds,
    each_database,
    fresh_database,
    migrate,
    spread,
)
from feedback_sla import create_app
from feedback_sla.autopilot import service
from feedback_sla.database import db
from feedback_sla.emails.config import EmailConfig
from feedback_sla.positions.models import Position
from feedback_sla.settings import service as settings_service
from feedback_sla.waits.models import Wait

#: Wednesday 25 November 2026, noon UTC: inside or before business hours from New York to Tokyo.
NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
MANAGERS = 50
#: One wait in this many is due inside the lead time.
INSIDE_EVERY = 10
INSIDE = dt.timedelta(hours=3)
OUTSIDE = dt.timedelta(days=5)


@dataclass(frozen=True)
class Measured:
    size: int
    inside: int
    queued: int
    statements: int
    seconds: float
    again: int  # what a second run queued

    @property
    def per_update(self) -> float:
        return self.statements / self.queued if self.queued else float("inf")


def build(app, size: int) -> int:
    """The organisation with ``size`` open waits, autopilot on everywhere; how many are inside."""
    # Built as if a month from now, so that no deadline is near; then the deadlines are set.
    build_organisation(app, spread(size, MANAGERS), NOW + dt.timedelta(days=30))
    inside = Wait.id % INSIDE_EVERY == 0
    due = sa.case((inside, sa.literal(NOW + INSIDE)), else_=sa.literal(NOW + OUTSIDE))
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(sa.update(Position).values(autopilot=True))
        conn.execute(
            sa.update(Wait).values(
                opened_at=NOW - dt.timedelta(days=2),
                due_at=due,
                warn_at=due,
                escalate_at=NOW + dt.timedelta(days=12),
            )
        )
        count = conn.scalar(sa.select(sa.func.count()).select_from(Wait).where(inside))
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("ANALYZE")
    return count


def measure(app, size: int, inside: int) -> Measured:
    with app.app_context():
        counter = StatementCounter(db.engine)
        settings = settings_service.load(db.session)
        config = EmailConfig.from_app(app)
        db.session.commit()
        started = time.perf_counter()
        statements, outcome = counter.of(lambda: service.run(db.session, NOW, settings, config))
        seconds = time.perf_counter() - started
        again = service.run(db.session, NOW + dt.timedelta(minutes=5), settings, config)
        db.session.remove()
        db.engine.dispose()
    if outcome.failed:
        raise RuntimeError(f"{len(outcome.failed)} update(s) failed, e.g. {outcome.failed[0][1]}")
    return Measured(size, inside, len(outcome.queued), statements, seconds, len(again.queued))


def one_size(kind: str, server: str | None, size: int) -> Measured:
    with fresh_database(kind, f"autopilot{size}", server) as database:
        app = create_app(app_config(database))
        migrate(app)
        inside = build(app, size)
        measured = measure(app, size, inside)
    print(
        f"  {size:>9,} open waits, {measured.inside:,} inside the lead time: queued {measured.queued:,} "
        f"in {measured.seconds:.2f} s, {measured.statements:,} statements, "
        f"{measured.per_update:.2f} per update; a second run queued {measured.again}",
        flush=True,
    )
    return measured


def missed(kind: str, runs: list[Measured], limit: float) -> list[str]:
    problems = [
        f"{kind}: {m.size:,} waits: queued {m.queued:,} updates for {m.inside:,} waits inside the lead time"
        for m in runs
        if m.queued != m.inside
    ]
    problems += [f"{kind}: {m.size:,} waits: a second run queued {m.again}" for m in runs if m.again]
    smallest, largest = runs[0], runs[-1]
    if largest.per_update > smallest.per_update * (1 + limit):
        problems.append(
            f"{kind}: {largest.per_update:.2f} statements per update at {largest.size:,} waits, "
            f"{smallest.per_update:.2f} at {smallest.size:,}"
        )
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="open waits, comma-separated, ascending")
    parser.add_argument("--limit", type=float, default=0.02, help="allowed growth of statements per update")
    add_database_options(parser)
    args = parser.parse_args()
    server, kinds = database_kinds(parser, args)
    sizes = sorted(int(size) for size in args.sizes.split(","))

    def one(kind: str) -> list[str]:
        return missed(kind, [one_size(kind, server, size) for size in sizes], args.limit)

    return each_database(kinds, one)


if __name__ == "__main__":
    sys.exit(main())
