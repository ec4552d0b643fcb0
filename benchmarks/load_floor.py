"""The load benchmark's floor: the pages a manager uses, each the same queries by hand through
psycopg and a minimal Jinja page, served by the same gunicorn settings as the app.

The URLs, forms and hidden fields are the app's, so the same clients drive both:
``GET /login`` and ``POST /login``, ``GET /?page=N`` (triage), ``GET /candidates?q=TEXT``,
``GET /candidates/<id>``, and the one-click actions ``POST /candidates/<id>/followed-up`` and
``POST /candidates/<id>/emails/update``, which record an event and change the open wait in one
transaction, then redirect to ``next``. The session is Flask's signed cookie; the CSRF token is
kept in it.

    gunicorn -w 4 'benchmarks.load_floor:create_floor_app()'   (FLOOR_DATABASE_URL, FLOOR_SECRET_KEY)
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import os
import secrets

import jinja2
import psycopg
from flask import Flask, abort, redirect, request, session
from werkzeug.security import check_password_hash

from benchmarks.common import search_floor, triage_floor

#: The organisation's default: a second follow-up escalates a wait.
ESCALATE_AFTER_FOLLOWUPS = 2

_env = jinja2.Environment(autoescape=True)
LOGIN = _env.from_string(
    '<form method="post"><input type="hidden" name="csrf_token" value="{{ token }}">'
    '<input name="email"><input name="password" type="password"><button>Log in</button></form>'
)
CANDIDATE = _env.from_string(
    "<h1>{{ c[1] }}</h1><p>{{ c[2] }} · {{ c[3] }} · {{ c[4] }} · {{ c[5] }}</p>"
    "{% if wait %}<p>{{ wait[0] }} due {{ wait[1] }}, followed up {{ wait[2] }}, "
    'promised {{ wait[3] or "" }}</p>{% endif %}<form method="post">'
    '{% for k, v in hidden.items() %}<input type="hidden" name="{{ k }}" value="{{ v }}">{% endfor %}</form>'
    "<ol>{% for e in events %}<li>{{ e[0] }} {{ e[1] }} {{ e[2] or '' }} {{ e[3] }}</li>{% endfor %}</ol>"
)

CANDIDATE_SQL = """
SELECT c.id, c.name, c.email, p.title, c.stage, c.status
FROM candidates c JOIN positions p ON p.id = c.position_id
WHERE c.id = %(id)s AND p.manager_id = %(manager)s
"""
OPEN_WAIT_SQL = """
SELECT reason, due_at, follow_ups, promised_date FROM waits
WHERE candidate_id = %(id)s AND closed_at IS NULL
"""
EVENTS_SQL = """
SELECT kind, occurred_at, channel, data FROM events
WHERE candidate_id = %(id)s ORDER BY occurred_at DESC, id DESC
"""
RECORD_SQL = """
INSERT INTO events (candidate_id, kind, data, actor_id, occurred_at, recorded_at)
VALUES (%(id)s, %(kind)s, %(data)s, %(manager)s, %(now)s, %(now)s)
"""
FOLLOWED_UP_SQL = """
UPDATE waits SET follow_ups = follow_ups + 1 WHERE candidate_id = %(id)s AND closed_at IS NULL
"""
PROMISE_SQL = """
UPDATE waits SET promised_date = %(promised)s WHERE candidate_id = %(id)s AND closed_at IS NULL
"""


def create_floor_app() -> Flask:
    app = Flask(__name__)
    app.secret_key = os.environ["FLOOR_SECRET_KEY"]
    conninfo = os.environ["FLOOR_DATABASE_URL"]
    connections: list[psycopg.Connection] = []  # one per worker process, opened at its first request

    def connection() -> psycopg.Connection:
        if not connections:
            connections.append(psycopg.connect(conninfo, autocommit=True))
        return connections[0]

    def token() -> str:
        if "csrf" not in session:
            session["csrf"] = secrets.token_urlsafe(24)
        return session["csrf"]

    def manager() -> int:
        if "user" not in session:
            abort(401)
        return session["user"]

    def hidden() -> dict[str, str]:
        """The one-click form's fields: the session's CSRF token and a nonce for this page."""
        return {"csrf_token": token(), "nonce": secrets.token_urlsafe(12)}

    @app.before_request
    def check_token():
        if request.method == "POST" and not hmac.compare_digest(
            request.form.get("csrf_token", ""), session.get("csrf", "")
        ):
            abort(400)

    @app.get("/login")
    def login_form():
        return LOGIN.render(token=token())

    @app.post("/login")
    def login():
        row = (
            connection()
            .execute(
                "SELECT id, password_hash FROM users WHERE lower(email) = lower(%s)", (request.form["email"],)
            )
            .fetchone()
        )
        if row is None or not check_password_hash(row[1], request.form["password"]):
            abort(403)
        session["user"] = row[0]
        return redirect("/")

    @app.get("/")
    def triage():
        page = request.args.get("page", "1")
        page = int(page) if page.isdigit() else 1
        return triage_floor(
            connection(), "postgresql", manager(), page, ESCALATE_AFTER_FOLLOWUPS, hidden=hidden()
        )

    @app.get("/candidates")
    def candidates():
        return search_floor(connection(), "postgresql", request.args.get("q", ""), manager())[1]

    @app.get("/candidates/<int:candidate_id>")
    def candidate(candidate_id: int):
        params = {"id": candidate_id, "manager": manager()}
        conn = connection()
        found = conn.execute(CANDIDATE_SQL, params).fetchone()
        if found is None:
            abort(404)
        wait = conn.execute(OPEN_WAIT_SQL, params).fetchone()
        events = conn.execute(EVENTS_SQL, params).fetchall()
        return CANDIDATE.render(c=found, wait=wait, events=events, hidden=hidden())

    @app.post("/candidates/<int:candidate_id>/followed-up")
    def followed_up(candidate_id: int):
        return _act(candidate_id, "followed_up", FOLLOWED_UP_SQL)

    @app.post("/candidates/<int:candidate_id>/emails/update")
    def update(candidate_id: int):
        return _act(candidate_id, "email_queued", PROMISE_SQL)

    def _act(candidate_id: int, kind: str, change: str):
        now = dt.datetime.now(dt.UTC)
        params = {
            "id": candidate_id,
            "manager": manager(),
            "kind": kind,
            "data": json.dumps({}),
            "now": now,
            "promised": (now + dt.timedelta(days=7)).date(),
        }
        conn = connection()
        with conn.transaction():
            if conn.execute(CANDIDATE_SQL, params).fetchone() is None:
                abort(404)
            conn.execute(RECORD_SQL, params)
            conn.execute(change, params)
        target = request.form.get("next", "/")
        return redirect(target if target.startswith("/") and not target.startswith("//") else "/")

    return app
