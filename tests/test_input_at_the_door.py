"""Text a person typed is refused at the door when a table could not hold it as meant: a NUL or
another control character, a line break where one line is meant, more than the column holds. The
answer names the field (or the line and column), nothing is written, and SQLite and PostgreSQL
answer alike: never a 500."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import sqlalchemy as sa

from feedback_sla.database import db
from feedback_sla.errors import DomainError
from feedback_sla.models import Candidate, Event, EventKind, OutboxMessage, Position, User
from feedback_sla.waits import service
from feedback_sla.waits.clock import OrgSettings

from .factories import PositionFactory, UserFactory
from .helpers import logged_in as login

NOW = dt.datetime(2026, 11, 18, 15, 0, tzinfo=dt.UTC)

BAD_NAMES = [
    pytest.param("Ana\x00Okafor", "name: contains a control character (NUL)", id="nul"),
    pytest.param("Ana\x07Okafor", "name: contains a control character (U+0007)", id="bell"),
    pytest.param("Ana\nBcc: everyone@example.com", "name: must be one line", id="line-break"),
    pytest.param("Ana " * 2_500, "longer than 200 characters", id="10000-characters"),
]


@pytest.fixture
def manager(session):
    user = UserFactory(name="Maria Lopez", email="maria@example.com", time_zone="UTC")
    session.commit()
    return user


@pytest.fixture
def position(session, manager):
    found = PositionFactory(title="Backend Engineer", manager=manager, time_zone="UTC")
    session.commit()
    return found


def count(model) -> int:
    db.session.rollback()
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


@pytest.mark.parametrize(("name", "message"), BAD_NAMES)
def test_the_add_candidate_page_refuses_a_name_it_cannot_keep(client, manager, position, name, message):
    login(client, manager)
    response = client.post(
        "/candidates/new",
        data={"name": name, "email": "ana@example.com", "position": position.id, "stage": "applied"},
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Name" in html and (message in html or "200 characters" in html)
    assert count(Candidate) == 0


@pytest.mark.parametrize(("name", "message"), BAD_NAMES)
def test_the_service_refuses_the_same_names_for_every_caller(session, position, name, message):
    with pytest.raises(DomainError, match=re.escape(message)):
        service.add_candidate(session, position, name, "ana@example.com", NOW, OrgSettings(), now=NOW)
    assert count(Candidate) == 0


def test_a_note_with_a_nul_byte_is_refused_and_the_timeline_keeps_nothing(client, session, manager, position):
    candidate = service.add_candidate(session, position, "Ana Okafor", "ana@example.com", NOW, OrgSettings())
    session.commit()
    login(client, manager)
    response = client.post(f"/candidates/{candidate.id}/note", data={"body": "called\x00her"})
    assert response.status_code == 409
    assert "note: contains a control character (NUL)" in response.get_data(as_text=True)
    assert count(Event) == 1
    assert db.session.scalar(sa.select(Event.kind)) == EventKind.CREATED


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ('"Ana\x00Okafor"', "line 2, column name: contains a control character (NUL)"),
        ('"Ana\nOkafor"', "line 3, column name: must be one line"),
        ("A" * 10_000, "line 2, column name: longer than 200 characters (10000)"),
    ],
)
def test_a_csv_file_with_a_name_it_cannot_keep_imports_nothing(
    runner, session, manager, tmp_path, cell, message
):
    path = tmp_path / "candidates.csv"
    path.write_text(
        "name,email,position,manager_email,stage,applied_at\n"
        f"{cell},ana@example.com,Backend Engineer,maria@example.com,applied,2026-11-16T09:00\n",
        encoding="utf-8",
    )
    result = runner.invoke(args=["candidates", "import", str(path)])
    assert result.exit_code == 1
    assert message in result.output
    assert count(Candidate) == 0


def test_the_command_line_refuses_a_position_title_on_two_lines(runner, manager):
    result = runner.invoke(args=["positions", "create", "Backend\nEngineer", "--manager", manager.email])
    assert result.exit_code == 1
    assert "title: must be one line" in result.output
    assert count(Position) == 0


def test_the_command_line_refuses_a_user_name_with_a_control_character(runner, session):
    result = runner.invoke(
        args=[
            "users",
            "create",
            "ops@example.com",
            "--name",
            "Ops\x1bTeam",
            "--role",
            "admin",
            "--password-stdin",
        ],
        input="a long passphrase\n",
    )
    assert result.exit_code == 1
    assert "name: contains a control character (U+001B)" in result.output
    assert count(User) == 0


def test_feedback_with_a_nul_byte_is_refused_before_anything_is_queued(runner, session, position):
    candidate = service.add_candidate(session, position, "Ana Okafor", "ana@example.com", NOW, OrgSettings())
    session.commit()
    result = runner.invoke(
        args=["emails", "queue", str(candidate.id), "rejection", "--feedback", "Thank you\x00 for your time"]
    )
    assert result.exit_code == 1
    assert "feedback: contains a control character (NUL)" in result.output
    assert count(OutboxMessage) == 0
    assert db.session.get(Candidate, candidate.id).status.value == "active"
