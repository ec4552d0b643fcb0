"""Greenhouse webhook ingestion against adding the same candidates directly.

On a database of its own (SQLite, and PostgreSQL when FEEDBACK_SLA_TEST_DATABASE_URL or
``--database-url`` names a server) it builds an organisation (``--managers`` 200, ``--waiting``
10,000 waiting candidates), connects a Greenhouse source as an admin does, and posts ``--deliveries``
(2,000) signed ``new_candidate_application`` deliveries through the test client to the source's
webhook URL: Greenhouse's own documented example (tests/webhooks/vendor/greenhouse), each with an
application, a person, an event id and an address of its own, over ``--jobs`` (5) jobs, signed as
Greenhouse signs (``Signature: sha256 <hex>``, HMAC-SHA256 of the raw body). Each one is verified,
stored once, read, mapped and applied through ``waits.service.add_candidate``, as in production.

The floor, measured in the same run: the same candidates (name, address, stage, application time)
added through ``waits.service.add_candidate`` directly, what the web form calls, committed one by
one as each request commits, into positions made beforehand. The two alternate in batches of
``--batch`` (50), so both meet the same machine load. It prints both rates, the ratio (webhook rate
over the floor's) and the SQL statements per delivery and per direct add.

Target: a ratio of at least 0.5 on PostgreSQL, the database of a production with several workers;
exits non-zero when missed. On SQLite the ratio is printed for information: there both sides are
bound by the processor alone, and a request's own work (the Flask request, the source, the
settings, the stored delivery) weighs more against an add that costs no round trip.

    .venv/bin/python benchmarks/webhooks.py [--deliveries 2000] [--waiting 10000] [--managers 200]
        [--jobs 5] [--batch 50] [--databases sqlite postgresql] [--database-url URL]
        [--statements] [--profile]

``--statements`` lists the statements of one delivery and of one direct add, with their time;
``--profile`` prints the 30 costliest functions of the webhook batches (cumulative, then own time).

Another script calls ``measure("sqlite")`` or ``measure(postgresql_url)`` for the figures as a dict.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import hashlib
import hmac
import io
import json
import os
import pstats
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path

from sqlalchemy import func, select

from benchmarks.common import (
    FIRST_NAMES,
    StatementCounter,
    add_database_options,
    app_config,
    build_organisation,
    database_kinds,
    each_database,
    fresh_database,
    migrate,
    server_url,
    spread,
    surnames,
)
from feedback_sla import create_app
from feedback_sla.accounts.models import User
from feedback_sla.ats import sources
from feedback_sla.ats.models import Delivery, DeliveryStatus, ExternalId, Kind
from feedback_sla.candidates.models import Candidate
from feedback_sla.database import db
from feedback_sla.positions import service as positions_service
from feedback_sla.positions.models import Position
from feedback_sla.settings import service as settings_service
from feedback_sla.timeutil import utcnow
from feedback_sla.waits import service as waits_service
from feedback_sla.waits.models import Wait

TARGET_RATIO = 0.5
TARGETED = frozenset({"postgresql"})
DOCUMENTED = (
    Path(__file__).resolve().parent.parent
    / "tests"
    / "webhooks"
    / "vendor"
    / "greenhouse"
    / "new_candidate_application.json"
)
SECRET = "benchmark-greenhouse-secret"  # noqa: S105  (a throwaway source in a throwaway database)
#: Greenhouse's example is at "Preliminary Phone Screen", which the default stage names map to this.
STAGE = "screen"


@dataclass(frozen=True)
class Applicant:
    n: int
    first: str
    last: str
    email: str
    job: int
    applied_at: dt.datetime

    @property
    def name(self) -> str:
        return f"{self.first} {self.last}"


def applicants(count: int, jobs: int, now: dt.datetime) -> list[Applicant]:
    last_names = surnames()
    return [
        Applicant(
            n,
            FIRST_NAMES[n % len(FIRST_NAMES)],
            last_names[n % len(last_names)],
            f"applicant.{n:06d}@example.org",
            n % jobs,
            (now - dt.timedelta(hours=1, seconds=n)).replace(microsecond=0),
        )
        for n in range(count)
    ]


def signed_delivery(template: str, person: Applicant) -> tuple[bytes, dict[str, str]]:
    """Greenhouse's documented new application for ``person``, and its headers as Greenhouse sends them."""
    payload = json.loads(template)
    application = payload["payload"]["application"]
    applied = person.applied_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    application.update(id=70_000_000 + person.n, applied_at=applied, last_activity_at=applied)
    application["jobs"][0].update(id=4_100_000 + person.job, name=f"Greenhouse job {person.job}")
    candidate = application["candidate"]
    candidate.update(id=48_000_000 + person.n, first_name=person.first, last_name=person.last)
    candidate["email_addresses"] = [
        {"value": f"work.{person.n:06d}@example.com", "type": "work"},
        {"value": person.email, "type": "personal"},
    ]
    body = json.dumps(payload).encode()
    signature = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    headers = {
        "Content-Type": "application/json",
        "Signature": f"sha256 {signature}",
        "Greenhouse-Event-ID": f"bench-{person.n:06d}",
    }
    return body, headers


