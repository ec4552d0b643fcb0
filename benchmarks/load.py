"""The app under load: gunicorn, PostgreSQL, 25 managers at once, against a floor app.

Builds a PostgreSQL database of its own (on the server FEEDBACK_SLA_TEST_DATABASE_URL or
``--database-url`` names; dropped afterwards) with 200 managers and 100,000 waiting candidates:
one manager in five has about 1,800 waiting, the others about 180. With ``--scale WAITS`` it runs
on the organisation of that many waits ``benchmarks/scale_data.py`` builds once and keeps
(``--scale 1000000``: 2,000 managers, 400,000 waiting, most with about 170 waiting, one in fifty
with about 1,700), on a copy made for the run (``CREATE DATABASE ... TEMPLATE``, dropped
afterwards: the one-click actions write), both servers on the clock of its build
(``benchmarks/load_clock.py``); a fifth of the clients are its busiest managers, the others
spread over the rest. Then it serves, side by side,

  * the app: ``gunicorn -w 4 'feedback_sla:create_app()'``, configured by FEEDBACK_SLA_* variables
    (undo window of a day, so nothing is sent; a login limit per address the 25 managers, all on
    127.0.0.1, stay under; every manager logs in once, to their own account);
  * the floor: ``benchmarks/load_floor.py`` under the same gunicorn settings, each page's
    statements (the same the app's page sends, the signed-in user's included) written by hand,
    sent through psycopg and shown by a minimal Jinja page at the same URLs;

and drives each in turn (``--phases`` turns of ``--duration / --phases`` seconds, the order swapped
every turn, so both meet the same load from the rest of the machine) with 25 threads, one
logged-in manager each, with its own cookies. A thread loads its triage page, another page of it
(any of its manager's, as many as its waiting fill), one of its candidates' pages and a search of
the candidates page, over and over; every ``--action-every`` rounds it also posts a one-click
action from the triage page (a follow-up or an update email, in turn, with the page's CSRF token
and nonce) and follows the redirect back. It prints requests per second, p50/p95/p99 latency and
errors of each, per kind of request too, and the ratios of the app to the floor.

Targets: no 5xx; the app's throughput at least 40% of the floor's; its p95 at most 2.5 times the
floor's. Exits non-zero when one is missed.

    .venv-test/bin/python benchmarks/load.py [--database-url URL] [--duration 30] [--phases 3] [--clients 25]
        [--workers 4] [--managers 200] [--waiting 100000] [--action-every 4] [--scale WAITS]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import http.client
import itertools
import math
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import quote, urlencode, urlsplit

import psycopg
import sqlalchemy as sa

from benchmarks import load_clock, scale_data
from benchmarks.common import (
    CSRF_PATTERN,
    NONCE_PATTERN,
    PASSWORD,
    app_config,
    build_organisation,
    fresh_database,
    migrate,
    report_misses,
    server_url,
    surnames,
    use_temporary_instance_folder,
)
from feedback_sla import create_app
from feedback_sla.database import db
from feedback_sla.timeutil import utcnow

ROOT = Path(__file__).resolve().parent.parent
TARGET_THROUGHPUT = 0.4
TARGET_P95 = 2.5
PAGE_SIZE = 50


# --- one manager's browser ------------------------------------------------------------------------


@dataclass
class Samples:
    """Each request's kind, status and milliseconds, and the requests that got no answer."""

    timings: list[tuple[str, int, float]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0  # the phases' time, each from its start to its last answer
    last_end: float = 0.0
    actions: itertools.count = field(default_factory=itertools.count)
    refusals: Counter = field(default_factory=Counter)  # actions a rule refused, by message
    client_cpu: float = 0.0  # seconds of CPU the browsing threads used: what the machine lent the clients
    server_cpu: float = 0.0  # seconds of CPU the gunicorn workers used during the phases
    database_cpu: float = 0.0  # and PostgreSQL's backends serving them (None where /proc cannot tell)


class Browser:
    """One manager on one thread: a cookie jar and a new connection per request (gunicorn's sync
    workers close each one)."""

    def __init__(self, port: int, samples: Samples, deadline: list[float]) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}
        self.samples = samples
        self.deadline = deadline
        self.rounds = 0  # over every phase: the actions keep their rhythm from one to the next

    def request(self, kind: str, method: str, path: str, form: dict | None = None, timed: bool = True):
        """(status, headers, body), or None once the time is up or when no answer came."""
        if timed and time.perf_counter() >= self.deadline[0]:
            return None
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        start = time.perf_counter()
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        try:
            connection.request(method, path, body, headers)
            response = connection.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as exc:
            if timed:
                self.samples.failures.append(f"{kind}: {exc!r}")
            return None
        finally:
            connection.close()
        end = time.perf_counter()
        if timed:
            self.samples.timings.append((kind, response.status, (end - start) * 1000))
            self.samples.last_end = max(self.samples.last_end, end)
        for header in response.headers.get_all("Set-Cookie") or []:
            jar = SimpleCookie()
            jar.load(header)
            for name, morsel in jar.items():
                if morsel["max-age"] == "0" or not morsel.value:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        return response.status, response.headers, data.decode("utf-8", "replace")

    def log_in(self, email: str) -> None:
        _, _, page = self.request("login", "GET", "/login", timed=False)
        token = CSRF_PATTERN.search(page).group(1)
        answer = self.request(
            "login",
            "POST",
            "/login",
            {"email": email, "password": PASSWORD, "csrf_token": token},
            timed=False,
        )
        if answer is None or answer[0] != 302:
            raise RuntimeError(f"login as {email}: {answer and answer[0]}")


