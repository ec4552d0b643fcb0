"""Autopilot at scale: the updates one `autopilot run` queues per second over a backlog of owed waits.

On a database of its own (SQLite, and PostgreSQL when FEEDBACK_SLA_TEST_DATABASE_URL or
--database-url names a server), builds an organisation in bulk of --waits open waits (default
100,000; 50 managers, 3 positions each, every position with autopilot on, time zones from New York
to Tokyo, status page links on), of which --waiting (default 20,000), spread evenly, are due three
hours after the run (inside the 4 business hours' lead time everywhere) and the rest five days
later. It runs ``autopilot.service.run`` as the command does and prints the updates queued per
second, the run's SQL statements per update; then runs again, which must queue nothing.

The floor: the same rows written by the driver alone (sqlite3 or psycopg, no SQLAlchemy, no
checks) in batches of the same size, each committed: the claim's UPDATE, the outbox rows with their
text and HTML rendered by plain Jinja from the shipped templates (the HTML's styles inlined by
css-inline, as every sent part must be), their status page links and their timeline events.

Floor and run are measured --repeat times (3), each on a fresh copy of the database as built, in
turn so that both meet the same load; the best of each counts (the machine is shared: the best is
the one least slowed by others), and every run's rate is printed.

Targets (exit status 1 when one is missed): on PostgreSQL at least --target (1,000) updates a
second; one update per owed wait, none on the second run; at most --statements (0.1) statements
per update (a batch costs a few, not a few per update). SQLite's rate is printed, not held to it.

    python benchmarks/autopilot.py [--waits 100000] [--waiting 20000] [--repeat 3]
        [--databases sqlite postgresql] [--database-url URL]

``measure(kind_or_url, waiting)`` measures one database ("sqlite", "postgresql" for the server
FEEDBACK_SLA_TEST_DATABASE_URL names, or a PostgreSQL URL) and returns its figures as a dict.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import secrets
import shutil
import sys
import tempfile
import time
from contextlib import contextmanager
from email.utils import make_msgid
from hashlib import sha256
from pathlib import Path

import css_inline
import jinja2
import psycopg
import sqlalchemy as sa

from benchmarks.common import (
    Database,
    StatementCounter,
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
WAITS = 100_000
WAITING = 20_000
INSIDE = dt.timedelta(hours=3)
OUTSIDE = dt.timedelta(days=5)
BASE_URL = "https://feedback.example.com"
TARGET = 1_000.0
STATEMENTS = 0.1
REPEAT = 3
MAIL_TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "mail"


def build(app, waits: int, waiting: int) -> int:
    """The organisation with ``waits`` open waits, autopilot on everywhere, about ``waiting`` of them
    due inside the lead time; how many are."""
    # Built as if a month from now, so that no deadline is near; then the deadlines are set.
    build_organisation(app, spread(waits, MANAGERS), NOW + dt.timedelta(days=30))
    inside = Wait.id % max(1, waits // waiting) == 0
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
    _tidy(app)
    return count


def _tidy(app) -> None:
    """PostgreSQL: the statistics and visibility autovacuum would have by now; SQLite: the log
    folded into the file."""
    with app.app_context(), db.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
        else:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    with app.app_context():
        db.engine.dispose()


# --- the floor: the same rows by the driver alone -------------------------------------------------

_OWED_SQL = """
SELECT w.id, w.candidate_id, w.autopilot_updates, c.name, c.email, p.title, u.name, u.email
FROM waits w JOIN candidates c ON c.id = w.candidate_id JOIN positions p ON p.id = c.position_id
JOIN users u ON u.id = p.manager_id
WHERE w.closed_at IS NULL AND w.due_at <= %(cutoff)s ORDER BY w.due_at, w.id
"""
_CLAIM_SQL = {
    "postgresql": "UPDATE waits SET autopilot_updates = autopilot_updates + 1 WHERE id = ANY(%(ids)s)",
    "sqlite": "UPDATE waits SET autopilot_updates = autopilot_updates + 1"
    " WHERE id IN (SELECT value FROM json_each(%(ids)s))",
}
_OUTBOX_COLUMNS = (
    "candidate_id kind to_name to_address reply_to_name reply_to_address subject text_body html_body "
    "message_id idempotency_key status previous_status promised_date reasons queued_at send_after "
    "next_attempt_at attempts reply_token autopilot"
).split()
_INSERTS = {
    "outbox_messages": _OUTBOX_COLUMNS,
    "status_links": ["candidate_id", "token_hash", "created_at"],
    "events": ["candidate_id", "kind", "body", "data", "occurred_at", "recorded_at"],
}


class _FloorTemplates:
    """The shipped update template rendered by plain Jinja, its HTML's styles inlined."""

    def __init__(self) -> None:
        loader = jinja2.FileSystemLoader(MAIL_TEMPLATES)
        self.text = jinja2.Environment(loader=loader, autoescape=False).get_template("update.txt")  # noqa: S701
        self.html = jinja2.Environment(loader=loader, autoescape=True).get_template("update.html")
        self.subject = jinja2.Environment(autoescape=False).from_string(  # noqa: S701  (a subject line)
            "{{ position }} at {{ company }}: an update on your application"
        )
        self.inliner = css_inline.CSSInliner(load_remote_stylesheets=False, keep_style_tags=False)

    def message(self, row, token: str, kind: str) -> dict:
        wait_id, candidate_id, updates, name, email, title, manager, manager_email = row
        values = {
            "candidate_first_name": name.split()[0], "candidate_name": name, "position": title,
            "manager": manager, "company": "Example Company", "feedback": "",
            "promised_date": "Wednesday, 2 December 2026", "status_url": f"{BASE_URL}/status/{token}",
        }  # fmt: skip
        now, send_after = raw_time(NOW, kind), raw_time(NOW + dt.timedelta(seconds=60), kind)
        return {
            "candidate_id": candidate_id, "kind": "update", "to_name": name, "to_address": email,
            "reply_to_name": manager, "reply_to_address": manager_email,
            "subject": self.subject.render(values), "text_body": self.text.render(values),
            "html_body": self.inliner.inline(self.html.render(values)),
            "message_id": make_msgid(domain="example.com"),
            "idempotency_key": f"floor:{wait_id}:{updates + 1}",
            "status": "pending", "previous_status": "active", "reasons": "[]", "attempts": 0,
            "promised_date": dt.date(2026, 12, 2) if kind == "postgresql" else "2026-12-02",
            "queued_at": now, "send_after": send_after, "next_attempt_at": send_after,
            "reply_token": secrets.token_hex(16), "autopilot": True,
        }  # fmt: skip