@dataclass(frozen=True)
class Figures:
    kind: str
    deliveries: int
    waiting: int
    webhook_seconds: float
    floor_seconds: float
    webhook_statements: float  # per delivery, over a batch posted after the timed ones
    floor_statements: float  # per direct add, over a batch added after the timed ones

    @property
    def webhook_per_second(self) -> float:
        return self.deliveries / self.webhook_seconds

    @property
    def floor_per_second(self) -> float:
        return self.deliveries / self.floor_seconds

    @property
    def ratio(self) -> float:
        return self.webhook_per_second / self.floor_per_second

    def as_dict(self) -> dict:
        return {
            **asdict(self),
            "webhook_per_second": self.webhook_per_second,
            "floor_per_second": self.floor_per_second,
            "ratio": self.ratio,
            "target": TARGET_RATIO,
            "targeted": self.kind in TARGETED,
            "met": self.ratio >= TARGET_RATIO,
        }


class Ingestion:
    """A connected Greenhouse source and the floor's positions, in an app with an organisation."""

    def __init__(self, app, default_manager_email: str, jobs: int, now: dt.datetime) -> None:
        self.app = app
        with app.app_context():
            manager = db.session.scalar(select(User).where(User.email == default_manager_email))
            new = sources.NewSource(Kind.GREENHOUSE, "Greenhouse", manager, SECRET)
            source = sources.create_source(db.session, new, now)
            self.path, self.source_id = sources.webhook_path(source), source.id
            # The webhook creates its jobs' positions on first sight; the floor's are made here.
            made = [
                positions_service.create_position(db.session, f"Direct job {j}", manager) for j in range(jobs)
            ]
            db.session.commit()
            self.position_ids = [p.id for p in made]
            self.counter = StatementCounter(db.engine)
        self.client = app.test_client()

    def post(self, batch: list[tuple[bytes, dict[str, str]]]) -> None:
        for body, headers in batch:
            response = self.client.post(self.path, data=body, headers=headers)
            if response.status_code != 200 or response.json["status"] != DeliveryStatus.PROCESSED:
                raise RuntimeError(f"webhook answered {response.status_code}: {response.data[:300]!r}")

    def add(self, batch: list[Applicant]) -> None:
        with self.app.app_context():
            settings = settings_service.load(db.session)
            positions = [db.session.get(Position, pid) for pid in self.position_ids]
            for person in batch:
                waits_service.add_candidate(
                    db.session,
                    positions[person.job],
                    person.name,
                    person.email,
                    person.applied_at,
                    settings,
                    stage=STAGE,
                    now=utcnow(),
                )
                db.session.commit()

    def check(self, count: int) -> None:
        """Every delivery processed, and the webhook wrote what the floor wrote: a candidate at the
        same stage with an open wait for each, and one application mapped to each."""
        with self.app.app_context():
            processed = db.session.scalar(
                select(func.count())
                .select_from(Delivery)
                .where(Delivery.source_id == self.source_id, Delivery.status == DeliveryStatus.PROCESSED)
            )
            mapped = db.session.scalar(
                select(func.count(func.distinct(ExternalId.candidate_id))).where(
                    ExternalId.source_id == self.source_id, ExternalId.candidate_id.is_not(None)
                )
            )
            waiting = db.session.scalar(
                select(func.count())
                .select_from(Wait)
                .join(Candidate, Candidate.id == Wait.candidate_id)
                .join(ExternalId, ExternalId.candidate_id == Candidate.id)
                .where(
                    ExternalId.source_id == self.source_id, Wait.closed_at.is_(None), Candidate.stage == STAGE
                )
            )
        if not processed == mapped == waiting == count:
            raise RuntimeError(
                f"of {count:,} deliveries: {processed:,} processed, {mapped:,} candidates mapped, "
                f"{waiting:,} waiting at stage {STAGE}"
            )


