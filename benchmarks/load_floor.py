"""The load benchmark's floor: the pages a manager uses, each running the same statements as the
app's page, written by hand, through psycopg, and rendered by a minimal Jinja page, served by the
same gunicorn settings as the app.

The URLs, forms and hidden fields are the app's, so the same clients drive both:
``GET /login`` and ``POST /login``, ``GET /?page=N`` (triage), ``GET /candidates?q=TEXT``,
``GET /candidates/<id>``, and the one-click actions ``POST /candidates/<id>/followed-up`` and
``POST /candidates/<id>/emails/update``, which record their events, change the open wait (and
queue the update email) in one transaction, then redirect to ``next``. The session is Flask's
signed cookie; the CSRF token is kept in it.

Every page reads what the app's reads, statement for statement: the signed-in user on every
request (the app checks that the account is still active and the session not ended), the
organisation's settings where the app reads them, the triage page's position menu, its rows'
unfinished emails and the emails to check, the candidate page's latest events, waits, emails and
status link. What the floor leaves out is everything around the statements: the ORM, the forms,
the templates' layout and the checks the app makes in Python.

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
from markupsafe import escape
from werkzeug.security import check_password_hash

from benchmarks.common import search_floor, triage_floor_rows

#: The organisation's default: a second follow-up escalates a wait.
ESCALATE_AFTER_FOLLOWUPS = 2
#: The app's lists: the latest 50 events and emails, and one more to know whether there are older.
LISTED = 51
UNDO_SECONDS = 86_400  # as the benchmark configures the app: a queued email stays queued

_env = jinja2.Environment(autoescape=True)
LOGIN = _env.from_string(
    '<form method="post"><input type="hidden" name="csrf_token" value="{{ token }}">'
    '<input name="email"><input name="password" type="password"><button>Log in</button></form>'
)
EMAILS = _env.from_string(
    "<ul>{% for e in emails %}<li>{{ e[3] }} {{ e[4] }} to {{ e[2] }} {{ e[5] }} {{ e[6] or '' }}"
    "{{ e[7] or '' }}</li>{% endfor %}</ul>"
)
CANDIDATE = _env.from_string(
    "<h1>{{ c[1] }}</h1><p>{{ c[2] }} · {{ c[3] }} · {{ c[4] }} · {{ c[5] }} · {{ c[6] }}</p>"
    "{% if wait %}<p>{{ wait[1] }} due {{ wait[4] }}, followed up {{ wait[8] }}, "
    'promised {{ wait[7] or "" }}</p>{% endif %}<form method="post">'
    '{% for k, v in hidden.items() %}<input type="hidden" name="{{ k }}" value="{{ v }}">{% endfor %}</form>'
    "<ol>{% for e in events %}<li>{{ e[1] }} {{ e[5] }} {{ e[2] or '' }} {{ e[6] or '' }}</li>"
    "{% endfor %}</ol>"
    "<ol>{% for m in emails %}<li>{{ m[1] }} {{ m[2] }} {{ m[3] }} {{ m[14] }}</li>{% endfor %}</ol>"
    "{% if link %}<p>status page</p>{% endif %}"
)

# --- the statements, as the app sends them ------------------------------------------------------

USER_SQL = """
SELECT id, email, name, password_hash, role, time_zone, digest_hour, digest_enabled, digest_empty,
       active, session_version, calendar_token_hash, created_at
FROM users WHERE id = %(user)s
"""
SETTINGS_SQL = "SELECT key, value FROM settings"
POSITIONS_SQL = "SELECT id, title, is_open FROM positions WHERE manager_id = %(user)s ORDER BY title"
_EMAIL_COLUMNS = """
SELECT o.id, o.candidate_id, c.name, o.kind, o.status, o.send_after, o.last_error, o.bounce_reason
FROM outbox_messages o JOIN candidates c ON c.id = o.candidate_id
"""
ROW_EMAILS_SQL = f"""{_EMAIL_COLUMNS}
WHERE o.candidate_id = ANY(%(ids)s)
  AND (o.status IN ('pending', 'sending', 'failed') OR o.status = 'bounced' AND o.bounced_at > %(bounced)s)
