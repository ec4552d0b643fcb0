"""Small helpers the page tests share: logging in through the real form, reading pages, counting SQL."""

from __future__ import annotations

import datetime as dt
import html
import re
import threading
from contextlib import contextmanager
from zoneinfo import ZoneInfo

from sqlalchemy import event
from werkzeug.serving import make_server

from feedback_sla.database import db

from .factories import PASSWORD

NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")


@contextmanager
def served(app):
    """The app served on a free loopback port from a thread, for a browser or an HTTP client; its URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


def ny(*parts: int) -> dt.datetime:
    """A New York wall-clock time."""
    return dt.datetime(*parts, tzinfo=NEW_YORK)


def berlin(*parts: int) -> dt.datetime:
    """A Berlin wall-clock time."""
    return dt.datetime(*parts, tzinfo=BERLIN)


_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_token(client, path: str = "/login") -> str | None:
    """The CSRF token a page's form carries, or None when CSRF is off."""
    found = _CSRF.search(client.get(path).get_data(as_text=True))
    return found.group(1) if found else None


def login(client, user, password: str = PASSWORD, **extra):
    """Post the login form (with its CSRF token when CSRF is on); returns the response.

    Commits first: the factories' rows must be in the database before a request, which rolls back
    whatever it did not commit.
    """
    db.session.commit()
    data = {"email": user if isinstance(user, str) else user.email, "password": password, **extra}
    token = csrf_token(client)
    if token:
        data["csrf_token"] = token
    return client.post("/login", data=data)


def logged_in(client, user) -> None:
    response = login(client, user)
    assert response.status_code == 302, response.get_data(as_text=True)


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def field_errors(page: str, name: str) -> list[str]:
    """The error messages shown with the form field called ``name``."""
    (block,) = [b for b in page.split('<div class="mb-3">') if f'name="{name}"' in b]
    return re.findall(r'<div class="invalid-feedback d-block">([^<]*)</div>', block)


@contextmanager
def count_statements():
    """Every SQL statement the app sends inside the block."""
    statements: list[str] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", before)