def floor(database, batch: int) -> tuple[int, float]:
    """The rows of every owed update written by hand, batch by batch; how many, and the seconds."""
    kind, templates = database.kind, _FloorTemplates()
    sql = {table: _insert_sql(table, columns, kind) for table, columns in _INSERTS.items()}
    connection = database.raw()
    started = time.perf_counter()
    owed = connection.execute(raw_sql(_OWED_SQL, kind), {"cutoff": raw_time(NOW + INSIDE, kind)}).fetchall()
    for start in range(0, len(owed), batch):
        rows = owed[start : start + batch]
        connection.execute(raw_sql(_CLAIM_SQL[kind], kind), {"ids": _array([row[0] for row in rows], kind)})
        tokens = [secrets.token_urlsafe(32) for _ in rows]
        messages = [templates.message(row, token, kind) for row, token in zip(rows, tokens, strict=True)]
        cursor = connection.cursor()
        cursor.executemany(sql["outbox_messages"], messages)
        keys = _array([m["idempotency_key"] for m in messages], kind)
        ids = dict(connection.execute(raw_sql(_IDS_SQL[kind], kind), {"keys": keys}).fetchall())
        cursor.executemany(sql["status_links"], [_link(m, t) for m, t in zip(messages, tokens, strict=True)])
        cursor.executemany(sql["events"], [_event(m, ids[m["idempotency_key"]]) for m in messages])
        connection.commit()
    seconds = time.perf_counter() - started
    connection.close()
    return len(owed), seconds


_IDS_SQL = {
    "postgresql": "SELECT idempotency_key, id FROM outbox_messages WHERE idempotency_key = ANY(%(keys)s)",
    "sqlite": "SELECT idempotency_key, id FROM outbox_messages"
    " WHERE idempotency_key IN (SELECT value FROM json_each(%(keys)s))",
}