ORDER BY o.queued_at, o.id
"""
ATTENTION_SQL = f"""{_EMAIL_COLUMNS}
JOIN positions p ON p.id = c.position_id
WHERE (o.status = 'pending' AND o.send_after > %(now)s OR o.status = 'failed' AND o.failed_at > %(failed)s
       OR o.status = 'bounced' AND o.bounced_at > %(bounced)s)
  AND p.manager_id = %(user)s
ORDER BY o.queued_at DESC, o.id DESC LIMIT 50
"""
CANDIDATE_SQL = """
SELECT c.id, c.name, c.email, p.title, c.stage, c.status, u.name, c.position_id, c.created_at,
       c.search_key, c.email_undeliverable_at, c.decided_at, c.erased_at, p.manager_id, p.time_zone,
       p.policy_overrides, p.is_open, p.autopilot, p.created_at, u.id, u.email, u.password_hash, u.role,
       u.time_zone, u.digest_hour, u.digest_enabled, u.digest_empty, u.active, u.session_version,
       u.calendar_token_hash, u.created_at
FROM candidates c LEFT JOIN positions p ON p.id = c.position_id LEFT JOIN users u ON u.id = p.manager_id
WHERE c.id = %(id)s
"""
EVENTS_SQL = """
SELECT e.id, e.kind, e.channel, e.body, e.data, e.occurred_at, u.name
FROM events e LEFT JOIN users u ON u.id = e.actor_id
WHERE e.candidate_id = %(id)s ORDER BY e.occurred_at DESC, e.id DESC LIMIT %(listed)s
"""
_LATEST_EVENTS = """
SELECT id FROM events WHERE candidate_id = %(id)s ORDER BY occurred_at DESC, id DESC LIMIT %(shown)s
"""
WAITS_SQL = f"""
SELECT id, reason, opened_at, warn_at, due_at, escalate_at, policy_days, promised_date, follow_ups,
       closed_at, opened_by_event_id, closed_by_event_id
FROM waits
WHERE candidate_id = %(id)s AND (closed_at IS NULL OR opened_by_event_id IN ({_LATEST_EVENTS})
                                 OR closed_by_event_id IN ({_LATEST_EVENTS}))
"""
HISTORY_SQL = """
SELECT o.id, o.kind, o.status, o.subject, o.to_name, o.to_address, o.reply_to_name, o.reply_to_address,
       o.message_id, o.text_body, o.promised_date, o.reasons, o.attempts, o.last_error, o.queued_at,
       o.send_after, o.sent_at, o.failed_at, o.cancelled_at, o.cancel_reason, o.bounced_at,
       o.bounce_reason, u.name
FROM outbox_messages o LEFT JOIN users u ON u.id = o.queued_by_id
WHERE o.candidate_id = %(id)s
  AND (o.id IN (SELECT id FROM outbox_messages WHERE candidate_id = %(id)s
                ORDER BY queued_at DESC, id DESC LIMIT %(listed)s)
       OR o.status IN ('pending', 'sending', 'failed'))
ORDER BY o.queued_at DESC, o.id DESC
"""
LINK_SQL = "SELECT EXISTS (SELECT id FROM status_links WHERE candidate_id = %(id)s AND revoked_at IS NULL)"
OPEN_WAIT_SQL = """
SELECT id, candidate_id, reason, opened_at, warn_at, due_at, escalate_at, policy_days, promised_date,
       follow_ups, autopilot_updates, closed_at, opened_by_event_id, closed_by_event_id
