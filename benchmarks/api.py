"""JSON API speed: listing a manager's candidates, and Greenhouse webhook ingestion.

On SQLite, and on PostgreSQL when FEEDBACK_SLA_TEST_DATABASE_URL (or ``--database-url``) names a
server, it builds an organisation of 200 managers and 100,000 candidates (the benchmarked manager
has 10,000) and gives that manager an API token. Then:

- **listing**: ``GET /api/v1/candidates?limit=50`` with ``Authorization: Bearer``, page 1 and a
  middle page (through its cursor), through the test client. Floor: the same 50 rows with the same
  fields by one raw SQL query on the plain driver (stdlib sqlite3, psycopg), ``json.dumps``'d.
  Prints the median server time, the response size and the ratio. Target: at most 3, on each
  database. Exits non-zero when missed.
- **webhook ingestion**: 10,000 distinct signed Greenhouse ``new_candidate_application``
  deliveries (tests/webhooks; ``Signature: sha256 <hex>`` and ``Greenhouse-Event-ID``) over a few
  jobs, posted to the source's URL through the test client. Floor: the same 10,000 candidates added
  directly through ``waits.service.add_candidate``, committed one by one as a request commits.
  The two are timed in alternating batches, so both meet the same machine load. Prints deliveries
  per second, the floor's candidates per second and the ratio (for information: no target).

    .venv-test/bin/python benchmarks/api.py [--candidates 100000] [--managers 200]
        [--manager-candidates 10000] [--deliveries 10000] [--jobs 5] [--runs 30]
        [--databases sqlite postgresql] [--database-url URL] [--statements]

``--statements`` lists each API page's SQL statements with their time in one warm request.
"""

from __future__ import annotations

import argparse
import base64
import copy
import datetime as dt
import hashlib
import hmac
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select

from benchmarks.common import (
    Database,
    StatementCounter,
    add_database_options,
    app_config,
    build_organisation,
    database_kinds,
    each_database,
    fresh_database,
    interleaved_medians,
    kilobytes,
    migrate,
    raw_sql,
    spread,
)
from feedback_sla import create_app
from feedback_sla.accounts.models import User
from feedback_sla.accounts.tokens import create_token
from feedback_sla.ats import sources
from feedback_sla.ats.models import Delivery, DeliveryStatus, Kind
from feedback_sla.candidates.models import Candidate
from feedback_sla.database import db
from feedback_sla.positions import service as positions_service
from feedback_sla.positions.models import Position
from feedback_sla.settings import service as settings_service
from feedback_sla.timeutil import utcnow
from feedback_sla.waits import service as waits_service

TARGET_RATIO = 3.0
LIMIT = 50
SAMPLE = (
    Path(__file__).resolve().parent.parent
    / "tests"
    / "webhooks"
    / "greenhouse_new_candidate_application.json"
)
SECRET = "benchmark-webhook-secret"  # noqa: S105  (a throwaway source in a throwaway database)
BATCHES = 10  # ingestion and its floor alternate this many times


# --- listing --------------------------------------------------------------------------------------

#: ``web.api.candidates.list_candidates`` for a manager, by hand: the page and one row more.
LIST_SQL = """
SELECT c.id, c.name, c.email, c.position_id, p.title, u.email, c.stage, c.status, w.due_at,
       c.time_zone, c.language
FROM candidates c
JOIN positions p ON p.id = c.position_id
JOIN users u ON u.id = p.manager_id
LEFT JOIN waits w ON w.candidate_id = c.id AND w.closed_at IS NULL
WHERE c.id > %(after)s AND p.manager_id = %(manager)s
ORDER BY c.id
LIMIT %(limit)s
"""


def cursor_of(last_id: int) -> str:
    return base64.urlsafe_b64encode(last_id.to_bytes(8, "big")).decode().rstrip("=")


def _iso(value, kind: str) -> str | None:
    if value is None:
        return None
    if kind == "sqlite":  # naive UTC text
        value = dt.datetime.fromisoformat(value).replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).isoformat()


def list_floor(connection, kind: str, manager_id: int, after: int) -> str:
    """The API's page done by hand: one raw query, the rows as dicts, ``json.dumps``."""
    params = {"after": after, "manager": manager_id, "limit": LIMIT + 1}
    rows = connection.execute(raw_sql(LIST_SQL, kind), params).fetchall()
    more = len(rows) > LIMIT
    rows = rows[:LIMIT]
    items = [
        {
            "id": r[0],
            "name": r[1],
            "email": r[2],
            "position_id": r[3],
            "position": r[4],
            "manager": r[5],
            "stage": r[6],
            "status": r[7],
            "due_at": _iso(r[8], kind),
            "time_zone": r[9],
            "language": r[10],
        }
        for r in rows
    ]
    return json.dumps({"items": items, "next_cursor": cursor_of(rows[-1][0]) if more else None})


@dataclass(frozen=True)
class ListFigures:
    label: str
    size: int
    api_ms: float
    floor_ms: float
    statements: int
    sql: tuple[str, ...] = ()  # each statement of one warm request, with its time

    @property
    def ratio(self) -> float:
        return self.api_ms / self.floor_ms


