"""One address rule at every door (RELIABILITY 15, 38): the API, the pages, the CSV import, the
commands and the ATS webhooks refuse the same addresses with the same reason, naming the field,
and write nothing; internationalized addresses (RFC 6531) are accepted everywhere."""

from __future__ import annotations

import datetime as dt
import io
import json
import re

import pytest
import sqlalchemy as sa
import time_machine

from feedback_sla.addresses import (
    InvalidAddress,
    comparable_address,
    needs_smtputf8,
    normalize_address,
    wire_address,
)
from feedback_sla.ats import sources
from feedback_sla.ats.models import Delivery, DeliveryStatus, Kind
from feedback_sla.config import ConfigurationError
from feedback_sla.database import db
from feedback_sla.models import Candidate, Position, Role, User

from .api_support import bearer, manager_with_token
from .factories import PositionFactory, UserFactory
from .helpers import logged_in, text
from .webhooks_support import greenhouse_headers, post

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)

#: What the API, the pages and the webhooks took before (the CSV import refused them).
BAD = ["not-an-email", "a@b", "two@@example.org", "sp ace@example.org"]
#: Internationalized addresses: a non-ASCII local part, an IDN domain, both.
INTERNATIONAL = {
    "Chloé.Nakamura2@Example.com": "chloé.nakamura2@example.com",
    "jonas@xn--mnchen-3ya.de": "jonas@münchen.de",
    "用户@例子.广告": "用户@例子.广告",
}


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(NOW, tick=False):
        yield


def reason(address: str) -> str:
    """What every door says about a bad address, after the field's name."""
    with pytest.raises(InvalidAddress) as refused:
        normalize_address(address)
    return refused.value.reason


def count(model) -> int:
    db.session.rollback()
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


# --- the rule -------------------------------------------------------------------------------------


@pytest.mark.parametrize("address", BAD)
def test_the_rule_names_the_field_and_says_why(address):
    with pytest.raises(InvalidAddress) as refused:
        normalize_address(address, "manager_email")
    assert refused.value.field == "manager_email"
    assert refused.value.reason.startswith(f"{address!r} is not a valid email address: ")
    assert str(refused.value) == f"manager_email: {refused.value.reason}"


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("", "must not be empty"),
        ("ana@example.com\nBcc: all@example.com", "must be one line"),
        ("ana\x00@example.com", "contains a control character (NUL)"),
        ("a" * 250 + "@example.com", "longer than 254 characters"),
        ("Ana <ana@example.com>", "display name"),
        ("ana@localhost", "not valid"),
    ],
)
def test_the_rule_refuses_what_no_server_would_take(address, why):
    with pytest.raises(InvalidAddress, match=re.escape(why)):
        normalize_address(address)


@pytest.mark.parametrize(("given", "kept"), INTERNATIONAL.items())
def test_internationalized_addresses_are_kept_in_unicode_lower_case(given, kept):
    assert normalize_address(f"  {given} ") == kept
    assert comparable_address(given.upper()) == kept


def test_on_the_wire_the_domain_goes_as_a_labels_and_only_a_non_ascii_local_part_needs_smtputf8():
    assert wire_address("jonas@münchen.de") == "jonas@xn--mnchen-3ya.de"
    assert wire_address("chloé@example.com") == "chloé@example.com"
    assert not needs_smtputf8("jonas@münchen.de") and needs_smtputf8("chloé@example.com")
    assert comparable_address(" Not An Address ") == "not an address"


# --- the doors ------------------------------------------------------------------------------------


@pytest.fixture
def api(session):
    manager, secret = manager_with_token(session, email="maria@example.com")
    position = PositionFactory(manager=manager, title="Backend Engineer", time_zone="UTC")
    session.commit()
    return position, bearer(secret)


@pytest.mark.parametrize("address", BAD)
def test_the_api_refuses_a_bad_address_with_422_naming_email(client, api, address):
    position, headers = api
    body = {"position_id": position.id, "name": "Ana Okafor", "email": address}
    response = client.post("/api/v1/candidates", headers=headers, json=body)
    assert response.status_code == 422
    assert response.json["errors"] == [{"field": "email", "location": "json", "messages": [reason(address)]}]
    assert response.json["detail"] == f"email: {reason(address)}"
    assert count(Candidate) == 0


def test_the_api_refuses_a_bad_address_in_a_correction_too(client, api):
    position, headers = api
    body = {"position_id": position.id, "name": "Ana Okafor", "email": "ana@example.com"}
    created = client.post("/api/v1/candidates", headers=headers, json=body).json
    response = client.patch(f"/api/v1/candidates/{created['id']}", headers=headers, json={"email": "a@b"})
    assert response.status_code == 422 and response.json["errors"][0]["field"] == "email"
    assert db.session.get(Candidate, created["id"]).email == "ana@example.com"


@pytest.mark.parametrize(("given", "kept"), INTERNATIONAL.items())
def test_the_api_takes_an_internationalized_address_as_the_rule_keeps_it(client, api, given, kept):
    position, headers = api
    body = {"position_id": position.id, "name": "Chloé Nakamura", "email": given}
    response = client.post("/api/v1/candidates", headers=headers, json=body)
    assert response.status_code == 201, response.json
    assert response.json["email"] == kept
    again = client.post("/api/v1/candidates", headers=headers, json={**body, "email": kept.upper()})
    assert again.status_code == 409  # the same candidate, whatever the case


@pytest.mark.parametrize("address", BAD)
def test_the_add_candidate_page_refuses_a_bad_address(client, api, address):
    position, _ = api
    logged_in(client, position.manager)
    response = client.post(
        "/candidates/new",
        data={"name": "Ana Okafor", "email": address, "position": position.id, "stage": "applied"},
    )
    assert response.status_code == 422
    assert f"Email: {reason(address)}" in text(response)
    assert count(Candidate) == 0