FROM waits WHERE candidate_id = %(id)s AND closed_at IS NULL
"""
RECORD_SQL = """
INSERT INTO events (candidate_id, kind, channel, body, data, actor_id, occurred_at, recorded_at)
VALUES (%(id)s, %(kind)s, NULL, NULL, %(data)s, %(user)s, %(now)s, %(now)s) RETURNING id
"""
FOLLOWED_UP_SQL = "UPDATE waits SET follow_ups = %(follow_ups)s WHERE id = %(wait)s"
LATEST_EVENT_SQL = """
SELECT id, candidate_id, kind, channel, body, data, actor_id, occurred_at, recorded_at
FROM events WHERE candidate_id = %(id)s AND kind = %(kind)s ORDER BY id DESC LIMIT 1
"""
_OUTBOX_COLUMNS = """
SELECT id, candidate_id, recipient_user_id, kind, to_name, to_address, reply_to_name, reply_to_address,
       subject, text_body, html_body, message_id, idempotency_key, status, previous_status,
       previous_promised_date, promised_date, feedback, reasons, queued_by_id, queued_at, send_after,
       next_attempt_at, attempts, lease_until, last_error, sent_at, failed_at, cancelled_at,
       cancel_reason, reply_token, bounced_at, bounce_reason, autopilot
FROM outbox_messages
"""
BY_KEY_SQL = f"{_OUTBOX_COLUMNS} WHERE idempotency_key = %(key)s"
PENDING_SQL = f"{_OUTBOX_COLUMNS} WHERE candidate_id = %(id)s AND status = 'pending' ORDER BY queued_at, id"
TEMPLATE_SQL = """
SELECT kind, subject, text_body, html_body, updated_by_id, updated_at FROM email_templates
WHERE kind = 'update'
"""
QUEUE_SQL = """
INSERT INTO outbox_messages (candidate_id, kind, to_name, to_address, reply_to_name, reply_to_address,
    subject, text_body, html_body, message_id, idempotency_key, status, previous_status,
    previous_promised_date, promised_date, feedback, reasons, queued_by_id, queued_at, send_after,
    next_attempt_at, attempts, reply_token, autopilot)
VALUES (%(id)s, 'update', %(name)s, %(email)s, %(manager_name)s, %(manager_email)s, %(subject)s,
    %(text)s, %(html)s, %(message_id)s, %(key)s, 'pending', 'active', %(promise_before)s, %(promised)s,
    NULL, '[]', %(user)s, %(now)s, %(send_after)s, %(send_after)s, 0, %(reply_token)s, FALSE)
