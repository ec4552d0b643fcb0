"""Triage page speed: a manager with 1,000 waiting candidates on SQLite.

Prints the median server time of the triage page through the test client, and the ratio to a floor
measured in the same run: the same rows fetched with one raw SQL query on the stdlib sqlite3 module
and rendered by a minimal Jinja table. Target: ratio at most 3.

    python benchmarks/triage.py [--candidates 1000] [--runs 60]
"""

from __future__ import annotations

import argparse
import datetime as dt
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

import flask_migrate
import jinja2

from feedback_sla import create_app
from feedback_sla.accounts.service import create_user
from feedback_sla.database import db
from feedback_sla.positions.service import create_position
from feedback_sla.settings import service as settings_service
from feedback_sla.waits import service

PASSWORD = "benchmark passphrase"  # noqa: S105  (a throwaway account in a temporary database)

FLOOR_SQL = """
SELECT c.id, c.name, p.title, c.stage, w.reason, w.opened_at, w.due_at, w.promised_date,
       w.follow_ups, w.warn_at, w.escalate_at
FROM waits w JOIN candidates c ON c.id = w.candidate_id JOIN positions p ON p.id = c.position_id
WHERE w.closed_at IS NULL AND c.status = 'active' AND p.manager_id = ?
ORDER BY w.due_at
"""

FLOOR_TEMPLATE = jinja2.Environment(autoescape=True).from_string(
    "<table>{% for r in rows %}<tr><td>{{ r[1] }}</td><td>{{ r[2] }}</td><td>{{ r[3] }}</td>"
    "<td>{{ r[4] }}</td><td>{{ r[5] }}</td><td>{{ r[6] }}</td><td>{{ r[7] or '' }}</td>"
    "<td>{{ r[8] }}</td></tr>{% endfor %}</table>"
)


def build(app, candidates: int, now: dt.datetime) -> int:
    with app.app_context():
        flask_migrate.upgrade()
        settings = settings_service.load(db.session)
        manager = create_user(
            db.session, "bench@example.com", "Bench Manager", "manager", "Europe/Berlin", PASSWORD
        )
        positions = [create_position(db.session, f"Position {i}", manager) for i in range(10)]
        for i in range(candidates):
            opened = now - dt.timedelta(hours=7 * i % (24 * 20))
            service.add_candidate(
                db.session, positions[i % 10], f"Candidate {i}", f"c{i}@example.com", opened, settings
            )
        db.session.commit()
        return manager.id


def interleaved_medians(page, floor, runs: int) -> tuple[float, float]:
    """Median milliseconds of each, timed in turn so both meet the same machine load."""
    page(), floor()
    timings: tuple[list[float], list[float]] = ([], [])
    for _ in range(runs):
        for fn, times in zip((page, floor), timings, strict=True):
            start = time.perf_counter()
            fn()
            times.append((time.perf_counter() - start) * 1000)
    return statistics.median(timings[0]), statistics.median(timings[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=60)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "triage.sqlite3"
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}",
                "SECRET_KEY": "benchmark",
                "SESSION_COOKIE_SECURE": False,
                "RATELIMIT_ENABLED": False,
            }
        )
        now = dt.datetime.now(dt.UTC)
        start = time.perf_counter()
        manager_id = build(app, args.candidates, now)
        print(f"built {args.candidates} waiting candidates in {time.perf_counter() - start:.1f} s")

        client = app.test_client()
        client.get("/login")
        login = client.post(
            "/login", data={"email": "bench@example.com", "password": PASSWORD, "csrf_token": _csrf(client)}
        )
        assert login.status_code == 302, login.status_code

        def page():
            response = client.get("/")
            assert response.status_code == 200
            return response

        body = page().get_data(as_text=True)
        rows = body.count("data-candidate-id=")
        assert rows == args.candidates, rows

        connection = sqlite3.connect(path)

        def floor():
            fetched = connection.execute(FLOOR_SQL, (manager_id,)).fetchall()
            html = FLOOR_TEMPLATE.render(rows=fetched)
            assert len(fetched) == args.candidates
            return html

        page_ms, floor_ms = interleaved_medians(page, floor, args.runs)
        print(f"triage page, {rows} rows: median {page_ms:.1f} ms over {args.runs} requests")
        print(f"floor (one raw SQL query + minimal Jinja table): median {floor_ms:.1f} ms")
        print(f"ratio: {page_ms / floor_ms:.2f} (target at most 3)")


def _csrf(client) -> str:
    import re

    page = client.get("/login").get_data(as_text=True)
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)


if __name__ == "__main__":
    main()