def test_the_new_user_page_refuses_a_bad_address(client, session):
    admin = UserFactory(role=Role.ADMIN)
    logged_in(client, admin)
    form = {"name": "Ben", "role": "manager", "time_zone": "UTC", "password": "a long passphrase"}
    for address in BAD:
        response = client.post("/admin/users/new", data={**form, "email": address})
        assert response.status_code in (400, 422) and reason(address) in text(response), address
    assert count(User) == 1


def csv_of(addresses: list[str]) -> str:
    rows = [
        f"Ana {i},{address},Backend Engineer,maria@example.com,applied,2026-11-16"
        for i, address in enumerate(addresses)
    ]
    return "\n".join(["name,email,position,manager_email,stage,applied_at", *rows]) + "\n"


def test_a_csv_file_with_the_bad_addresses_names_each_line_and_imports_nothing(runner, client, api, tmp_path):
    position, _ = api
    expected = [f"line {line}, column email: {reason(a)}" for line, a in enumerate(BAD, start=2)]
    path = tmp_path / "candidates.csv"
    path.write_text(csv_of(BAD), encoding="utf-8")
    result = runner.invoke(args=["candidates", "import", str(path)])
    assert result.exit_code == 1
    assert all(line in result.output for line in expected), result.output

    logged_in(client, position.manager)
    upload = {"file": (io.BytesIO(csv_of(BAD).encode()), "candidates.csv")}
    response = client.post("/candidates/import", data=upload, content_type="multipart/form-data")
    assert response.status_code == 422
    page = " ".join(text(response).split())
    assert all(f"<td>{line}</td><td>email</td><td>{reason(a)}</td>" in page for line, a in enumerate(BAD, 2))
    assert count(Candidate) == 0


def test_a_csv_file_takes_internationalized_addresses(runner, api, tmp_path):
    path = tmp_path / "candidates.csv"
    path.write_text(csv_of(list(INTERNATIONAL)), encoding="utf-8")
    result = runner.invoke(args=["candidates", "import", str(path)])
    assert result.exit_code == 0, result.output
    emails = db.session.scalars(sa.select(Candidate.email).order_by(Candidate.id)).all()
    assert emails == list(INTERNATIONAL.values())


@pytest.mark.parametrize("address", BAD)
def test_the_users_command_refuses_a_bad_address(runner, session, address):
    result = runner.invoke(
        args=["users", "create", address, "--name", "Ben", "--role", "manager", "--password-stdin"],
        input="a long passphrase\n",
    )
    assert result.exit_code == 1
    assert f"email: {reason(address)}" in result.output
    assert count(User) == 0


def test_the_users_command_takes_an_internationalized_address_and_finds_it_in_any_case(runner, session):
    args = ["--name", "Jonas", "--role", "manager", "--password-stdin"]
    created = runner.invoke(args=["users", "create", "Jonas@MÜNCHEN.de", *args], input="a long passphrase\n")
    assert created.exit_code == 0, created.output
    assert db.session.scalar(sa.select(User.email)) == "jonas@münchen.de"
    listed = runner.invoke(
        args=["positions", "create", "Data Analyst", "--manager", "JONAS@xn--mnchen-3ya.de"]
    )
    assert listed.exit_code == 0, listed.output
    assert db.session.scalar(sa.select(Position.title)) == "Data Analyst"


@pytest.mark.parametrize("address", BAD)
def test_the_organisations_address_is_held_to_the_rule_when_the_app_starts(make_app, address):
    with pytest.raises(ConfigurationError) as refused:
        make_app(ORGANISATION_EMAIL=address)
    assert str(refused.value) == f"ORGANISATION_EMAIL (FEEDBACK_SLA_ORGANISATION_EMAIL): {reason(address)}"


# --- the ATS --------------------------------------------------------------------------------------

SECRET = "whsec-test-0123456789abcdef"


def application(address: str) -> bytes:
    """A Greenhouse ``new_candidate_application`` with the fields its documented example has that
    the app reads, the candidate's address given."""
    job = {"id": 4002543003, "name": "Backend Engineer", "hiring_team": {"hiring_managers": []}}
    candidate = {
        "id": 47108155,
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email_addresses": [{"value": address, "type": "personal"}],
    }
    payload = {
        "application": {
            "id": 69306314,
            "applied_at": "2026-11-23T15:47:03Z",
            "current_stage": {"id": 2976371, "name": "Application Review"},
            "jobs": [job],
            "candidate": candidate,
        }
    }
    return json.dumps({"action": "new_candidate_application", "payload": payload}).encode()


@pytest.fixture
def greenhouse(session):
    manager = UserFactory(email="dora@example.com", name="Dora Default")
    new = sources.NewSource(Kind.GREENHOUSE, "greenhouse test", manager, SECRET)
    source = sources.create_source(session, new, NOW)
    session.commit()
    return source


@pytest.mark.parametrize("address", BAD)
def test_an_ats_application_with_a_bad_address_is_stored_failed_with_the_reason(client, greenhouse, address):
    body = application(address)
    response = post(client, greenhouse, body, greenhouse_headers(SECRET, body))
    assert response.status_code == 202
    delivery = db.session.scalar(sa.select(Delivery))
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.error == f"email: {reason(address)}"
    assert count(Candidate) == count(Position) == 0


def test_an_ats_application_with_an_internationalized_address_creates_the_candidate(client, greenhouse):
    body = application("Ada.Lövelace@Example.org")
    response = post(client, greenhouse, body, greenhouse_headers(SECRET, body))
    assert response.status_code == 200, response.json
    assert db.session.scalar(sa.select(Candidate.email)) == "ada.lövelace@example.org"
