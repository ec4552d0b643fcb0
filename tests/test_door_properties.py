"""Generated hostile values thrown at every door: a page's form, a query string, a CSV file, an API
body, a webhook, a command's option and argument, a setting. Whatever Hypothesis makes of NUL and
other control characters, half characters (lone surrogates), line breaks, very long text,
non-finite or huge numbers and dates at the calendar's ends, each door either keeps a value that
prints as text or refuses it with a clear answer that names what was wrong: never a 500, never a
traceback, and nothing half written. On SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import json
import unicodedata
import urllib.parse

import pytest
import sqlalchemy as sa
import time_machine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feedback_sla.ats import sources
from feedback_sla.ats.models import Delivery, DeliveryStatus, Kind
from feedback_sla.database import db
from feedback_sla.models import Candidate, Event, Position

from .api_support import bearer, manager_with_token
from .factories import PositionFactory, UserFactory
from .helpers import logged_in
from .webhooks_support import body_of, documented_json, greenhouse_headers, post

NOW = dt.datetime(2026, 11, 18, 15, 0, tzinfo=dt.UTC)
SECRET = "greenhouse-secret-key-0123456789abcdef"
_SOURCES = itertools.count()

#: Text as a hostile sender writes it: control characters and half characters mixed into letters.
HOSTILE_CHARACTERS = st.sampled_from(["\x00", "\x07", "\x1b", "\x7f", "\x85", "\ud800", "\udfff", "\n", "\r"])
HOSTILE_TEXT = st.builds(
    lambda head, bad, tail, repeat: (head + bad + tail) * repeat,
    st.text(max_size=20),
    HOSTILE_CHARACTERS,
    st.text(max_size=20),
    st.sampled_from([1, 1, 1, 300]),
)
HOSTILE_NUMBERS = st.sampled_from([float("nan"), float("inf"), -float("inf"), 1e30, -1, 2**63, 10**400])
HOSTILE_DATES = st.sampled_from(
    [
        "0001-01-01",
        "9999-12-31",
        "0000-00-00",
        "2026-02-30",
        "1e30",
        "\x00",
        "2026-11-16T25:00",
        "+275760-09-13",
    ]
)

EXAMPLES = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


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


FORM = "application/x-www-form-urlencoded"


def wire(fields: dict) -> str:
    """Fields as a browser sends them: UTF-8, a half character as the bytes that encode it."""
    return urllib.parse.urlencode({k: str(v) for k, v in fields.items()}, errors="surrogatepass")


def counts() -> tuple[int, int, int]:
    db.session.rollback()
    return tuple(
        db.session.scalar(sa.select(sa.func.count()).select_from(model))
        for model in (Candidate, Event, Position)
    )


def is_text(value: str) -> bool:
    """No control character (a NUL, an escape, a line break) and no half of a character."""
    return not any(unicodedata.category(char) in ("Cc", "Cs") for char in value)


def stored_text_prints() -> None:
    """Whatever was kept is one line of text: its names, addresses and titles."""
    for candidate in db.session.scalars(sa.select(Candidate)):
        assert is_text(candidate.name) and is_text(candidate.email), candidate.name
    for found in db.session.scalars(sa.select(Position)):
        assert is_text(found.title), found.title


def refused_or_kept(status: int, before: tuple, text: str) -> None:
    assert status < 500, text[:500]
    assert "Traceback" not in text
    if status >= 400:
        assert counts() == before
    stored_text_prints()


@EXAMPLES
@given(name=HOSTILE_TEXT)
def test_the_add_candidate_form(client, manager, position, name):
    logged_in(client, manager)
    before = counts()
    form = {"name": name, "email": "ana@example.com", "position": position.id, "stage": "applied"}
    response = client.post("/candidates/new", data=wire(form), content_type=FORM)
    refused_or_kept(response.status_code, before, response.get_data(as_text=True))


@EXAMPLES
@given(query=HOSTILE_TEXT, day=HOSTILE_DATES, number=HOSTILE_NUMBERS)
def test_query_strings(client, session, manager, query, day, number):
    admin = UserFactory(role="admin")
    session.commit()
    logged_in(client, admin)
    for path, args in (
        ("/candidates", {"q": query, "page": number}),
        ("/metrics", {"since": day, "until": day}),
        ("/", {"page": number, "position": query}),
    ):
        response = client.get(f"{path}?{wire(args)}")
        assert response.status_code < 500, path
    client.post("/logout")


@EXAMPLES
@given(name=HOSTILE_TEXT, title=HOSTILE_TEXT, applied=HOSTILE_DATES)
def test_a_csv_file(runner, manager, tmp_path_factory, name, title, applied):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["name", "email", "position", "manager_email", "stage", "applied_at"])
    writer.writerow([name, "ana@example.com", title, "maria@example.com", "applied", applied])
    writer.writerow(
        ["Ben Lee", "ben@example.com", "Backend Engineer", "maria@example.com", "applied", "2026-11-16"]
    )
    path = tmp_path_factory.mktemp("csv") / "candidates.csv"
    path.write_text(out.getvalue(), encoding="utf-8", errors="surrogatepass")
    before = counts()
    result = runner.invoke(args=["candidates", "import", str(path)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert result.exit_code in (0, 1), result.output
    if result.exit_code:
        assert "line 2" in result.output or "line " in result.output, result.output
        assert counts() == before
    stored_text_prints()


@EXAMPLES
@given(name=HOSTILE_TEXT, note=HOSTILE_TEXT, applied=HOSTILE_DATES)
def test_api_bodies(client, session, name, note, applied):
    manager, secret = manager_with_token(session)
    position = PositionFactory(manager=manager)
    session.commit()
    before = counts()
    body = {"position_id": position.id, "name": name, "email": "ana@example.org", "applied_at": applied}
    response = client.post(
        "/api/v1/candidates",
        data=json.dumps(body),
        headers={**bearer(secret), "Content-Type": "application/json"},
    )
    refused_or_kept(response.status_code, before, response.get_data(as_text=True))
    if response.status_code < 400:
        cid = response.get_json()["id"]
        before = counts()
        noted = client.post(
            f"/api/v1/candidates/{cid}/timeline/notes",
            data=json.dumps({"body": note}),
            headers={**bearer(secret), "Content-Type": "application/json"},
        )
        refused_or_kept(noted.status_code, before, noted.get_data(as_text=True))


@EXAMPLES
@given(name=HOSTILE_TEXT, job=HOSTILE_TEXT, applied=st.one_of(HOSTILE_DATES, HOSTILE_NUMBERS))
def test_webhooks(client, session, name, job, applied):
    dora = UserFactory(email=f"dora{next(_SOURCES)}@example.com")
    session.commit()
    source = sources.create_source(
        session, sources.NewSource(Kind.GREENHOUSE, "Greenhouse", dora, SECRET), NOW
    )
    session.commit()
    payload = documented_json("greenhouse", "new_candidate_application")
    application = payload["payload"]["application"]
    application["candidate"]["first_name"] = name
    application["jobs"][0]["name"] = job
    application["applied_at"] = applied
    raw = body_of(payload)
    before = counts()
    response = post(client, source, raw, greenhouse_headers(SECRET, raw, f"gh-{hash(raw)}"))
    assert response.status_code < 500
    db.session.rollback()
    deliveries = db.session.scalars(sa.select(Delivery).where(Delivery.source_id == source.id)).all()
    assert deliveries and all(d.status != DeliveryStatus.RECEIVED for d in deliveries)
    if any(d.status == DeliveryStatus.FAILED for d in deliveries):
        assert counts() == before and all(d.error for d in deliveries)
    stored_text_prints()


@EXAMPLES
@given(value=st.one_of(HOSTILE_TEXT, HOSTILE_NUMBERS.map(str), HOSTILE_DATES))
def test_settings_and_command_options(runner, manager, value):
    for args in (
        ["settings", "set", "policy.application", value],
        ["settings", "set", "company.name", value],
        ["positions", "create", value, "--manager", "maria@example.com"],
        ["report", "--since", value],
    ):
        before = counts()
        result = runner.invoke(args=args)
        assert result.exception is None or isinstance(result.exception, SystemExit), (args, result.output)
        if result.exit_code:
            assert "Error" in result.output, (args, result.output)
            assert counts() == before
    stored_text_prints()
