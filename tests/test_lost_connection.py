"""A lost database connection answers 503 with Retry-After, never 500, on the pages, the API and the
ATS webhooks (so the vendor retries); the next request reconnects (RELIABILITY 40).

The connections are really lost: PostgreSQL's ``pg_terminate_backend``, sent from a connection of
the test's own, ends the app's server processes just before a statement of the request runs.
SQLite has no server whose processes could end, so these tests run on PostgreSQL only; its own
"database is locked" is tested in tests/test_sqlite_locking.py.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sqlite3

import psycopg
import pytest
import sqlalchemy as sa
import time_machine
from sqlalchemy import event

from feedback_sla.ats import sources
from feedback_sla.ats.models import Kind
from feedback_sla.database import db, unavailable

from .api_support import bearer, hiring, manager_with_token
from .helpers import logged_in
from .webhooks_support import body_of, greenhouse_headers, sample

SECRET = "whsec-test-0123456789abcdef"

TERMINATE = """
    SELECT pg_terminate_backend(pid) FROM pg_stat_activity
    WHERE datname = current_database() AND pid <> pg_backend_pid()
"""
STILL_THERE = """
    SELECT count(*) FROM pg_stat_activity
    WHERE datname = current_database() AND pid <> pg_backend_pid()
"""


#: The clock of these tests, ticking (requests, tokens and the served app read it alike).
NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)  # after the sample application of 23 November


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(NOW, tick=True):
        yield


@pytest.fixture
def server(app):
    """A connection of the test's own to the app's PostgreSQL database."""
    url = sa.make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if url.get_backend_name() != "postgresql":
        pytest.skip("only PostgreSQL loses connections this way (a server process ended under them)")
    conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        yield conn


def terminate_the_apps_connections(server) -> None:
    """End every other server process of this database, and wait until they are gone."""
    server.execute(TERMINATE)
    for _ in range(500):
        if server.execute(STILL_THERE).fetchone()[0] == 0:
            return
        server.execute("SELECT pg_sleep(0.01)")
    raise AssertionError("the app's server processes did not end")


@contextlib.contextmanager
def lost_at_statement(server, number: int = 1):
    """The app's connections end just before the request's ``number``-th statement."""
    seen = []

    def before(*_args) -> None:
        seen.append(1)
        if len(seen) == number:
            terminate_the_apps_connections(server)

    event.listen(db.engine, "before_cursor_execute", before)
    try:
        yield
    finally:
        event.remove(db.engine, "before_cursor_execute", before)
    assert len(seen) >= number, "the request ran fewer statements than that"


@pytest.mark.parametrize("statement", [1, 2])
def test_a_page_answers_503_when_its_connection_is_lost_and_the_next_request_reconnects(
    server, client, session, statement
):
    manager, _ = manager_with_token(session)
    hiring(session, manager)
    logged_in(client, manager)

    with lost_at_statement(server, statement):
        response = client.get("/candidates")
    assert response.status_code == 503, response.get_data(as_text=True)
    assert response.headers["Retry-After"]
    assert "try again" in response.get_data(as_text=True)

    assert client.get("/candidates").status_code == 200


@pytest.mark.parametrize("statement", [1, 2])
def test_the_api_answers_a_503_problem_when_its_connection_is_lost(server, client, session, statement):
    manager, secret = manager_with_token(session)
    hiring(session, manager)
    session.commit()

    with lost_at_statement(server, statement):
        response = client.get("/api/v1/candidates", headers=bearer(secret))
    assert response.status_code == 503, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    assert response.headers["Retry-After"]
    assert response.json["status"] == 503

    assert client.get("/api/v1/candidates", headers=bearer(secret)).status_code == 200


def test_a_write_whose_connection_is_lost_mid_transaction_answers_503_and_can_be_sent_again(
    server, client, session
):
    manager, secret = manager_with_token(session)
    _, (candidate,) = hiring(session, manager, ("Ada Lovelace",))
    session.commit()
    url = f"/api/v1/candidates/{candidate.id}"

    with lost_at_statement(server, 3):  # the token, the candidate read, then its update
        response = client.patch(url, json={"name": "Ada King"}, headers=bearer(secret))
    assert response.status_code == 503, response.get_data(as_text=True)

    response = client.patch(url, json={"name": "Ada King"}, headers=bearer(secret))
    assert response.status_code == 200
    assert response.json["name"] == "Ada King"


def test_a_webhook_answers_503_so_the_vendor_retries_and_the_retry_is_taken(server, client, session):
    owner, _ = manager_with_token(session)
    session.commit()
    source = sources.create_source(session, sources.NewSource(Kind.GREENHOUSE, "gh", owner, SECRET), NOW)
    session.commit()
    body = body_of(sample("greenhouse_new_candidate_application"))
    headers = greenhouse_headers(SECRET, body, "lost-connection-1")

    path = sources.webhook_path(source)
    headers["Content-Type"] = "application/json"

    with lost_at_statement(server, 1):
        response = client.post(path, data=body, headers=headers)
    assert response.status_code == 503, response.get_data(as_text=True)
    assert response.headers["Retry-After"]
    assert response.is_json

    assert client.post(path, data=body, headers=headers).status_code == 200


def test_connections_lost_between_requests_are_replaced_before_the_next_one(server, client, session):
    manager, secret = manager_with_token(session)
    session.commit()
    assert client.get("/api/v1/positions", headers=bearer(secret)).status_code == 200
    terminate_the_apps_connections(server)
    assert client.get("/api/v1/positions", headers=bearer(secret)).status_code == 200


def test_what_counts_as_the_database_unavailable():
    """Runs on either database: the rule the error handlers share."""
    lost = sa.exc.OperationalError("SELECT 1", {}, psycopg.OperationalError("server closed"))
    invalidated = sa.exc.DBAPIError("SELECT 1", {}, Exception("gone"), connection_invalidated=True)
    locked = sa.exc.OperationalError("UPDATE", {}, sqlite3.OperationalError("database is locked"))
    missing = sa.exc.OperationalError("SELECT", {}, sqlite3.OperationalError("no such table: x"))
    assert unavailable(lost) and unavailable(invalidated) and unavailable(locked)
    assert unavailable(psycopg.errors.AdminShutdown("terminating connection"))
    assert not unavailable(missing)
    assert not unavailable(ValueError("database is locked"))