#: The number of waiting candidates the triage page shows in its heading.
TOTAL = re.compile(r'data-total="(\d+)"')


def browse(browser: Browser, rng: random.Random, terms: list[str], action_every: int) -> None:
    """Rounds of a manager's work until the time is up."""
    while time.perf_counter() < browser.deadline[0]:
        answer = browser.request("triage page 1", "GET", "/")
        if answer is None or answer[0] != 200:
            continue
        page = answer[2]
        ids = [int(part.split('"', 1)[0]) for part in page.split('data-candidate-id="')[1:]]
        total = TOTAL.search(page)
        pages = math.ceil(int(total.group(1)) / PAGE_SIZE) if total else 2
        browser.request("triage page N", "GET", f"/?page={rng.randint(2, max(2, pages))}")
        if ids:
            browser.request("candidate page", "GET", f"/candidates/{rng.choice(ids)}")
        browser.request("candidates search", "GET", f"/candidates?q={quote(rng.choice(terms).lower())}")
        browser.rounds += 1
        if ids and browser.rounds % action_every == 0:
            _act(browser, page, rng.choice(ids))


def _act(browser: Browser, page: str, candidate_id: int) -> None:
    token, nonce = CSRF_PATTERN.search(page), NONCE_PATTERN.search(page)
    if token is None or nonce is None:
        browser.samples.failures.append("action: no CSRF token or nonce on the triage page")
        return
    # One and the other in turn over all the managers, so each is half of the actions.
    action = "followed-up" if next(browser.samples.actions) % 2 == 0 else "emails/update"
    form = {"csrf_token": token.group(1), "nonce": nonce.group(1), "next": "/"}
    answer = browser.request(f"POST {action}", "POST", f"/candidates/{candidate_id}/{action}", form)
    if answer is not None and answer[0] == 302:
        target = urlsplit(answer[1]["Location"])
        back = browser.request(
            "triage after action", "GET", target.path + (f"?{target.query}" if target.query else "")
        )
        refusal = REFUSAL.search(back[2]) if back else None
        if refusal:  # a rule said no (the page says why): not an error, but nothing was written
            browser.samples.refusals[f"{action}: {' '.join(refusal.group(1).split())[:100]}"] += 1


#: The message a page shows when an action was refused.
REFUSAL = re.compile(r'<div class="alert alert-(?:danger|warning)[^>]*>(.*?)</div>', re.S)