def ingest(app, default_manager_email: str, count: int, jobs: int, batch: int, show: bool, profile: bool):
    """Time ``count`` deliveries and ``count`` direct adds, alternating by ``batch``; the seconds
    of each and the statements of one more of each (listed when ``show``)."""
    now = utcnow()
    ingestion = Ingestion(app, default_manager_email, jobs, now)
    people = applicants(count + batch + 1, jobs, now)
    template = DOCUMENTED.read_text()
    signed = [signed_delivery(template, person) for person in people]
    profiler = cProfile.Profile() if profile else None
    webhook_seconds = floor_seconds = 0.0
    for start in range(0, count, batch):
        end = min(start + batch, count)
        with profiler or nullcontext():
            begun = time.perf_counter()
            ingestion.post(signed[start:end])
            webhook_seconds += time.perf_counter() - begun
        begun = time.perf_counter()
        ingestion.add(people[start:end])
        floor_seconds += time.perf_counter() - begun
    ingestion.check(count)
    # A batch more of each, counted (candidates of their own: more addresses), then one more of
    # each whose statements are listed.
    extra = slice(count, count + batch)
    webhook_statements = ingestion.counter.of(lambda: ingestion.post(signed[extra]))[0] / batch
    floor_statements = ingestion.counter.of(lambda: ingestion.add(people[extra]))[0] / batch
    if show:
        ingestion.counter.of(lambda: ingestion.post(signed[count + batch :]))
        print("    one delivery:")
        print("\n".join(f"      {line}" for line in ingestion.counter.describe()))
        ingestion.counter.of(lambda: ingestion.add(people[count + batch :]))
        print("    one direct add (the settings and the positions are read once per batch, here for one):")
        print("\n".join(f"      {line}" for line in ingestion.counter.describe()))
    if profiler is not None:
        out = io.StringIO()
        for order in ("cumulative", "tottime"):
            pstats.Stats(profiler, stream=out).sort_stats(order).print_stats(30)
        print(out.getvalue())
    return webhook_seconds, floor_seconds, webhook_statements, floor_statements


@contextmanager
def _instance_folder() -> Iterator[None]:
    """The app's instance folder out of the working tree: the caller's, else a temporary one."""
    if os.environ.get("FEEDBACK_SLA_INSTANCE_PATH"):
        yield
        return
    with tempfile.TemporaryDirectory() as folder:
        os.environ["FEEDBACK_SLA_INSTANCE_PATH"] = folder
        try:
            yield
        finally:
            del os.environ["FEEDBACK_SLA_INSTANCE_PATH"]


def measure(
    kind_or_url: str = "sqlite",
    *,
    deliveries: int = 2000,
    waiting: int = 10_000,
    managers: int = 200,
    jobs: int = 5,
    batch: int = 50,
    statements: bool = False,
    profile: bool = False,
) -> dict:
    """The figures on "sqlite", on "postgresql" (the server of FEEDBACK_SLA_TEST_DATABASE_URL) or on
    the PostgreSQL server a URL names, each in a database made for the run and dropped after."""
    kind = "sqlite" if kind_or_url == "sqlite" else "postgresql"
    server = None if kind == "sqlite" else server_url(None if kind_or_url == "postgresql" else kind_or_url)
    if kind == "postgresql" and server is None:
        raise ValueError("postgresql needs a URL or FEEDBACK_SLA_TEST_DATABASE_URL")
    with _instance_folder(), fresh_database(kind, "webhooks", server) as database:
        app = create_app(app_config(database))
        migrate(app)
        started = time.perf_counter()
        org = build_organisation(app, spread(waiting, managers), utcnow())
        print(
            f"  built {org.waiting:,} waiting candidates over {managers} managers; "
            f"{time.perf_counter() - started:.1f} s",
            flush=True,
        )
        seconds = ingest(app, org.manager_emails[0], deliveries, jobs, batch, statements, profile)
        with app.app_context():
            db.engine.dispose()
    return Figures(kind, deliveries, waiting, *seconds).as_dict()


def report(f: dict, jobs: int) -> None:
    print(
        f"    {f['deliveries']:,} signed Greenhouse new applications over {jobs} jobs: "
        f"{f['webhook_seconds']:.1f} s, {f['webhook_per_second']:,.1f} per second, "
        f"{f['webhook_statements']:.1f} statements each\n"
        f"    floor, add_candidate and commit: {f['floor_seconds']:.1f} s, "
        f"{f['floor_per_second']:,.1f} per second, {f['floor_statements']:.1f} statements each\n"
        f"    ratio {f['ratio']:.2f} "
        + (f"(target at least {TARGET_RATIO})" if f["targeted"] else "(for information)"),
        flush=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=2000)
    parser.add_argument("--waiting", type=int, default=10_000, help="waiting candidates already there")
    parser.add_argument("--managers", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=5, help="Greenhouse jobs the deliveries apply to")
    parser.add_argument("--batch", type=int, default=50, help="deliveries, then direct adds, in turn")
    parser.add_argument("--statements", action="store_true", help="list one delivery's SQL with its time")
    parser.add_argument("--profile", action="store_true", help="cProfile the webhook batches")
    add_database_options(parser)
    args = parser.parse_args()
    server, kinds = database_kinds(parser, args)

    def one(kind: str) -> list[str]:
        figures = measure(
            kind if kind == "sqlite" else server,
            deliveries=args.deliveries,
            waiting=args.waiting,
            managers=args.managers,
            jobs=args.jobs,
            batch=args.batch,
            statements=args.statements,
            profile=args.profile,
        )
        report(figures, args.jobs)
        if figures["met"] or not figures["targeted"]:
            return []
        return [
            f"{kind} webhooks: ratio {figures['ratio']:.2f} to add_candidate (target at least {TARGET_RATIO})"
        ]

    return each_database(kinds, one)


if __name__ == "__main__":
    sys.exit(main())