def _insert_sql(table: str, columns: list[str], kind: str) -> str:
    names = ", ".join(columns)
    return raw_sql(f"INSERT INTO {table} ({names}) VALUES ({', '.join(f'%({c})s' for c in columns)})", kind)


def _array(values: list, kind: str):
    return values if kind == "postgresql" else json.dumps(values)


def _link(message: dict, token: str) -> dict:
    hashed = sha256(token.encode()).hexdigest()
    return {"candidate_id": message["candidate_id"], "token_hash": hashed, "created_at": message["queued_at"]}


def _event(message: dict, outbox_id: int) -> dict:
    data = {"email_kind": "update", "outbox_id": outbox_id, "send_after": str(message["send_after"]),
            "autopilot": True, "status": None}  # fmt: skip
    return {
        "candidate_id": message["candidate_id"], "kind": "email_queued", "body": message["subject"],
        "data": json.dumps(data), "occurred_at": message["queued_at"], "recorded_at": message["queued_at"],
    }  # fmt: skip


# --- the run ----------------------------------------------------------------------------------------


def run(app) -> dict:
    """One ``autopilot run`` as the command does it, counted, then a second one five minutes on."""
    with app.app_context():
        counter = StatementCounter(db.engine)
        settings = settings_service.load(db.session)
        config = settings_service.email_config(db.session, EmailConfig.from_app(app))
        db.session.commit()
        started, cpu = time.perf_counter(), time.process_time()
        statements, outcome = counter.of(lambda: service.run(db.session, NOW, settings, config))
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        again = service.run(db.session, NOW + dt.timedelta(minutes=5), settings, config)
        db.session.remove()
        db.engine.dispose()
    if outcome.failed:
        raise RuntimeError(f"{len(outcome.failed)} update(s) failed, e.g. {outcome.failed[0][1]}")
    return {
        "queued": len(outcome.queued),
        "skipped": len(outcome.skipped),
        "seconds": seconds,
        "cpu_seconds": cpu,  # this process's own: the database server's are not counted
        "load_average": os.getloadavg()[0],
        "statements": statements,
        "again": len(again.queued),
    }


def measure(kind_or_url: str, waiting: int = WAITING, waits: int = WAITS, repeat: int = REPEAT) -> dict:
    """Build an organisation of ``waits`` open waits (at least ``waiting``) with ``waiting`` owed an
    update, on a database of its own ("sqlite", "postgresql", or a PostgreSQL server's URL); then
    ``repeat`` times, each on a fresh copy of it, the floor and the run: the best of each (the
    machine is shared: the best is the one least slowed by others), with every run's rate."""
    kind = "sqlite" if kind_or_url == "sqlite" else "postgresql"
    server = None if kind == "sqlite" else (server_url(None) if kind_or_url == "postgresql" else kind_or_url)
    if kind == "postgresql" and not server:
        raise ValueError("postgresql needs a server: pass its URL or set FEEDBACK_SLA_TEST_DATABASE_URL")
    waits, runs, floors = max(waits, waiting), [], []
    with _instance_folder(), fresh_database(kind, f"autopilot{waits}", server) as database:
        app = create_app({**app_config(database), "BASE_URL": BASE_URL})
        migrate(app)
        owed = build(app, waits, waiting)
        for round_ in range(repeat):
            with _copy(database, f"floor{round_}") as copy:
                floors.append(floor(copy, service.BATCH))
            with _copy(database, f"run{round_}") as copy:
                runs.append(run(create_app({**app_config(copy), "BASE_URL": BASE_URL})))
    for figures in runs:
        figures["updates_per_second"] = figures["queued"] / figures["seconds"]
    best = max(runs, key=lambda figures: figures["updates_per_second"])
    floor_count, floor_seconds = min(floors, key=lambda counted: counted[1])
    return {
        "database": kind,
        "open_waits": waits,
        "owed": owed,
        **best,
        "rates": [figures["updates_per_second"] for figures in runs],
        "statements_per_update": best["statements"] / best["queued"] if best["queued"] else float("inf"),
        "floor_updates": floor_count,
        "floor_seconds": floor_seconds,
        "floor_updates_per_second": floor_count / floor_seconds,
        "ratio_to_floor": best["seconds"] / floor_seconds,
    }


