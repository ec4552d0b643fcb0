"""Hostile values at every door, each found by an outside audit as a 500 or a traceback: now a clear
refusal that names the field (or option), with nothing written, on SQLite and PostgreSQL alike.

Dates outside the range the app takes (year 1, year 9999) reach commands and query strings; a NUL
reaches a search and a user's name; half of a character (a lone surrogate, what invalid UTF-8
decodes to) reaches the API's text fields.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
import sqlalchemy as sa
import time_machine

from feedback_sla.database import db
from feedback_sla.models import Candidate, Event, EventKind
from feedback_sla.settings import service as settings_service
from feedback_sla.waits import service

from .api_support import bearer, manager_with_token
from .factories import PositionFactory, UserFactory
from .helpers import logged_in

NOW = dt.datetime(2026, 11, 18, 15, 0, tzinfo=dt.UTC)
OUTSIDE = ["0001-01-01", "9999-12-31"]


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.mark.parametrize("day", OUTSIDE)
@pytest.mark.parametrize(
    "args",
    [
        ["report", "--since", "{day}"],
        ["report", "--until", "{day}"],
        ["export", "response-times", "--until", "{day}"],
        ["export", "response-times", "--since", "{day}"],
        ["digest", "send", "--now", "{day}"],
        ["autopilot", "run", "--now", "{day}T12:00"],
    ],
    ids=["report-since", "report-until", "export-until", "export-since", "digest-now", "autopilot-now"],
)
def test_a_command_refuses_a_date_outside_the_range_and_names_the_option(runner, args, day):
    result = runner.invoke(args=[arg.format(day=day) for arg in args])
    assert result.exit_code == 2, result.output
    option = next(arg for arg in args if arg.startswith("--"))
    assert f"Invalid value for '{option}'" in result.output
    assert "outside the dates this app takes (1970-01-01 to 2199-12-31)" in result.output
    assert (
        "Traceback" not in result.output
        and result.exception is None
        or isinstance(result.exception, SystemExit)
    )


@pytest.mark.parametrize("day", OUTSIDE)
def test_the_metrics_page_refuses_a_date_outside_the_range(client, session, day):
    admin = UserFactory(role="admin", email="ada@example.com")
    session.commit()
    logged_in(client, admin)
    response = client.get(f"/metrics?until={day}")
    assert response.status_code in (400, 422)
    assert "outside the dates this app takes" in response.get_data(as_text=True)


def test_a_search_for_a_nul_finds_nothing_and_does_not_fail(client, session):
    manager = UserFactory(email="maria@example.com")
    position = PositionFactory(manager=manager)
    service.add_candidate(
        session, position, "Ana Okafor", "ana@example.org", NOW, settings_service.load(session)
    )
    session.commit()
    logged_in(client, manager)
    response = client.get("/candidates?q=%00")
    assert response.status_code in (200, 422)
    assert "Traceback" not in response.get_data(as_text=True)


def test_the_account_page_refuses_a_name_with_a_nul_and_keeps_the_old_one(client, session):
    manager = UserFactory(email="maria@example.com", name="Maria Lopez")
    session.commit()
    logged_in(client, manager)
    page = client.get("/account/settings").get_data(as_text=True)
    assert page
    response = client.post(
        "/account/settings",
        data={"form": "profile", "name": "Maria\x00Lopez", "time_zone": "UTC", "digest_hour": "8"},
    )
    assert response.status_code in (200, 409, 422)
    assert "control character" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(type(manager), manager.id).name == "Maria Lopez"


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/candidates", {"name": "Ana \ud800 Okafor", "email": "ana2@example.org"}, "name"),
        ("/api/v1/candidates/{id}/timeline/notes", {"body": "Called \ud800 back"}, "note"),
        (
            "/api/v1/candidates/{id}/emails",
            {"kind": "rejection", "feedback": "Thank you \udfff"},
            "feedback",
        ),
    ],
    ids=["name", "note", "feedback"],
)
def test_the_api_refuses_half_a_character_and_names_the_field(client, session, path, body, field):
    manager, secret = manager_with_token(session, email="maria@example.com")
    position = PositionFactory(manager=manager)
    ana = service.add_candidate(
        session, position, "Ana Okafor", "ana@example.org", NOW, settings_service.load(session)
    )
    session.commit()
    if "position_id" not in body and path == "/api/v1/candidates":
        body = {**body, "position_id": position.id}
    events_before = session.scalar(sa.select(sa.func.count()).select_from(Event))
    raw = json.dumps(body)  # a lone surrogate goes over the wire as its \\u escape, as JSON allows
    headers = {**bearer(secret), "Content-Type": "application/json", "Idempotency-Key": "k-1"}
    response = client.post(path.format(id=ana.id), data=raw, headers=headers)
    assert response.status_code in (409, 422), response.get_data(as_text=True)
    assert field in response.get_data(as_text=True)
    db.session.rollback()
    assert session.scalar(sa.select(sa.func.count()).select_from(Candidate)) == 1
    assert session.scalar(sa.select(sa.func.count()).select_from(Event)) == events_before
    assert EventKind.NOTE not in {e.kind for e in session.scalars(sa.select(Event))}


@pytest.mark.parametrize(
    ("cell", "column", "message"),
    [
        ("x" * 140_000, "name", "line 2"),
        ("0001-01-01", "applied_at", "line 2, column applied_at"),
        ("9999-12-31T12:00", "applied_at", "line 2, column applied_at"),
        ("Backend\x00Engineer", "position", "line 2, column position"),
    ],
    ids=["field-over-128-kb", "applied-year-1", "applied-year-9999", "nul-in-new-position-title"],
)
def test_a_csv_file_with_a_hostile_cell_imports_nothing_and_names_the_row(
    runner, session, tmp_path, cell, column, message
):
    UserFactory(email="maria@example.com")
    session.commit()
    row = {"name": "Ana Okafor", "applied_at": "2026-11-16T09:00", "position": "Data Analyst", column: cell}
    path = tmp_path / "candidates.csv"
    path.write_text(
        "name,email,position,manager_email,stage,applied_at\n"
        f"{row['name']},ana@example.com,{row['position']},maria@example.com,applied,{row['applied_at']}\n",
        encoding="utf-8",
    )
    result = runner.invoke(args=["candidates", "import", str(path)])
    assert result.exit_code == 1, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    db.session.rollback()
    assert session.scalar(sa.select(sa.func.count()).select_from(Candidate)) == 0
