"""A candidate's own time zone, when known: set on the add and edit pages, in a CSV column and in the
API, shown on the candidate page, and the clock an email sent later is read on."""

from __future__ import annotations

import datetime as dt
import io

import pytest
import sqlalchemy as sa
import time_machine

from feedback_sla.database import db
from feedback_sla.models import Candidate
from feedback_sla.waits import service
from feedback_sla.waits.clock import OrgSettings

from .api_support import bearer, manager_with_token
from .factories import PositionFactory, UserFactory
from .helpers import field_errors, text
from .helpers import logged_in as login

NOW = dt.datetime(2026, 11, 18, 15, 0, tzinfo=dt.UTC)
HEADER = "name,email,position,manager_email,stage,applied_at,interview_at,promised_by,time_zone\n"


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def maria(session):
    user = UserFactory(name="Maria Lopez", email="maria@example.com", time_zone="America/New_York")
    session.commit()
    return user


@pytest.fixture
def backend(session, maria):
    position = PositionFactory(title="Backend Engineer", manager=maria, time_zone="America/New_York")
    session.commit()
    return position


@pytest.fixture
def zoe(session, backend):
    candidate = service.add_candidate(
        session, backend, "Zoë O'Brien", "zoe@example.org", NOW - dt.timedelta(days=1), OrgSettings()
    )
    session.commit()
    return candidate


def stored_zone(email: str) -> str | None:
    db.session.expire_all()
    return db.session.scalar(sa.select(Candidate.time_zone).where(Candidate.email == email))


def test_the_edit_page_sets_and_clears_the_zone_and_the_candidate_page_shows_it(client, maria, zoe):
    login(client, maria)
    page = client.get(f"/candidates/{zoe.id}")
    assert "Not known (the position&#39;s)" in page.get_data(as_text=True)
    details = {"name": zoe.name, "email": zoe.email, "time_zone": "Europe/Berlin"}
    assert client.post(f"/candidates/{zoe.id}/edit", data=details).status_code == 302
    assert stored_zone("zoe@example.org") == "Europe/Berlin"
    assert 'data-field="time-zone">Europe/Berlin</dd>' in client.get(f"/candidates/{zoe.id}").get_data(
        as_text=True
    )
    assert client.post(f"/candidates/{zoe.id}/edit", data={**details, "time_zone": ""}).status_code == 302
    assert stored_zone("zoe@example.org") is None


def test_an_unknown_zone_is_refused_naming_the_field_and_nothing_is_saved(client, maria, zoe):
    login(client, maria)
    details = {"name": "Zoe Renamed", "email": zoe.email, "time_zone": "Mars/Olympus_Mons"}
    response = client.post(f"/candidates/{zoe.id}/edit", data=details)
    assert response.status_code == 422
    assert field_errors(response.get_data(as_text=True), "time_zone")
    db.session.expire_all()
    assert db.session.get(Candidate, zoe.id).name == "Zoë O'Brien"


def test_the_add_page_takes_the_zone(client, maria, backend):
    login(client, maria)
    form = {"name": "Ana Okafor", "email": "ana@example.org", "position": backend.id, "stage": "applied"}
    assert client.post("/candidates/new", data={**form, "time_zone": "Asia/Tokyo"}).status_code == 302
    assert stored_zone("ana@example.org") == "Asia/Tokyo"


def upload(client, rows: str):
    data = {"file": (io.BytesIO((HEADER + rows).encode()), "candidates.csv")}
    return client.post("/candidates/import", data=data, content_type="multipart/form-data")


def test_a_csv_column_sets_the_zone_and_a_bad_one_names_its_line_and_column(client, maria, backend):
    login(client, maria)
    good = f"Gil,gil@example.org,Backend Engineer,{maria.email},applied,2026-11-16T08:00,,,Europe/Paris\n"
    empty = f"Hana,hana@example.org,Backend Engineer,{maria.email},applied,2026-11-16T08:00,,,\n"
    bad = f"Ivy,ivy@example.org,Backend Engineer,{maria.email},applied,2026-11-16T08:00,,,Europe/Atlantis\n"
    response = upload(client, good + empty + bad)
    assert response.status_code == 422
    problem = "<td>4</td><td>time_zone</td><td>unknown time zone &#39;Europe/Atlantis&#39;"
    assert problem in response.get_data(as_text=True)
    assert stored_zone("gil@example.org") is None  # nothing of the file was imported
    assert upload(client, good + empty).status_code == 302
    assert (stored_zone("gil@example.org"), stored_zone("hana@example.org")) == ("Europe/Paris", None)


def test_the_api_reads_and_writes_the_zone(client, session):
    manager, secret = manager_with_token(session, time_zone="UTC")
    position = PositionFactory(manager=manager, time_zone="UTC")
    session.commit()
    body = {
        "position_id": position.id,
        "name": "Ben Larsen",
        "email": "ben@example.org",
        "time_zone": "Europe/Oslo",
    }
    created = client.post("/api/v1/candidates", json=body, headers=bearer(secret))
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["time_zone"] == "Europe/Oslo"
    path = f"/api/v1/candidates/{created.get_json()['id']}"
    refused = client.patch(path, json={"time_zone": "Nowhere/Land"}, headers=bearer(secret))
    assert refused.status_code == 422 and "time_zone" in text(refused)
    assert client.get(path, headers=bearer(secret)).get_json()["time_zone"] == "Europe/Oslo"
    cleared = client.patch(path, json={"time_zone": None}, headers=bearer(secret))
    assert cleared.status_code == 200 and cleared.get_json()["time_zone"] is None


def test_an_email_sent_later_from_the_customize_page_reads_the_candidates_clock(client, maria, zoe):
    login(client, maria)
    details = {"name": zoe.name, "email": zoe.email, "time_zone": "Europe/Berlin"}
    client.post(f"/candidates/{zoe.id}/edit", data=details)
    page = client.get(f"/candidates/{zoe.id}/emails/rejection/customize").get_data(as_text=True)
    assert "Europe/Berlin" in page