@contextmanager
def _copy(database: Database, name: str):
    """A copy of the database as built, dropped (or deleted) afterwards."""
    if database.kind == "sqlite":
        path = database.path.with_name(f"{database.path.stem}_{name}.sqlite3")
        shutil.copyfile(database.path, path)  # the build folded its log into the file
        try:
            yield Database("sqlite", f"sqlite:///{path}", path=path)
        finally:
            path.unlink()
        return
    base = sa.engine.make_url(database.uri)
    copy = f"{base.database}_{name}"
    admin = psycopg.conninfo.make_conninfo(database.conninfo, dbname="postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{copy}" TEMPLATE "{base.database}"')
    try:
        yield Database(
            "postgresql",
            base.set(database=copy).render_as_string(hide_password=False),
            conninfo=psycopg.conninfo.make_conninfo(database.conninfo, dbname=copy),
        )
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)')


@contextmanager
def _instance_folder():
    """The app's instance folder in a temporary one, unless the caller chose one."""
    with tempfile.TemporaryDirectory() as folder:
        os.environ.setdefault("FEEDBACK_SLA_INSTANCE_PATH", folder)
        try:
            yield
        finally:
            if os.environ.get("FEEDBACK_SLA_INSTANCE_PATH") == folder:
                del os.environ["FEEDBACK_SLA_INSTANCE_PATH"]


def report(figures: dict) -> None:
    print(
        f"  {figures['open_waits']:,} open waits, {figures['owed']:,} owed an update: the best run queued "
        f"{figures['queued']:,} in {figures['seconds']:.2f} s, "
        f"{figures['updates_per_second']:,.0f} updates/s; "
        f"{figures['statements']:,} statements, {figures['statements_per_update']:.3f} per update; "
        f"a second run queued {figures['again']}",
        flush=True,
    )
    print(f"  every run: {', '.join(f'{rate:,.0f}' for rate in figures['rates'])} updates/s", flush=True)
    print(
        f"  the run's own CPU (this process, not the database's): {figures['cpu_seconds']:.2f} s; "
        f"machine load average {figures['load_average']:.1f} on {os.cpu_count()} cores",
        flush=True,
    )
    print(
        f"  best floor (the same rows by the driver alone): {figures['floor_updates']:,} in "
        f"{figures['floor_seconds']:.2f} s, {figures['floor_updates_per_second']:,.0f} updates/s; "
        f"ratio run / floor {figures['ratio_to_floor']:.2f}",
        flush=True,
    )


def missed(figures: dict, target: float, statements: float) -> list[str]:
    kind, rate, per_update = (
        figures["database"],
        figures["updates_per_second"],
        figures["statements_per_update"],
    )
    problems = []
    if figures["queued"] != figures["owed"]:
        problems.append(f"{kind}: queued {figures['queued']:,} for {figures['owed']:,} owed waits")
    if figures["again"]:
        problems.append(f"{kind}: a second run queued {figures['again']}")
    if per_update > statements:
        problems.append(f"{kind}: {per_update:.3f} statements per update (at most {statements})")
    if kind == "postgresql" and rate < target:
        problems.append(f"{kind}: {rate:,.0f} updates/s (target at least {target:,.0f})")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--waits", type=int, default=WAITS, help="open waits in the organisation")
    parser.add_argument("--waiting", type=int, default=WAITING, help="of them, owed an update at the run")
    parser.add_argument("--target", type=float, default=TARGET, help="updates/s PostgreSQL must reach")
    parser.add_argument("--statements", type=float, default=STATEMENTS, help="most statements per update")
    parser.add_argument(
        "--repeat", type=int, default=REPEAT, help="runs, each on a fresh copy; the best counts"
    )
    add_database_options(parser)
    args = parser.parse_args()
    server, kinds = database_kinds(parser, args)

    def one(kind: str) -> list[str]:
        figures = measure(server if kind == "postgresql" else kind, args.waiting, args.waits, args.repeat)
        report(figures)
        return missed(figures, args.target, args.statements)

    return each_database(kinds, one)


if __name__ == "__main__":
    sys.exit(main())