def _same_times(api: dict, floor: dict) -> bool:
    """The two pages hold the same rows; times compared as instants (formats may differ)."""
    if api["next_cursor"] != floor["next_cursor"] or len(api["items"]) != len(floor["items"]):
        return False
    for a, f in zip(api["items"], floor["items"], strict=True):
        a, f = dict(a), dict(f)
        ta, tf = a.pop("due_at"), f.pop("due_at")
        if a != f:
            return False
        if (ta is None) != (tf is None):
            return False
        if ta is not None and dt.datetime.fromisoformat(ta) != dt.datetime.fromisoformat(tf):
            return False
    return True


def measure_listing(
    app, database: Database, manager_id: int, manager_email: str, runs: int
) -> list[ListFigures]:
    with app.app_context():
        counter = StatementCounter(db.engine)
        user = db.session.scalar(select(User).where(User.email == manager_email))
        secret = create_token(db.session, user, "benchmark", utcnow()).secret
        db.session.commit()
        ids = list(
            db.session.scalars(
                select(Candidate.id)
                .join(Position, Position.id == Candidate.position_id)
                .where(Position.manager_id == manager_id)
                .order_by(Candidate.id)
            )
        )
    client = app.test_client()
    headers = {"Authorization": f"Bearer {secret}"}
    middle_after = ids[len(ids) // 2 - 1]
    cases = [
        ("page 1", None, 0),
        (f"middle page (after {len(ids) // 2:,})", cursor_of(middle_after), middle_after),
    ]
    connection = database.raw()
    figures = []
    try:
        for label, cursor, after in cases:
            url = f"/api/v1/candidates?limit={LIMIT}" + (f"&cursor={cursor}" if cursor else "")

            def api(url=url):
                response = client.get(url, headers=headers)
                assert response.status_code == 200, (response.status_code, response.data[:300])
                return response

            def floor(after=after):
                return list_floor(connection, database.kind, manager_id, after)

            body = api().data
            if not _same_times(json.loads(body), json.loads(floor())):
                raise RuntimeError(f"{label}: the API's page and the floor's differ")
            medians = interleaved_medians({"api": api, "floor": floor}, runs)
            statements, _ = counter.of(api)  # a warm request, as the timed ones
            figures.append(
                ListFigures(
                    label, len(body), medians["api"], medians["floor"], statements, tuple(counter.describe())
                )
            )
    finally:
        connection.close()
    return figures


# --- webhook ingestion ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Applicant:
    n: int
    first: str
    last: str
    email: str
    job: int
    applied_at: dt.datetime


def applicants(count: int, jobs: int, now: dt.datetime) -> list[Applicant]:
    return [
        Applicant(
            n,
            ("Ada", "Alan", "Grace", "Edsger", "Barbara")[n % 5],
            f"Webhook{n:05d}",
            f"applicant.{n:05d}@example.org",
            n % jobs,
            (now - dt.timedelta(hours=1, seconds=n)).replace(microsecond=0),
        )
        for n in range(count)
    ]


def deliveries(people: list[Applicant], manager_emails: list[str]) -> list[tuple[bytes, dict]]:
    """A signed Greenhouse delivery per applicant: distinct application, candidate and event ids."""
    template = json.loads(SAMPLE.read_text())
    signed = []
    for person in people:
        payload = copy.deepcopy(template)
        application = payload["payload"]["application"]
        application["id"] = 70_000_000 + person.n
        application["applied_at"] = application["last_activity_at"] = person.applied_at.strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        )
        job = application["jobs"][0]
        job["id"] = 4_100_000_000 + person.job
        job["name"] = f"Greenhouse job {person.job}"
        job["hiring_team"]["hiring_managers"][0]["email"] = manager_emails[person.job % len(manager_emails)]
        candidate = application["candidate"]
        candidate.update(id=48_000_000 + person.n, first_name=person.first, last_name=person.last)
        candidate["email_addresses"] = [{"value": person.email, "type": "personal"}]
        body = json.dumps(payload).encode()
        signature = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        signed.append(
            (
                body,
                {
                    "Content-Type": "application/json",
                    "Signature": f"sha256 {signature}",
                    "Greenhouse-Event-ID": f"bench-{person.n:06d}",
                },
            )
        )
    return signed


@dataclass(frozen=True)
class IngestFigures:
    deliveries: int
    webhook_seconds: float
    floor_seconds: float

    @property
    def webhook_rate(self) -> float:
        return self.deliveries / self.webhook_seconds

    @property
    def floor_rate(self) -> float:
        return self.deliveries / self.floor_seconds

    @property
    def ratio(self) -> float:
        return self.webhook_seconds / self.floor_seconds


