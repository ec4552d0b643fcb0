"""The organisation at scale: every page, command and job at 100,000 and at 1,000,000 waits.

On the PostgreSQL server FEEDBACK_SLA_TEST_DATABASE_URL (or ``--database-url``) names, it builds
once (``benchmarks/scale_data.py``; kept under the name ``scale_<waits>`` for the next run,
``--rebuild`` builds again) an organisation of 100,000 waits (200 managers, 40,000 open) and one
of 1,000,000 (2,000 managers, 400,000 open), then measures on each:

  * pages, through the test client, logged in: the admin's triage page 1 and a middle page, the
    candidates page and a search on it, the positions list and the metrics page; the triage page
    of a manager with about 200 waiting and of one with about 2,000. Each against a floor: the
    page's rows fetched by the best SQL written by hand for it (``benchmarks/scale_floors.py``),
    shown by a minimal Jinja page; the median of interleaved runs, the response size too;
  * autopilot: one run over the organisation's steady-state backlog, on a copy of the database,
    updates queued per second;
  * an organisation-wide settings change (``settings set policy.application``) on a copy: the
    command's peak memory and time, in a process of its own;
  * the export of every wait: time and peak memory against ``psql \\copy`` of the same rows.

It prints every figure at each size, its floor and ratio, and the growth from 100,000 to
1,000,000. Targets: each admin page under 300 ms at 1,000,000 and within 2.5 times its floor,
its size at most 10% above its size at 100,000; autopilot at least 1,000 updates a second at
1,000,000; the settings change's and the export's peak memory at 1,000,000 at most 1.5 times that
at 100,000; the export within 3 times ``psql \\copy``.
Exits non-zero when one is missed, naming it.

    .venv-test/bin/python benchmarks/scale.py [--sizes 100000 1000000] [--database-url URL]
        [--runs 15] [--rebuild] [--only pages|autopilot|settings|export]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
import time_machine

from benchmarks import scale_floors
from benchmarks.common import (
    Database,
    interleaved_medians,
    kilobytes,
    logged_in_client,
    report_misses,
    server_url,
    use_temporary_instance_folder,
)
from benchmarks.export import floor_command
from benchmarks.scale_data import Built, app_config_for, organisation
from feedback_sla import create_app
from feedback_sla.autopilot import service as autopilot
from feedback_sla.database import db
from feedback_sla.emails.config import EmailConfig
from feedback_sla.settings import service as settings_service

PAGE_TARGET_MS = 300.0
PAGE_TARGET_RATIO = 2.5
SIZE_GROWTH = 1.10
AUTOPILOT_TARGET = 1_000.0
MEMORY_GROWTH = 1.5
EXPORT_RATIO = 3.0


@dataclass
class Figure:
    label: str
    value: float
    unit: str
    floor: float | None = None
    size: int | None = None

    @property
    def ratio(self) -> float | None:
        return None if not self.floor else self.value / self.floor

    def line(self) -> str:
        text = f"  {self.label:<38} {self.value:10,.1f} {self.unit:<10}"
        if self.floor is not None:
            text += f" floor {self.floor:9,.1f}  ratio {self.ratio:5.2f}"
        if self.size is not None:
            text += f"  {kilobytes(self.size):>10}"
        return text


# --- pages -------------------------------------------------------------------------------------


def measure_pages(built: Built, runs: int) -> list[Figure]:
    app = create_app(app_config_for(built.uri))
    clients = {"admin": logged_in_client(app, built.admin_email)}
    big, small = scale_floors.manager_sizes(built)
    clients["big manager"] = logged_in_client(app, built.manager_email(big.index))
    clients["small manager"] = logged_in_client(app, built.manager_email(small.index))
    raw = built.raw()
    with app.app_context():
        settings = settings_service.load(db.session)
        db.session.remove()
    pages = scale_floors.pages(raw, built, big, small, clients["admin"], settings)
    figures = []
    for page in pages:
        client = clients[page.who]
        response = client.get(page.url)
        if response.status_code != 200:
            raise RuntimeError(f"{page.label}: {page.url} answered {response.status_code}")
        body = response.get_data()
        page.check(body.decode())
        medians = interleaved_medians(
            {"app": lambda c=client, u=page.url: c.get(u).get_data(), "floor": lambda p=page: p.floor()},
            runs,
            budget_seconds=15,
        )
        figures.append(Figure(page.label, medians["app"], "ms", medians["floor"], len(body)))
        print(figures[-1].line(), flush=True)
    raw.close()
    with app.app_context():
        db.engine.dispose()  # the copies made next need the database to themselves
    return figures


# --- jobs on a copy of the database --------------------------------------------------------------


def scratch_copy(built: Built, server: str) -> str:
    """A copy of the organisation to change (CREATE DATABASE … TEMPLATE): its conninfo."""
    name = f"{built.name}_scratch"
    admin = psycopg.conninfo.make_conninfo(built.conninfo, dbname="postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{built.name}"')
    return name


def drop(built: Built, name: str) -> None:
    admin = psycopg.conninfo.make_conninfo(built.conninfo, dbname="postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def measure_autopilot(built: Built, server: str) -> list[Figure]:
    """One ``autopilot run`` over the steady-state backlog, on a copy, in this process: the run's
    own time (``autopilot.service.run`` as the command calls it, at the build's time)."""
    name = scratch_copy(built, server)
    try:
        uri = built.uri.rsplit("/", 1)[0] + f"/{name}"
        app = create_app({**app_config_for(uri), "BASE_URL": "https://jobs.example.com"})
        with app.app_context():
            config = settings_service.email_config(db.session, EmailConfig.from_app(app))
            settings = settings_service.load(db.session)
            started = time.perf_counter()
            outcome = autopilot.run(db.session, built.built_at, settings, config)
            seconds = time.perf_counter() - started
            db.session.remove()
            db.engine.dispose()
    finally:
        drop(built, name)
    queued = len(outcome.queued)
    if outcome.failed or not queued:
        raise RuntimeError(f"autopilot queued {queued}, failed {len(outcome.failed)}")
    figure = Figure(f"autopilot run ({queued:,} queued)", queued / seconds, "updates/s")
    print(figure.line(), flush=True)
    return [figure]


def measure_settings(built: Built, server: str) -> list[Figure]:
    name = scratch_copy(built, server)
    try:
        rss = peak_rss_of(built, name, "settings", "set", "policy.application", "6")
    finally:
        drop(built, name)
    figures = [Figure("settings set policy.application 6", rss[0], "s"),
               Figure("  its peak memory", rss[1] / 1024, "MB")]  # fmt: skip
    for figure in figures:
        print(figure.line(), flush=True)
    return figures


def peak_rss_of(built: Built, database: str, *args: str) -> tuple[float, int]:
    """A command's seconds and its own peak RSS (KB), in a child of a fresh process (so that the
    peak is the command's, not this script's)."""
    runner = (
        "import resource, subprocess, sys, time\n"
        "t = time.perf_counter(); subprocess.run(sys.argv[1:], check=True, capture_output=True)\n"
        "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    uri = built.uri.rsplit("/", 1)[0] + f"/{database}"
    env = {**os.environ, "FEEDBACK_SLA_DATABASE_URL": uri, "FEEDBACK_SLA_SECRET_KEY": "benchmark-only"}
    clock = (
        "import sys, time_machine, datetime as dt\n"
        f"time_machine.travel(dt.datetime.fromisoformat({built.built_at.isoformat()!r}), tick=True).start()\n"
        "from feedback_sla.cli import main\n"
        "sys.argv = ['feedback-sla', *sys.argv[1:]]\n"
        "main()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", runner, sys.executable, "-c", clock, *args],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    seconds, peak = done.stdout.split()
    return float(seconds), int(peak)


def measure_export(built: Built) -> list[Figure]:
    """The export of every wait (``export response-times``, its own process, start-up included)
    against ``psql \\copy`` of the same rows (``benchmarks/export.py``'s floor)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "export.csv")
        seconds, peak = peak_rss_of(built, built.name, "export", "response-times", "--output", out)
        database = Database("postgresql", built.uri, conninfo=built.conninfo)
        command, _ = floor_command(database, built.built_at, Path(tmp) / "floor.csv")
        started = time.perf_counter()
        with open(os.path.join(tmp, "floor.csv"), "wb") as floor_out:
            subprocess.run(command, stdout=floor_out, check=True)
        floor = time.perf_counter() - started
    figures = [
        Figure("export of every wait", seconds, "s", floor),
        Figure("  the export's peak memory", peak / 1024, "MB"),
    ]
    for figure in figures:
        print(figure.line(), flush=True)
    return figures


# --- the run ------------------------------------------------------------------------------------


def one_size(server: str, waits: int, args) -> dict[str, Figure]:
    built = organisation(server, waits, rebuild=args.rebuild)
    print(f"{waits:,} waits, {built.managers:,} managers (built for {built.built_at:%Y-%m-%d %H:%M} UTC)")
    figures: list[Figure] = []
    if args.only in (None, "pages"):
        with time_machine.travel(built.built_at, tick=True):
            figures += measure_pages(built, args.runs)
    if args.only in (None, "autopilot"):
        figures += measure_autopilot(built, server)
    if args.only in (None, "settings"):
        figures += measure_settings(built, server)
    if args.only in (None, "export"):
        figures += measure_export(built)
    return {f.label.split(" (")[0]: f for f in figures}


def missed(sizes: list[int], results: dict[int, dict[str, Figure]]) -> list[str]:
    problems = []
    largest, smallest = results[max(sizes)], results[min(sizes)]
    for label, figure in largest.items():
        if figure.unit == "ms" and label.startswith("admin"):
            if figure.value > PAGE_TARGET_MS:
                problems.append(
                    f"{label}: {figure.value:.0f} ms at {max(sizes):,} (target {PAGE_TARGET_MS:.0f})"
                )
            if figure.ratio and figure.ratio > PAGE_TARGET_RATIO:
                problems.append(f"{label}: {figure.ratio:.2f}x its floor (target {PAGE_TARGET_RATIO})")
            small = smallest.get(label)
            if small and small.size and figure.size > small.size * SIZE_GROWTH:
                problems.append(f"{label}: {kilobytes(figure.size)} against {kilobytes(small.size)}")
        if figure.unit == "updates/s" and figure.value < AUTOPILOT_TARGET:
            problems.append(f"{label}: {figure.value:,.0f} updates/s (target {AUTOPILOT_TARGET:,.0f})")
    export = largest.get("export of every wait")
    if export is not None and export.ratio > EXPORT_RATIO:
        problems.append(f"export: {export.ratio:.2f}x psql \\copy (target {EXPORT_RATIO})")
    for memory, what in (("  its peak memory", "settings change"), ("  the export's peak memory", "export")):
        if memory in largest and memory in smallest and len(sizes) > 1:
            growth = largest[memory].value / smallest[memory].value
            print(f"{what} memory: {growth:.2f}x from {min(sizes):,} to {max(sizes):,} waits")
            if growth > MEMORY_GROWTH:
                problems.append(f"{what} memory grows {growth:.2f}x (target {MEMORY_GROWTH})")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=[100_000, 1_000_000])
    parser.add_argument("--database-url", help="PostgreSQL server (default: $FEEDBACK_SLA_TEST_DATABASE_URL)")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--only", choices=("pages", "autopilot", "settings", "export"))
    args = parser.parse_args()
    server = server_url(args.database_url)
    if not server:
        parser.error("needs --database-url or FEEDBACK_SLA_TEST_DATABASE_URL (PostgreSQL)")
    results = {}
    with tempfile.TemporaryDirectory() as instance:
        use_temporary_instance_folder(instance)
        for waits in args.sizes:
            results[waits] = one_size(server, waits, args)
    if len(args.sizes) > 1:
        print("growth from the smallest to the largest:")
        for label, figure in results[max(args.sizes)].items():
            small = results[min(args.sizes)].get(label)
            if small and small.value:
                print(f"  {label:<38} {figure.value / small.value:6.2f}x")
    return report_misses(missed(args.sizes, results))


if __name__ == "__main__":
    sys.exit(main())
