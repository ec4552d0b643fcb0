"""SQLite with several writers: a request that meets a held write lock waits, then succeeds or answers
503 with nothing written, never a 500 (RELIABILITY 24)."""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading

import pytest
import sqlalchemy as sa

from feedback_sla.models import Event, EventKind
from feedback_sla.waits import service
from feedback_sla.waits.clock import OrgSettings

from .factories import PASSWORD, PositionFactory, UserFactory


@pytest.fixture
def app_config(app_config):
    if not app_config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("SQLite's write lock; PostgreSQL locks rows instead")
    app_config["SQLALCHEMY_ENGINE_OPTIONS"] = {"connect_args": {"timeout": 0.5}}
    return app_config


@pytest.fixture
def candidate(session, client):
    manager = UserFactory()
    position = PositionFactory(manager=manager)
    candidate = service.add_candidate(
        session, position, "Ada Lovelace", "ada@example.org", dt.datetime.now(dt.UTC), OrgSettings()
    )
    session.commit()
    client.post("/login", data={"email": manager.email, "password": PASSWORD})
    return candidate


def notes(session) -> int:
    session.expire_all()
    return session.scalar(sa.select(sa.func.count()).select_from(Event).where(Event.kind == EventKind.NOTE))


def hold_write_lock(app) -> sqlite3.Connection:
    path = sa.make_url(app.config["SQLALCHEMY_DATABASE_URI"]).database
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    return other


def test_a_request_behind_a_held_write_lock_answers_503_and_writes_nothing(app, client, session, candidate):
    other = hold_write_lock(app)
    try:
        response = client.post(f"/candidates/{candidate.id}/note", data={"body": "Call back Friday"})
    finally:
        other.rollback()
        other.close()
    assert response.status_code == 503
    assert response.headers["Retry-After"]
    assert "Nothing was changed" in response.get_data(as_text=True)
    assert notes(session) == 0
    # Once the lock is gone the same request goes through.
    response = client.post(f"/candidates/{candidate.id}/note", data={"body": "Call back Friday"})
    assert response.status_code == 302
    assert notes(session) == 1


def test_a_request_waits_for_a_short_lock_and_succeeds(app, client, session, candidate):
    other = hold_write_lock(app)
    release = threading.Timer(0.2, lambda: (other.rollback(), other.close()))
    release.start()
    try:
        response = client.post(f"/candidates/{candidate.id}/note", data={"body": "Strong portfolio"})
    finally:
        release.join()
    assert response.status_code == 302
    assert notes(session) == 1


def test_connections_run_with_wal_and_foreign_keys(app, session):
    assert session.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"
    assert session.execute(sa.text("PRAGMA foreign_keys")).scalar() == 1