def measure_ingestion(app, org_manager_emails: list[str], count: int, jobs: int) -> IngestFigures:
    now = utcnow()
    people = applicants(count, jobs, now)
    signed = deliveries(people, org_manager_emails[:jobs])
    with app.app_context():
        default_manager = db.session.scalar(select(User).where(User.email == org_manager_emails[0]))
        source = sources.create_source(
            db.session, sources.NewSource(Kind.GREENHOUSE, "Greenhouse", default_manager, SECRET), now
        )
        path = sources.webhook_path(source)
        source_id = source.id
        # The floor's own positions (the webhook creates its jobs' positions on first sight).
        managers = {
            email: db.session.scalar(select(User).where(User.email == email))
            for email in org_manager_emails[:jobs]
        }
        floor_positions = [
            positions_service.create_position(
                db.session, f"Direct job {j}", managers[org_manager_emails[j % len(managers)]]
            )
            for j in range(jobs)
        ]
        db.session.commit()
        floor_position_ids = [p.id for p in floor_positions]
    client = app.test_client()

    def post_batch(batch: list[tuple[bytes, dict]]) -> None:
        for body, headers in batch:
            response = client.post(path, data=body, headers=headers)
            assert response.status_code == 200, (response.status_code, response.data[:300])

    def add_batch(batch: list[Applicant]) -> None:
        with app.app_context():
            settings = settings_service.load(db.session)
            positions = [db.session.get(Position, pid) for pid in floor_position_ids]
            for person in batch:
                waits_service.add_candidate(
                    db.session,
                    positions[person.job],
                    f"{person.first} {person.last}",
                    person.email,
                    person.applied_at,
                    settings,
                    now=utcnow(),
                )
                db.session.commit()

    webhook_seconds = floor_seconds = 0.0
    size = -(-count // BATCHES)
    for start in range(0, count, size):
        begun = time.perf_counter()
        post_batch(signed[start : start + size])
        webhook_seconds += time.perf_counter() - begun
        begun = time.perf_counter()
        add_batch(people[start : start + size])
        floor_seconds += time.perf_counter() - begun
    with app.app_context():
        processed = db.session.scalar(
            select(func.count())
            .select_from(Delivery)
            .where(Delivery.source_id == source_id, Delivery.status == DeliveryStatus.PROCESSED.value)
        )
        if processed != count:
            raise RuntimeError(f"{processed:,} of {count:,} deliveries processed")
    return IngestFigures(count, webhook_seconds, floor_seconds)


# --- the run ------------------------------------------------------------------------------------------


def one_database(kind: str, server: str | None, per_manager: list[int], args) -> tuple[list, IngestFigures]:
    with fresh_database(kind, "api", server) as database:
        app = create_app(app_config(database))
        migrate(app)
        started = time.perf_counter()
        org = build_organisation(app, per_manager, utcnow())
        print(
            f"  built {org.waiting:,} candidates over {len(per_manager)} managers (the manager has "
            f"{per_manager[0]:,}); {time.perf_counter() - started:.1f} s"
        )
        listing = measure_listing(app, database, org.manager_ids[0], org.manager_emails[0], args.runs)
        report_listing(listing, args.statements)
        ingestion = measure_ingestion(app, org.manager_emails, args.deliveries, args.jobs)
        report_ingestion(ingestion, args.jobs)
        with app.app_context():
            db.engine.dispose()
        return listing, ingestion


def report_listing(figures: list[ListFigures], statements: bool) -> None:
    print(
        f"    {'GET /api/v1/candidates?limit=50':<34} {'api ms':>8} {'floor ms':>9} {'ratio':>6}"
        f" {'size':>10} {'SQL':>4}"
    )
    for f in figures:
        print(
            f"    {f.label:<34} {f.api_ms:>8.2f} {f.floor_ms:>9.2f} {f.ratio:>6.2f}"
            f" {kilobytes(f.size):>10} {f.statements:>4}"
        )
        for line in f.sql if statements else ():
            print(f"      {line}")


def report_ingestion(f: IngestFigures, jobs: int) -> None:
    print(
        f"    webhook ingestion: {f.deliveries:,} Greenhouse deliveries over {jobs} jobs in "
        f"{f.webhook_seconds:.1f} s, {f.webhook_rate:,.0f} per second; floor (add_candidate, commit each) "
        f"{f.floor_seconds:.1f} s, {f.floor_rate:,.0f} per second; ratio {f.ratio:.2f} (for information)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=100_000)
    parser.add_argument("--managers", type=int, default=200)
    parser.add_argument("--manager-candidates", type=int, default=10_000)
    parser.add_argument("--deliveries", type=int, default=10_000)
    parser.add_argument("--jobs", type=int, default=5, help="Greenhouse jobs the deliveries apply to")
    parser.add_argument("--runs", type=int, default=30, help="timed requests per page (at most)")
    parser.add_argument("--statements", action="store_true", help="list each API page's SQL with its time")
    add_database_options(parser)
    args = parser.parse_args()
    server, kinds = database_kinds(parser, args)
    if args.jobs > args.managers:
        parser.error("--jobs: at most one job per manager")
    per_manager = spread(args.candidates, args.managers, args.manager_candidates)

    def one(kind: str) -> list[str]:
        listing, _ = one_database(kind, server, per_manager, args)
        return [
            f"{kind} API {f.label}: ratio {f.ratio:.2f} to the floor (target at most {TARGET_RATIO})"
            for f in listing
            if f.ratio > TARGET_RATIO
        ]

    return each_database(kinds, one)


if __name__ == "__main__":
    sys.exit(main())