ON CONFLICT (idempotency_key) DO NOTHING RETURNING id
"""
PROMISE_SQL = "UPDATE waits SET promised_date = %(promised)s WHERE id = %(wait)s"
UPDATE_SUBJECT = "An update on your application: {title}"
UPDATE_TEXT = "Dear {name},\n\nWe have not forgotten you: you will hear from us by {date}.\n\n{manager}"


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

    def viewer() -> dict:
        """The signed-in manager, read on every request as the app does."""
        if "user" not in session:
            abort(401)
        params = {"user": session["user"]}
        user = connection().execute(USER_SQL, params).fetchone()
        if user is None or not user[9]:
            abort(401)
        return params

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
        params = viewer()
        conn = connection()
        conn.execute(POSITIONS_SQL, params).fetchall()
        conn.execute(SETTINGS_SQL).fetchall()
        page = request.args.get("page", "1")
        page = int(page) if page.isdigit() else 1
        rows, html = triage_floor_rows(
            conn, "postgresql", params["user"], page, ESCALATE_AFTER_FOLLOWUPS, hidden=hidden()
        )
        now = dt.datetime.now(dt.UTC)
        times = {"now": now, "failed": now - dt.timedelta(days=30), "bounced": now - dt.timedelta(days=14)}
        emails = conn.execute(ROW_EMAILS_SQL, {**times, "ids": [r[0] for r in rows]}).fetchall()
        emails += conn.execute(ATTENTION_SQL, {**times, **params}).fetchall()
        return html + EMAILS.render(emails=emails)

    @app.get("/candidates")
    def candidates():
        params = viewer()
        connection().execute(POSITIONS_SQL, params).fetchall()
        return search_floor(connection(), "postgresql", request.args.get("q", ""), params["user"])[1]

    @app.get("/candidates/<int:candidate_id>")
    def candidate(candidate_id: int):
        params = {**viewer(), "id": candidate_id, "listed": LISTED, "shown": LISTED - 1}
        conn = connection()
        found = _candidate(conn, params)
        conn.execute(SETTINGS_SQL).fetchall()
        events = conn.execute(EVENTS_SQL, params).fetchall()
        waits = conn.execute(WAITS_SQL, params).fetchall()
        emails = conn.execute(HISTORY_SQL, params).fetchall()
        link = conn.execute(LINK_SQL, params).fetchone()[0]
        wait = next((w for w in waits if w[9] is None), None)
        return CANDIDATE.render(c=found, wait=wait, events=events, emails=emails, link=link, hidden=hidden())

    @app.post("/candidates/<int:candidate_id>/followed-up")
    def followed_up(candidate_id: int):
        params = _action(candidate_id, "followed_up")
        conn = connection()
        with conn.transaction():
            _candidate(conn, params)
            conn.execute(SETTINGS_SQL).fetchall()
            conn.execute(RECORD_SQL, params)
            wait = conn.execute(OPEN_WAIT_SQL, params).fetchone()
            conn.execute(FOLLOWED_UP_SQL, {"follow_ups": wait[9] + 1, "wait": wait[0]})
            conn.execute(LATEST_EVENT_SQL, params).fetchone()
        return _back()

    @app.post("/candidates/<int:candidate_id>/emails/update")
    def update(candidate_id: int):
        params = _action(candidate_id, "email_queued")
        conn = connection()
        with conn.transaction():
            found = _candidate(conn, params)
            conn.execute(SETTINGS_SQL).fetchall()
            wait = conn.execute(OPEN_WAIT_SQL, params).fetchone()
            if conn.execute(BY_KEY_SQL, params).fetchone() is None:
                conn.execute(PENDING_SQL, params).fetchall()
                conn.execute(TEMPLATE_SQL).fetchone()
                _queue_update(conn, params, found, wait)
        return _back()

    def _action(candidate_id: int, kind: str) -> dict:
        now = dt.datetime.now(dt.UTC)
        nonce = request.form.get("nonce", "")
        return {
            **viewer(),
            "id": candidate_id,
            "kind": kind,
            "key": f"{nonce}:{candidate_id}:update",
            "data": json.dumps({}),
            "now": now,
            "send_after": now + dt.timedelta(seconds=UNDO_SECONDS),
        }

    def _queue_update(conn: psycopg.Connection, params: dict, found, wait) -> None:
        promised = (params["now"] + dt.timedelta(days=7)).date()
        text = UPDATE_TEXT.format(name=found[1], date=promised.isoformat(), manager=found[6])
        queued = conn.execute(
            QUEUE_SQL,
            {
                **params,
                "name": found[1],
                "email": found[2],
                "manager_name": found[6],
                "manager_email": found[20],
                "subject": UPDATE_SUBJECT.format(title=found[3]),
                "text": text,
                "html": f"<p>{escape(text)}</p>",
                "message_id": f"<{secrets.token_hex(12)}@example.com>",
                "reply_token": secrets.token_hex(16),
                "promise_before": wait[8],
                "promised": promised,
            },
        ).fetchone()
        if queued is None:  # the same nonce again: a double click queues one email
            return
        conn.execute(OPEN_WAIT_SQL, params).fetchone()
        conn.execute(RECORD_SQL, params)
        conn.execute(RECORD_SQL, {**params, "kind": "promise_set"})
        conn.execute(PROMISE_SQL, {"promised": promised, "wait": wait[0]})

    def _back():
        target = request.form.get("next", "/")
        return redirect(target if target.startswith("/") and not target.startswith("//") else "/")

    return app


def _candidate(conn: psycopg.Connection, params: dict):
    """The candidate with their position and its manager, 404 unless they are the viewer's."""
    found = conn.execute(CANDIDATE_SQL, params).fetchone()
    if found is None or found[13] != params["user"]:
        abort(404)
    return found