class Managers:
    """The managers on one server: a browser each, logged in once, and all their samples."""

    def __init__(self, port: int, emails: list[str]) -> None:
        self.samples = Samples()
        self.deadline = [math.inf]
        self.browsers = [Browser(port, self.samples, self.deadline) for _ in emails]
        for browser, email in zip(self.browsers, emails, strict=True):
            browser.log_in(email)

    def warm_up(self) -> None:
        """Every kind of page once per manager, untimed: each worker compiles its templates and
        fills its caches before the clock starts."""

        def visit(browser: Browser) -> None:
            answer = browser.request("warm-up", "GET", "/", timed=False)
            paths = ["/?page=2", "/candidates?q=ka"]
            if answer and 'data-candidate-id="' in answer[2]:
                candidate_id = answer[2].split('data-candidate-id="', 1)[1].split('"', 1)[0]
                paths.append(f"/candidates/{candidate_id}")
            for path in paths:
                browser.request("warm-up", "GET", path, timed=False)

        threads = [threading.Thread(target=visit, args=(b,), daemon=True) for b in self.browsers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def browse_for(self, seconds: float, action_every: int, seed: int) -> None:
        """One phase: every manager browses at once, for ``seconds``."""
        terms = surnames()
        threads = [
            threading.Thread(
                target=browse, args=(b, random.Random(seed + i), terms, action_every), daemon=True
            )
            for i, b in enumerate(self.browsers)
        ]
        cpu, started = time.process_time(), time.perf_counter()
        self.deadline[0] = started + seconds
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.samples.client_cpu += time.process_time() - cpu
        self.samples.seconds += max(self.samples.last_end, started) - started


# --- serving ---------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def served(target: str, env: dict[str, str], workers: int, log: Path):
    """``gunicorn -w WORKERS TARGET`` on a free local port, stopped afterwards; yields the port and
    the master's process id."""
    port = _free_port()
    command = [sys.executable, "-m", "gunicorn", "-w", str(workers), "-b", f"127.0.0.1:{port}"]
    with log.open("w") as output:
        process = subprocess.Popen(
            [*command, "--chdir", str(ROOT), target], env=env, stdout=output, stderr=output
        )
    try:
        _wait_until_up(port, process, log)
        yield port, process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_up(port: int, process: subprocess.Popen, log: Path) -> None:
    give_up = time.monotonic() + 60
    while time.monotonic() < give_up:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn stopped:\n{log.read_text()[-3000:]}")
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            connection.request("GET", "/login")
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        finally:
            connection.close()
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer within 60 s:\n{log.read_text()[-3000:]}")


def _environment(extra: dict[str, str]) -> dict[str, str]:
    """This environment without anyone's FEEDBACK_SLA_* settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEEDBACK_SLA_")}
    return env | extra


def app_environment(uri: str, instance: str) -> dict[str, str]:
    named = sa.engine.make_url(uri).update_query_dict({"application_name": "app"})
    return _environment(
        {
            "FEEDBACK_SLA_DATABASE_URL": named.render_as_string(hide_password=False),
            "FEEDBACK_SLA_SECRET_KEY": "load-benchmark-only",
            "FEEDBACK_SLA_SESSION_COOKIE_SECURE": "false",  # plain HTTP on loopback
            "FEEDBACK_SLA_OUTBOX_UNDO_SECONDS": "86400",  # queued emails stay queued: nothing is sent
            "FEEDBACK_SLA_LOGIN_LIMIT_PER_ADDRESS": "1000 per minute",  # every manager on 127.0.0.1
            "FEEDBACK_SLA_INSTANCE_PATH": instance,
        }
    )


# --- CPU --------------------------------------------------------------------------------------------

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _process_cpu(pid: int) -> float:
    """Seconds of CPU a process has used (user and system), 0 if it is gone or /proc cannot tell."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
    return found


def _cpu(conn, master: int, name: str) -> tuple[float, float]:
    """CPU seconds so far of a server's gunicorn workers, and of the PostgreSQL backends of its
    connections (their application_name is the server's name): where the machine's time went."""
    workers = sum(_process_cpu(pid) for pid in _children(master))
    backends = conn.execute("SELECT pid FROM pg_stat_activity WHERE application_name = %s", (name,))
    return workers, sum(_process_cpu(pid) for (pid,) in backends.fetchall())


# --- figures ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    requests: int
    seconds: float
    p50: float
    p95: float
    p99: float
    server_errors: int
    failures: int
    unexpected: dict[int, int]  # other statuses than the ones a page or action answers
    client_cpu: float
    server_cpu: float
    database_cpu: float

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds


#: What each kind of request answers when all is well: pages 200, actions a redirect.
EXPECTED = {"POST followed-up": 302, "POST emails/update": 302}


def figures_of(samples: Samples) -> tuple[Figures, dict[str, tuple[int, float, float]]]:
    times = [ms for _, _, ms in samples.timings]
    cuts = statistics.quantiles(times, n=100, method="inclusive")
    unexpected: dict[int, int] = defaultdict(int)
    by_kind: dict[str, list[float]] = defaultdict(list)
    for kind, status, ms in samples.timings:
        by_kind[kind].append(ms)
        if status < 500 and status != EXPECTED.get(kind, 200):
            unexpected[status] += 1
    kinds = {
        kind: (
            len(values),
            statistics.median(values),
            statistics.quantiles(values, n=20, method="inclusive")[18],
        )
        for kind, values in sorted(by_kind.items())
        if len(values) > 1
    }
    return Figures(
        requests=len(times),
        seconds=samples.seconds,
        p50=cuts[49],
        p95=cuts[94],
        p99=cuts[98],
        server_errors=sum(status >= 500 for _, status, _ in samples.timings),
        failures=len(samples.failures),
        unexpected=dict(unexpected),
        client_cpu=samples.client_cpu,
        server_cpu=samples.server_cpu,
        database_cpu=samples.database_cpu,
    ), kinds


def report(name: str, f: Figures) -> None:
    other = ", ".join(f"{n} answered {s}" for s, n in sorted(f.unexpected.items())) or "no other status"
    print(
        f"  {name:<6} {f.requests:>6} requests in {f.seconds:5.1f} s: {f.per_second:6.1f} per second; "
        f"p50 {f.p50:6.1f} ms, p95 {f.p95:6.1f} ms, p99 {f.p99:6.1f} ms; "
        f"{f.server_errors} 5xx, {f.failures} unanswered; {other}"
    )
    per = 1000 / max(f.requests, 1)
    print(
        f"         CPU per request: gunicorn workers {f.server_cpu * per:.1f} ms, PostgreSQL "
        f"{f.database_cpu * per:.1f} ms, the clients {f.client_cpu * per:.1f} ms"
    )


def report_kinds(app: dict, floor: dict) -> None:
    print("  per kind of request (count, median ms, p95 ms), app | floor:")
    for kind in app:
        a, fl = app[kind], floor.get(kind, (0, math.nan, math.nan))
        print(
            f"    {kind:<20} {a[0]:>6} {a[1]:7.1f} {a[2]:7.1f} | {fl[0]:>6} {fl[1]:7.1f} {fl[2]:7.1f}"
            f"   median ratio {a[1] / fl[1]:5.2f}"
        )


def misses(app: Figures, floor: Figures) -> list[str]:
    missed = []
    if app.server_errors or app.failures:
        missed.append(f"the app answered {app.server_errors} requests with 5xx and {app.failures} not at all")
    if floor.server_errors or floor.failures:
        missed.append(
            f"the floor failed {floor.server_errors + floor.failures} requests: the run is not valid"
        )
    throughput = app.per_second / floor.per_second
    if throughput < TARGET_THROUGHPUT:
        missed.append(f"throughput {throughput:.0%} of the floor's (target at least {TARGET_THROUGHPUT:.0%})")
    if app.p95 / floor.p95 > TARGET_P95:
        missed.append(f"p95 {app.p95 / floor.p95:.2f} times the floor's (target at most {TARGET_P95})")
    return missed


def _written(conn, since: dict[str, int]) -> Counter:
    """What the one-click actions have left in the database since ``since`` (the tables' last ids)."""
    counts = Counter(
        dict(
            conn.execute(
                "SELECT kind, count(*) FROM events WHERE id > %s AND kind <> 'created' GROUP BY kind",
                (since["events"],),
            ).fetchall()
        )
    )
    counts["outbox rows"] = conn.execute(
        "SELECT count(*) FROM outbox_messages WHERE id > %s", (since["outbox_messages"],)
    ).fetchone()[0]
    return counts


def _last_ids(conn) -> dict[str, int]:
    return {
        table: conn.execute(f"SELECT coalesce(max(id), 0) FROM {table}").fetchone()[0]  # noqa: S608
        for table in ("events", "outbox_messages")
    }


# --- the organisation ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Organisation:
    """The database the servers use, the managers who browse it, and the time it was built for
    (None: now, on the wall clock)."""

    uri: str  # for the app (SQLAlchemy)
    conninfo: str  # for psycopg
    emails: list[str]
    built_at: dt.datetime | None = None


#: One manager in five has ten times the candidates of the others.
LARGE_EVERY, LARGE_TIMES = 5, 10


def mixed_spread(total: int, managers: int) -> list[int]:
    """Waiting candidates per manager: one in five (the first, the sixth, …) ten times the others'."""
    weights = [LARGE_TIMES if i % LARGE_EVERY == 0 else 1 for i in range(managers)]
    each = [total * w // sum(weights) for w in weights]
    return [n + (i < total - sum(each)) for i, n in enumerate(each)]


@contextlib.contextmanager
def own_organisation(server: str, managers: int, waiting: int, clients: int, instance: str):
    """A new database with ``waiting`` candidates over ``managers``, dropped afterwards."""
    with fresh_database("postgresql", "load", server) as database:
        use_temporary_instance_folder(instance)
        app = create_app(app_config(database))
        migrate(app)
        started = time.perf_counter()
        spread = mixed_spread(waiting, managers)
        org = build_organisation(app, spread, utcnow())
        with app.app_context():
            db.engine.dispose()
        seconds = time.perf_counter() - started
        print(f"built {org.waiting:,} waiting candidates over {managers} managers in {seconds:.1f} s")
        _describe(spread[:clients])
        yield Organisation(database.uri, database.conninfo, org.manager_emails[:clients])


#: Each manager's waiting candidates, the busiest first.
WAITING_SQL = """
SELECT u.email, count(*) FROM waits w
JOIN candidates c ON c.id = w.candidate_id JOIN positions p ON p.id = c.position_id
JOIN users u ON u.id = p.manager_id
WHERE w.closed_at IS NULL AND c.status = 'active'
GROUP BY u.email ORDER BY count(*) DESC, u.email
"""


@contextlib.contextmanager
def scale_organisation(server: str, waits: int, clients: int):
    """A copy of the organisation of ``waits`` waits ``scale_data`` keeps, dropped afterwards;
    its busiest managers for a fifth of the clients, the others spread evenly over the rest."""
    built = scale_data.organisation(server, waits)
    url = sa.engine.make_url(built.uri)
    name = f"load_{built.name}_{os.getpid()}"
    admin = url.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    started = time.perf_counter()
    with psycopg.connect(admin, autocommit=True) as conn:
        _copy(conn, built.name, name)
    seconds = time.perf_counter() - started
    print(
        f"copied {built.name} ({waits:,} waits, built for {built.built_at:%Y-%m-%d %H:%M} UTC) "
        f"in {seconds:.0f} s"
    )
    try:
        conninfo = url.set(drivername="postgresql", database=name).render_as_string(hide_password=False)
        with psycopg.connect(conninfo, autocommit=True) as conn:
            waiting = conn.execute(WAITING_SQL).fetchall()
        large = clients // LARGE_EVERY
        rest = waiting[large:]
        chosen = waiting[:large] + [rest[i * len(rest) // (clients - large)] for i in range(clients - large)]
        _describe([n for _, n in chosen])
        uri = url.set(database=name).render_as_string(hide_password=False)
        yield Organisation(uri, conninfo, [email for email, _ in chosen], built.built_at)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _copy(conn, template: str, name: str) -> None:
    """``CREATE DATABASE name TEMPLATE template``, waiting for anyone reading the template to leave
    (PostgreSQL copies only a database nobody is connected to)."""
    give_up = time.monotonic() + 600
    while True:
        try:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY FILE_COPY')
            return
        except psycopg.errors.ObjectInUse:
            if time.monotonic() > give_up:
                raise
            time.sleep(2)


def _describe(waiting: list[int]) -> None:
    large = sum(n >= 1000 for n in waiting)
    print(
        f"the {len(waiting)} managers browsing have {min(waiting):,} to {max(waiting):,} waiting each "
        f"(median {statistics.median(waiting):,.0f}; {large} with 1,000 or more)"
    )


# --- the run ---------------------------------------------------------------------------------------


def _servers(org: Organisation, instance: str) -> dict[str, tuple[str, dict[str, str]]]:
    """Each server's gunicorn target and environment; on an organisation built for another time,
    both on its clock."""
    app_env = app_environment(org.uri, instance)
    floor_url = sa.engine.make_url(org.conninfo).update_query_dict({"application_name": "floor"})
    floor_env = _environment(
        {
            "FLOOR_DATABASE_URL": floor_url.render_as_string(hide_password=False),
            "FLOOR_SECRET_KEY": "load-floor",
        }
    )
    if org.built_at is None:
        return {
            "app": ("feedback_sla:create_app()", app_env),
            "floor": ("benchmarks.load_floor:create_floor_app()", floor_env),
        }
    clock = load_clock.environment(org.built_at, time.time())
    return {
        "app": ("benchmarks.load_clock:app()", app_env | clock),
        "floor": ("benchmarks.load_clock:floor()", floor_env | clock),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="PostgreSQL server (default: $FEEDBACK_SLA_TEST_DATABASE_URL)")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of load on each app")
    parser.add_argument("--phases", type=int, default=3, help="turns each app's load is split into")
    parser.add_argument("--clients", type=int, default=25, help="managers browsing at once")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--managers", type=int, default=200)
    parser.add_argument("--waiting", type=int, default=100_000)
    parser.add_argument("--action-every", type=int, default=4, help="rounds between one-click actions")
    parser.add_argument(
        "--scale",
        type=int,
        metavar="WAITS",
        help="run on a copy of benchmarks/scale_data.py's organisation of WAITS waits (100000, 1000000) "
        "instead of building one; --managers and --waiting are then its own",
    )
    args = parser.parse_args()
    server = server_url(args.database_url)
    if not server:
        parser.error("needs PostgreSQL: --database-url or FEEDBACK_SLA_TEST_DATABASE_URL")
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        if args.scale:
            org = stack.enter_context(scale_organisation(server, args.scale, args.clients))
        else:
            org = stack.enter_context(
                own_organisation(server, args.managers, args.waiting, args.clients, tmp)
            )
        managers, masters = {}, {}
        for name, (target, env) in _servers(org, tmp).items():
            port, masters[name] = stack.enter_context(
                served(target, env, args.workers, Path(tmp) / f"{name}.log")
            )
            managers[name] = Managers(port, org.emails)
            managers[name].warm_up()
        written = defaultdict(Counter)
        with psycopg.connect(org.conninfo, autocommit=True) as conn:
            for phase in range(args.phases):
                # In turns, one then the other: both meet the same load from the rest of the machine.
                for name in sorted(managers, reverse=phase % 2 == 1):
                    since, used = _last_ids(conn), _cpu(conn, masters[name], name)
                    managers[name].browse_for(args.duration / args.phases, args.action_every, phase * 1000)
                    written[name] += _written(conn, since)
                    after = _cpu(conn, masters[name], name)
                    managers[name].samples.server_cpu += after[0] - used[0]
                    managers[name].samples.database_cpu += after[1] - used[1]
        stack.close()  # the servers stopped, the copy (if any) dropped
        results = {name: figures_of(m.samples) for name, m in managers.items()}
        for name, (figures, _) in results.items():
            if figures.server_errors:
                print(f"{name}'s log, last lines:\n{(Path(tmp) / f'{name}.log').read_text()[-3000:]}")
    print(
        f"{args.clients} managers at once for {args.duration:g} s on each app in {args.phases} turns, "
        f"gunicorn -w {args.workers}, one action every {args.action_every} rounds; "
        f"load average {os.getloadavg()[1]:.1f} over the last 5 minutes, {os.cpu_count()} CPUs"
    )
    app, floor = results["app"][0], results["floor"][0]
    report("app", app)
    report("floor", floor)
    for name, counts in written.items():
        rows = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items()))
        print(f"  what the {name}'s actions wrote: {rows}")
        for message, n in managers[name].samples.refusals.most_common():
            print(f"    refused {n} times: {message}")
    report_kinds(results["app"][1], results["floor"][1])
    print(
        f"  ratios: throughput {app.per_second / floor.per_second:.0%} of the floor's "
        f"(target at least {TARGET_THROUGHPUT:.0%}), p95 {app.p95 / floor.p95:.2f} times "
        f"(target at most {TARGET_P95}), p50 {app.p50 / floor.p50:.2f}, p99 {app.p99 / floor.p99:.2f}"
    )
    return report_misses(misses(app, floor))


if __name__ == "__main__":
    sys.exit(main())
