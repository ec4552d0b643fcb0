"""The ``feedback-sla`` operator commands, driven through Flask's CLI runner on the real database."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
import time_machine

from feedback_sla.accounts.service import find_by_email
from feedback_sla.cli.candidates import LIST_COLUMNS
from feedback_sla.database import db
from feedback_sla.models import Candidate, Event, EventKind, Position, Role, Setting, User, WaitReason
from feedback_sla.settings import service as settings_service
from feedback_sla.waits import service
from feedback_sla.waits.models import Wait

from .factories import PositionFactory, UserFactory

UTC = dt.UTC
CSV_HEADER = (
    "candidate,email,position,manager,stage,reason,opened_at,due_at,business_days_waited,state,follow_ups"
)


def row_counts(session) -> dict[str, int]:
    """Rows in every table of the schema."""
    return {
        table.name: session.scalar(sa.select(sa.func.count()).select_from(table))
        for table in db.metadata.sorted_tables
    }


def assert_failed(result, *messages: str) -> None:
    assert result.exit_code != 0, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    for message in messages:
        assert message in result.output


def invoke_list(runner, *args: str, now: dt.datetime):
    with time_machine.travel(now, tick=False):
        return runner.invoke(args=["candidates", "list", *args])


def csv_rows(output: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(output)))


# --- users ---------------------------------------------------------------------------------------


def create_user_args(email: str = "maria@example.com", *extra: str) -> list[str]:
    return [
        "users",
        "create",
        email,
        "--name",
        "Maria Lopez",
        "--role",
        "manager",
        "--time-zone",
        "America/New_York",
        "--password-stdin",
        *extra,
    ]


def test_users_create_reads_the_password_from_stdin(runner, session):
    result = runner.invoke(args=create_user_args("Maria@Example.com"), input="a long passphrase\n")

    assert result.exit_code == 0, result.output
    assert "created manager maria@example.com" in result.output
    user = find_by_email(session, "maria@example.com")
    assert user.name == "Maria Lopez"
    assert user.role is Role.MANAGER
    assert user.time_zone == "America/New_York"
    assert user.active
    assert user.check_password("a long passphrase")
    assert not user.check_password("a long passphrase\n")


def test_users_create_prompts_for_the_password_twice(runner, session):
    args = ["users", "create", "avery@example.com", "--name", "Avery Admin", "--role", "admin"]
    result = runner.invoke(args=args, input="admin passphrase\nadmin passphrase\n")

    assert result.exit_code == 0, result.output
    assert "admin passphrase" not in result.output  # no echo
    user = find_by_email(session, "avery@example.com")
    assert user.role is Role.ADMIN
    assert user.time_zone == "UTC"
    assert user.check_password("admin passphrase")


@pytest.mark.parametrize(
    "args, password, message",
    [
        (
            create_user_args("maria.example.com"),
            "a long passphrase",
            "email: 'maria.example.com' is not a valid",
        ),
        (create_user_args(), "short", "password must have at least 8 characters"),
        (
            create_user_args("maria@example.com", "--time-zone", "Mars/Base"),
            "a long passphrase",
            "unknown time zone 'Mars/Base'",
        ),
        (create_user_args("maria@example.com", "--role", "owner"), "a long passphrase", "'owner'"),
    ],
    ids=["bad-email", "short-password", "unknown-time-zone", "unknown-role"],
)
def test_users_create_refuses_bad_input_with_a_clear_message(runner, session, args, password, message):
    result = runner.invoke(args=args, input=password + "\n")

    assert_failed(result, message)
    assert session.scalar(sa.select(sa.func.count()).select_from(User)) == 0


def test_users_create_refuses_an_email_taken_in_another_case(runner, session):
    UserFactory(email="maria@example.com")
    session.commit()

    result = runner.invoke(args=create_user_args("MARIA@EXAMPLE.COM"), input="a long passphrase\n")

    assert_failed(result, "a user with email maria@example.com already exists")
    assert session.scalar(sa.select(sa.func.count()).select_from(User)) == 1


def test_users_list_shows_every_user(runner, session):
    UserFactory(email="maria@example.com", name="Maria Lopez", time_zone="America/New_York")
    UserFactory(email="admin@example.com", name="Avery Admin", role=Role.ADMIN)
    session.commit()

    table = runner.invoke(args=["users", "list"])
    assert table.exit_code == 0, table.output
    lines = table.output.splitlines()
    assert lines[0].split() == ["id", "email", "name", "role", "time_zone", "digest_hour", "active"]
    assert "maria@example.com" in lines[1] and "America/New_York" in lines[1]
    assert "admin@example.com" in lines[2] and "admin" in lines[2]

    listed = csv_rows(runner.invoke(args=["users", "list", "--format", "csv"]).output)
    assert [(u["email"], u["role"]) for u in listed] == [
        ("maria@example.com", "manager"),
        ("admin@example.com", "admin"),
    ]


# --- positions -----------------------------------------------------------------------------------


@pytest.fixture
def maria(session):
    user = UserFactory(email="maria@example.com", name="Maria Lopez", time_zone="America/New_York")
    session.commit()
    return user


@pytest.fixture
def jonas(session):
    user = UserFactory(email="jonas@example.com", name="Jonas Becker", time_zone="Europe/Berlin")
    session.commit()
    return user


def test_positions_create_takes_the_managers_time_zone_by_default(runner, session, maria):
    result = runner.invoke(args=["positions", "create", "Backend Engineer", "--manager", "MARIA@example.com"])

    assert result.exit_code == 0, result.output
    assert "'Backend Engineer' for maria@example.com (America/New_York)" in result.output
    position = session.scalar(sa.select(Position))
    assert (position.title, position.manager_id, position.time_zone) == (
        "Backend Engineer",
        maria.id,
        "America/New_York",
    )
    assert position.policy_overrides == {}
    assert position.is_open


def test_positions_create_with_its_own_time_zone_and_policies(runner, session, maria):
    args = [
        "positions",
        "create",
        "Data Analyst",
        "--manager",
        "maria@example.com",
        "--time-zone",
        "America/Chicago",
        "--policy",
        "application=7",
        "--policy",
        "decision=2",
    ]
    result = runner.invoke(args=args)

    assert result.exit_code == 0, result.output
    position = session.scalar(sa.select(Position))
    assert position.time_zone == "America/Chicago"
    assert position.policy_overrides == {"application": 7, "decision": 2}


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--policy", "application"], "policy override 'application' must be REASON=DAYS"),
        (["--policy", "interview=3"], "policy override 'interview=3' must be REASON=DAYS"),
        (["--policy", "decision=soon"], "decision: 'soon' is not a whole number of business days"),
        (["--policy", "decision=0"], "decision: business days must be between 1 and 90, got 0"),
        (["--time-zone", "Mars/Base"], "unknown time zone 'Mars/Base'"),
        (["--manager", "nobody@example.com"], "no user with email nobody@example.com"),
    ],
    ids=["no-days", "unknown-reason", "not-a-number", "zero-days", "bad-time-zone", "unknown-manager"],
)
def test_positions_create_refuses_bad_options(runner, session, maria, extra, message):
    args = ["positions", "create", "Backend Engineer", "--manager", "maria@example.com", *extra]
    result = runner.invoke(args=args)

    assert_failed(result, message)
    assert session.scalar(sa.select(sa.func.count()).select_from(Position)) == 0


def test_positions_list(runner, session, maria, jonas):
    PositionFactory(title="Backend Engineer", manager=maria, time_zone="America/New_York")
    PositionFactory(
        title="Technical Writer", manager=jonas, time_zone="Europe/London", policy_overrides={"decision": 2}
    )
    session.commit()

    result = runner.invoke(args=["positions", "list", "--format", "csv"])

    assert result.exit_code == 0, result.output
    assert [
        (p["title"], p["manager"], p["time_zone"], p["policy_overrides"]) for p in csv_rows(result.output)
    ] == [
        ("Backend Engineer", "maria@example.com", "America/New_York", ""),
        ("Technical Writer", "jonas@example.com", "Europe/London", '{"decision": 2}'),
    ]
    table = runner.invoke(args=["positions", "list"])
    assert table.output.splitlines()[0].split() == [
        "id",
        "title",
        "manager",
        "time_zone",
        "policy_overrides",
        "open",
        "autopilot",
    ]


# --- settings ------------------------------------------------------------------------------------


def test_settings_show_lists_every_setting_with_its_default(runner):
    result = runner.invoke(args=["settings", "show", "--format", "csv"])

    assert result.exit_code == 0, result.output
    values = {r["key"]: r["value"] for r in csv_rows(result.output)}
    assert values == {
        "time_zone": "UTC",
        "holiday_calendar": "",
        "end_of_business_day": "18:00",
        "warning_business_days": "1",
        "escalate_after_days": "14",
        "escalate_after_followups": "2",
        "policy.application": "5",
        "policy.decision": "3",
        "policy.follow_up": "2",
        "company_name": "Example Company",
        "status_page.enabled": "on",
        "status_page.days_after_decision": "90",
        "autopilot.lead_business_hours": "4",
        "autopilot.max_per_wait": "2",
        "retention.days_after_decision": "",
        "languages.enabled": "en, de, fr, es, nl",
        "languages.default": "en",
        "bulk.confirm_above": "25",
        "survey.enabled": "off",
        "survey.days_open": "30",
        "survey.report_floor": "5",
        "my_data.include_internal": "on",
    }
    table = runner.invoke(args=["settings", "show"])
    assert table.output.splitlines()[0].split() == ["key", "value", "meaning"]


@pytest.mark.parametrize(
    "key, value",
    [
        ("holiday_calendar", "DE-BY"),
        ("time_zone", "Europe/Berlin"),
        ("end_of_business_day", "17:30"),
        ("escalate_after_followups", "3"),
    ],
)
def test_settings_set_stores_a_valid_value(runner, session, key, value):
    result = runner.invoke(args=["settings", "set", key, value])

    assert result.exit_code == 0, result.output
    assert f"{key} = {value}" in result.output
    shown = csv_rows(runner.invoke(args=["settings", "show", "--format", "csv"]).output)
    assert {r["key"]: r["value"] for r in shown}[key] == value


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("policy.interview", "3", "unknown setting 'policy.interview'; known: time_zone,"),
        (
            "holiday_calendar",
            "XX",
            "holiday_calendar: unknown holiday calendar 'XX': Country XX not available",
        ),
        ("holiday_calendar", "US-ZZ", "does not have subdivision ZZ"),
        ("time_zone", "Mars/Base", "time_zone: unknown time zone 'Mars/Base'"),
        ("end_of_business_day", "25:00", "'25:00' is not a time of day HH:MM"),
        ("policy.application", "0", "policy.application: must be between 1 and 90, got 0"),
        ("policy.decision", "three", "policy.decision: 'three' is not a whole number"),
    ],
    ids=[
        "unknown-key",
        "unknown-calendar",
        "unknown-subdivision",
        "unknown-time-zone",
        "bad-time",
        "zero-policy",
        "not-a-number",
    ],
)
def test_settings_set_refuses_bad_values_with_the_reason(runner, session, key, value, message):
    result = runner.invoke(args=["settings", "set", key, value])

    assert_failed(result, message)
    assert session.scalar(sa.select(sa.func.count()).select_from(Setting)) == 0


# --- candidates import ---------------------------------------------------------------------------

CHICAGO = ZoneInfo("America/Chicago")
NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")

GOOD_FILE = """\
name,email,position,manager_email,stage,applied_at,interview_at,promised_by
Ana Okafor,ana@example.com,Data Analyst,maria@example.com,applied,2026-11-13T15:00,,
Ben Schmidt,ben@example.com,Data Analyst,MARIA@example.com,interview,2026-11-02T09:00:00Z,2026-11-19T10:00,
Chloé Nakamura,Chloe@Example.com,Backend Engineer,maria@example.com,screen,2026-11-16T09:00-05:00,,2026-11-18
Dmitri Silva,dmitri@example.com,Site Reliability Engineer,jonas@example.com,applied,2026-06-03 10:00,,
Elif Kowalski,elif@example.com,Data Analyst,maria@example.com,final,2026-11-02,2026-11-23T16:00,2026-12-31
"""


@pytest.fixture
def analyst(session, maria):
    """An existing position in Chicago, away from its manager in New York."""
    position = PositionFactory(title="Data Analyst", manager=maria, time_zone="America/Chicago")
    session.commit()
    return position


def write(tmp_path, text: str, name: str = "candidates.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def waits_by_candidate(session) -> dict[str, list[Wait]]:
    result: dict[str, list[Wait]] = {}
    query = sa.select(Candidate.name, Wait).join(Wait, Wait.candidate_id == Candidate.id).order_by(Wait.id)
    for name, wait in session.execute(query):
        result.setdefault(name, []).append(wait)
    return result


def test_import_of_a_good_file_imports_every_row_and_opens_the_right_waits(
    runner, session, tmp_path, maria, jonas, analyst
):
    path = write(tmp_path, GOOD_FILE)

    result = runner.invoke(args=["candidates", "import", str(path)])

    assert result.exit_code == 0, result.output
    assert "imported 5 candidate(s); 2 awaiting a decision after interview" in result.output
    assert "created position 'Backend Engineer'" in result.output
    assert "created position 'Site Reliability Engineer'" in result.output
    assert "created position 'Data Analyst'" not in result.output

    candidates = {c.name: c for c in session.scalars(sa.select(Candidate))}
    assert set(candidates) == {"Ana Okafor", "Ben Schmidt", "Chloé Nakamura", "Dmitri Silva", "Elif Kowalski"}
    assert candidates["Ben Schmidt"].stage == "interview"
    assert candidates["Chloé Nakamura"].email == "chloe@example.com"
    assert candidates["Ana Okafor"].position_id == analyst.id

    positions = {p.title: p for p in session.scalars(sa.select(Position))}
    assert len(positions) == 3
    assert (positions["Backend Engineer"].manager_id, positions["Backend Engineer"].time_zone) == (
        maria.id,
        "America/New_York",
    )
    assert (
        positions["Site Reliability Engineer"].manager_id,
        positions["Site Reliability Engineer"].time_zone,
    ) == (
        jonas.id,
        "Europe/Berlin",
    )

    waits = waits_by_candidate(session)
    # Ana: no offset, so 15:00 in the position's Chicago; five business days from a Friday.
    (ana,) = waits["Ana Okafor"]
    assert ana.reason is WaitReason.APPLICATION
    assert ana.opened_at == dt.datetime(2026, 11, 13, 15, tzinfo=CHICAGO)
    assert ana.due_at == dt.datetime(2026, 11, 20, 18, tzinfo=CHICAGO)
    assert ana.closed_at is None
    # Ben: interviewed, so the application wait closed and a decision wait opened at the interview.
    application, decision = waits["Ben Schmidt"]
    assert application.opened_at == dt.datetime(2026, 11, 2, 9, tzinfo=UTC)
    assert application.closed_at == dt.datetime(2026, 11, 19, 10, tzinfo=CHICAGO)
    assert decision.reason is WaitReason.DECISION
    assert decision.opened_at == dt.datetime(2026, 11, 19, 10, tzinfo=CHICAGO)
    assert decision.due_at == dt.datetime(2026, 11, 24, 18, tzinfo=CHICAGO)
    assert decision.closed_at is None
    # Chloé: the promise (Wednesday) is earlier than the policy (next Monday) and caps it.
    (chloe,) = waits["Chloé Nakamura"]
    assert chloe.promised_date == dt.date(2026, 11, 18)
    assert chloe.due_at == dt.datetime(2026, 11, 18, 18, tzinfo=NEW_YORK)
    # Dmitri: a new position for Jonas, so its dates are in Berlin time.
    (dmitri,) = waits["Dmitri Silva"]
    assert dmitri.opened_at == dt.datetime(2026, 6, 3, 10, tzinfo=BERLIN)
    assert dmitri.due_at == dt.datetime(2026, 6, 10, 18, tzinfo=BERLIN)
    # Elif: a bare date is the start of that day; a promise later than the policy is the deadline
    # the candidate was told, so it is the decision's.
    elif_application, elif_decision = waits["Elif Kowalski"]
    assert elif_application.opened_at == dt.datetime(2026, 11, 2, 0, tzinfo=CHICAGO)
    assert elif_decision.promised_date == dt.date(2026, 12, 31)
    assert elif_decision.due_at == dt.datetime(2026, 12, 31, 18, tzinfo=CHICAGO)
    # A promise in the file is on the timeline, as one made on the candidate page.
    promises = {
        name: data
        for name, data in session.execute(
            sa.select(Candidate.name, Event.data)
            .join(Event, Event.candidate_id == Candidate.id)
            .where(Event.kind == EventKind.PROMISE_SET)
        )
    }
    assert promises == {
        "Chloé Nakamura": {"from": None, "to": "2026-11-18"},
        "Elif Kowalski": {"from": None, "to": "2026-12-31"},
    }


def test_import_refuses_an_application_in_the_future(runner, session, tmp_path, maria, analyst):
    path = write(
        tmp_path,
        "name,email,position,manager_email,stage,applied_at\n"
        "Ana Okafor,ana@example.com,Data Analyst,maria@example.com,applied,2099-01-04T09:00\n",
    )
    result = runner.invoke(args=["candidates", "import", str(path)])
    assert result.exit_code == 1
    assert "line 2, column applied_at: is in the future" in result.output
    assert session.scalar(sa.select(sa.func.count()).select_from(Candidate)) == 0


def test_import_without_the_optional_columns(runner, session, tmp_path, maria):
    path = write(
        tmp_path,
        "name,email,position,manager_email,stage,applied_at\n"
        "Ana Okafor,ana@example.com,Backend Engineer,maria@example.com,applied,2026-11-14T10:00\n",
    )

    result = runner.invoke(args=["candidates", "import", str(path)])

    assert result.exit_code == 0, result.output
    (wait,) = waits_by_candidate(session)["Ana Okafor"]
    assert wait.due_at == dt.datetime(2026, 11, 20, 18, tzinfo=NEW_YORK)  # Saturday + 5


GOOD_ROW = "Ana Okafor,ana@example.com,Brand New Position,maria@example.com,applied,2026-11-13T15:00"
HEADER = "name,email,position,manager_email,stage,applied_at"


def after_good_row(row: str) -> str:
    """A file whose line 2 is fine (and would create a position) and whose line 3 is ``row``."""
    return f"{HEADER}\n{GOOD_ROW}\n{row}\n"


@pytest.mark.parametrize(
    "text, where, message",
    [
        (
            after_good_row(
                "Ben Schmidt,ben(at)example.com,Data Analyst,maria@example.com,applied,2026-11-13"
            ),
            "line 3, column email",
            "'ben(at)example.com' is not a valid email address",
        ),
        (
            after_good_row("Ben Schmidt,ben@example.com,Data Analyst,nobody@example.com,applied,2026-11-13"),
            "line 3, column manager_email",
            "no user with email nobody@example.com",
        ),
        (
            after_good_row("Ben Schmidt,ben@example.com,Data Analyst,maria@example.com,applied,13/11/2026"),
            "line 3, column applied_at",
            "'13/11/2026' is not an ISO 8601 date",
        ),
        (
            "name,email,position,manager_email,applied_at\n"
            "Ana Okafor,ana@example.com,Brand New Position,maria@example.com,2026-11-13T15:00\n",
            "line 1, column stage",
            "required column is missing",
        ),
        (
            after_good_row("Ana O.,ANA@example.com,brand new position,maria@example.com,screen,2026-11-14"),
            "line 3, column email",
            "duplicate candidate: same email and position as line 2",
        ),
        (
            after_good_row("Zoe Larsen,zoe@example.com,Data Analyst,maria@example.com,applied,2026-11-14"),
            "line 3, column email",
            "zoe@example.com is already a candidate for Data Analyst",
        ),
    ],
    ids=[
        "bad-email",
        "unknown-manager",
        "unparseable-date",
        "missing-column",
        "duplicate-in-file",
        "duplicate-of-existing",
    ],
)
def test_import_with_one_bad_row_names_it_and_changes_nothing(
    runner, session, tmp_path, maria, analyst, text, where, message
):
    service.add_candidate(
        session,
        analyst,
        "Zoe Larsen",
        "Zoe@example.com",
        dt.datetime(2026, 11, 2, 9, tzinfo=UTC),
        settings_service.load(session),
    )
    session.commit()
    before = row_counts(session)
    path = write(tmp_path, text)

    result = runner.invoke(args=["candidates", "import", str(path)])

    assert_failed(result, f"{path}: {where}: {message}", "nothing imported: 1 problem(s)")
    assert "imported" not in result.output.replace("nothing imported", "")
    session.expire_all()
    assert row_counts(session) == before
    assert session.scalar(sa.select(Position).where(Position.title == "Brand New Position")) is None


def test_import_lists_every_problem_of_the_file(runner, session, tmp_path, maria):
    path = write(
        tmp_path,
        f"{HEADER}\n"
        "Ana Okafor,ana@example,Backend Engineer,maria@example.com,applied,2026-11-13\n"
        "Ben Schmidt,ben@example.com,Backend Engineer,maria@example.com,offer letter,yesterday\n",
    )

    result = runner.invoke(args=["candidates", "import", str(path)])

    assert_failed(
        result,
        "line 2, column email",
        "line 3, column stage: unknown stage 'offer letter'",
        "line 3, column applied_at",
        "nothing imported: 3 problem(s)",
    )
    assert session.scalar(sa.select(sa.func.count()).select_from(Candidate)) == 0


def test_import_refuses_a_column_named_twice(runner, session, tmp_path, maria):
    path = write(
        tmp_path,
        "name,email,position,manager_email,stage,applied_at,email\n"
        "Ana Okafor,ana@example.com,Data Analyst,maria@example.com,applied,2026-11-20T09:00,"
        "other@example.com\n",
    )
    result = runner.invoke(args=["candidates", "import", str(path)])
    assert result.exit_code == 1
    assert "line 1, column email: column appears 2 times; keep one" in result.output
    assert session.scalar(sa.select(sa.func.count()).select_from(Candidate)) == 0


def test_import_of_a_missing_file_fails(runner, tmp_path):
    result = runner.invoke(args=["candidates", "import", str(tmp_path / "nope.csv")])
    assert_failed(result, "does not exist")


# --- candidates list -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ListCase:
    """One wait, listed at ``now``: the counting rule decides every column."""

    id: str
    opened_at: str
    policy_days: int
    now: str
    due_at: str
    days_waited: int
    state: str
    position_zone: str = "America/New_York"
    manager_zone: str = "America/New_York"
    calendar: str = ""
    promised: dt.date | None = None
    extra: dict = field(default_factory=dict)


LIST_CASES = [
    ListCase(
        "friday-skips-the-weekend",
        opened_at="2026-11-13T15:00:00-05:00",
        policy_days=3,
        now="2026-11-18T12:00:00+00:00",
        due_at="2026-11-18T18:00:00-05:00",
        days_waited=3,
        state="due_soon",
    ),
    ListCase(
        "saturday-due-monday",
        opened_at="2026-11-14T10:00:00-05:00",
        policy_days=1,
        now="2026-11-16T23:00:00+00:00",
        due_at="2026-11-16T18:00:00-05:00",
        days_waited=1,
        state="overdue",
    ),
    ListCase(
        "thanksgiving-us",
        opened_at="2026-11-25T09:00:00-05:00",
        policy_days=3,
        now="2026-11-30T15:00:00+00:00",
        due_at="2026-12-01T18:00:00-05:00",
        days_waited=2,
        state="on_track",
        calendar="US",
    ),
    ListCase(
        "thanksgiving-without-calendar",
        opened_at="2026-11-25T09:00:00-05:00",
        policy_days=3,
        now="2026-11-30T15:00:00+00:00",
        due_at="2026-11-30T18:00:00-05:00",
        days_waited=3,
        state="due_soon",
    ),
    ListCase(
        "corpus-christi-de-by",
        opened_at="2026-06-03T10:00:00+02:00",
        policy_days=2,
        now="2026-06-05T17:00:00+00:00",
        due_at="2026-06-08T18:00:00+02:00",
        days_waited=1,
        state="due_soon",
        position_zone="Europe/Berlin",
        manager_zone="Europe/Berlin",
        calendar="DE-BY",
    ),
    ListCase(
        "corpus-christi-de",
        opened_at="2026-06-03T10:00:00+02:00",
        policy_days=2,
        now="2026-06-05T17:00:00+00:00",
        due_at="2026-06-05T18:00:00+02:00",
        days_waited=2,
        state="overdue",
        position_zone="Europe/Berlin",
        manager_zone="Europe/Berlin",
        calendar="DE",
    ),
    ListCase(
        "dst-march-new-york",
        opened_at="2026-03-06T12:00:00-05:00",
        policy_days=1,
        now="2026-03-09T22:00:00+00:00",
        due_at="2026-03-09T18:00:00-04:00",
        days_waited=1,
        state="overdue",
    ),
    ListCase(
        "dst-november-new-york",
        opened_at="2026-10-30T12:00:00-04:00",
        policy_days=1,
        now="2026-11-02T22:30:00+00:00",
        due_at="2026-11-02T18:00:00-05:00",
        days_waited=1,
        state="due_soon",
    ),
    ListCase(
        "position-zone-not-utc-nor-managers",
        opened_at="2026-11-19T22:30:00-08:00",
        policy_days=1,
        now="2026-11-21T01:59:00+00:00",
        due_at="2026-11-20T18:00:00-08:00",
        days_waited=1,
        state="due_soon",
        position_zone="America/Los_Angeles",
        manager_zone="Europe/Berlin",
    ),
    ListCase(
        "promise-earlier-than-policy",
        opened_at="2026-11-16T09:00:00-05:00",
        policy_days=5,
        now="2026-11-19T14:00:00+00:00",
        due_at="2026-11-18T18:00:00-05:00",
        days_waited=3,
        state="overdue",
        promised=dt.date(2026, 11, 18),
    ),
    ListCase(
        "promise-later-than-policy",
        opened_at="2026-11-16T09:00:00-05:00",
        policy_days=5,
        now="2026-11-19T14:00:00+00:00",
        due_at="2026-11-30T18:00:00-05:00",
        days_waited=3,
        state="on_track",
        promised=dt.date(2026, 11, 30),
    ),
]


@pytest.mark.parametrize("case", LIST_CASES, ids=[c.id for c in LIST_CASES])
def test_list_csv_gives_the_deadlines_of_the_counting_rule(runner, session, case):
    if case.calendar:
        settings_service.store(session, "holiday_calendar", case.calendar)
    manager = UserFactory(email="manager@example.com", time_zone=case.manager_zone)
    position = PositionFactory(
        title="Backend Engineer",
        manager=manager,
        time_zone=case.position_zone,
        policy_overrides={"application": case.policy_days},
    )
    settings = settings_service.load(session)
    opened = dt.datetime.fromisoformat(case.opened_at)
    candidate = service.add_candidate(session, position, "Ana Okafor", "ana@example.com", opened, settings)
    if case.promised:
        service.set_promise(session, candidate, case.promised, opened, settings, manager)
    session.commit()

    result = invoke_list(runner, "--format", "csv", now=dt.datetime.fromisoformat(case.now))

    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == CSV_HEADER
    assert csv_rows(result.output) == [
        {
            "candidate": "Ana Okafor",
            "email": "ana@example.com",
            "position": "Backend Engineer",
            "manager": "manager@example.com",
            "stage": "applied",
            "reason": "application",
            "opened_at": case.opened_at,
            "due_at": case.due_at,
            "business_days_waited": str(case.days_waited),
            "state": case.state,
            "follow_ups": "0",
        }
    ]


@pytest.fixture
def pipeline(session, maria, jonas):
    """Five waiting candidates of two managers, listed at NOW."""
    settings = settings_service.load(session)
    backend = PositionFactory(title="Backend Engineer", manager=maria, time_zone="America/New_York")
    writer = PositionFactory(title="Technical Writer", manager=jonas, time_zone="Europe/Berlin")
    at = dt.datetime.fromisoformat

    def add(position, name, opened):
        email = name.split()[0].lower() + "@example.com"
        return service.add_candidate(session, position, name, email, at(opened), settings)

    add(backend, "Ana Okafor", "2026-11-16T09:00:00-05:00")  # due Mon 23rd: on track
    add(backend, "Ben Schmidt", "2026-11-09T09:00:00-05:00")  # due Mon 16th: overdue
    noted = add(backend, "Chloé Nakamura", "2026-11-11T09:00:00-05:00")  # due tonight: due soon
    service.add_note(session, noted, "Waiting for the team's opinion.", at("2026-11-13T10:00:00-05:00"))
    asked = add(writer, "Dmitri Silva", "2026-11-17T09:00:00+01:00")  # asked twice: escalated
    service.followed_up(session, asked, at("2026-11-17T12:00:00+01:00"), settings)
    service.followed_up(session, asked, at("2026-11-18T08:00:00+01:00"), settings)
    add(writer, "Elif Kowalski", "2026-11-02T09:00:00+01:00")  # 16 days: escalated, past due
    session.commit()


NOW = dt.datetime(2026, 11, 18, 15, 0, tzinfo=UTC)  # Wednesday


def test_list_shows_most_urgent_first_with_notes_and_follow_ups_counted(runner, pipeline):
    result = invoke_list(runner, "--format", "csv", now=NOW)

    assert result.exit_code == 0, result.output
    rows = [(r["candidate"], r["state"], r["due_at"]) for r in csv_rows(result.output)]
    assert rows == [
        ("Elif Kowalski", "escalated", "2026-11-09T18:00:00+01:00"),
        ("Dmitri Silva", "escalated", "2026-11-24T18:00:00+01:00"),
        ("Ben Schmidt", "overdue", "2026-11-16T18:00:00-05:00"),
        ("Chloé Nakamura", "due_soon", "2026-11-18T18:00:00-05:00"),
        ("Ana Okafor", "on_track", "2026-11-23T18:00:00-05:00"),
    ]


def test_list_overdue_only_shows_waits_past_their_deadline(runner, pipeline):
    result = invoke_list(runner, "--overdue", "--format", "csv", now=NOW)

    assert result.exit_code == 0, result.output
    assert [r["candidate"] for r in csv_rows(result.output)] == ["Elif Kowalski", "Ben Schmidt"]


def test_list_for_one_manager(runner, pipeline):
    result = invoke_list(runner, "--manager", "Jonas@Example.com", "--format", "csv", now=NOW)

    assert result.exit_code == 0, result.output
    rows = csv_rows(result.output)
    assert [r["candidate"] for r in rows] == ["Elif Kowalski", "Dmitri Silva"]
    assert {r["manager"] for r in rows} == {"jonas@example.com"}

    both = invoke_list(runner, "--manager", "maria@example.com", "--overdue", "--format", "csv", now=NOW)
    assert [r["candidate"] for r in csv_rows(both.output)] == ["Ben Schmidt"]


def test_list_for_an_unknown_manager_fails(runner, pipeline):
    result = invoke_list(runner, "--manager", "nobody@example.com", now=NOW)
    assert_failed(result, "no user with email nobody@example.com")


def test_list_json_is_valid(runner, pipeline):
    result = invoke_list(runner, "--format", "json", now=NOW)

    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert len(rows) == 5
    assert all(list(r) == list(LIST_COLUMNS) for r in rows)
    assert rows[2] == {
        "candidate": "Ben Schmidt",
        "email": "ben@example.com",
        "position": "Backend Engineer",
        "manager": "maria@example.com",
        "stage": "applied",
        "reason": "application",
        "opened_at": "2026-11-09T09:00:00-05:00",
        "due_at": "2026-11-16T18:00:00-05:00",
        "business_days_waited": 7,
        "state": "overdue",
        "follow_ups": 0,
    }


def test_list_table_aligns_its_columns(runner, pipeline):
    result = invoke_list(runner, now=NOW)

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == list(LIST_COLUMNS)
    assert len(lines) == 6
    assert lines[1].startswith("Elif Kowalski ")
    state_column, follow_ups_column = lines[0].index("state"), lines[0].index("follow_ups")
    assert [line[state_column:follow_ups_column].strip() for line in lines[1:]] == [
        "escalated",
        "escalated",
        "overdue",
        "due_soon",
        "on_track",
    ]


def test_list_with_nobody_waiting_prints_only_the_header(runner):
    result = invoke_list(runner, "--format", "csv", now=NOW)
    assert result.exit_code == 0, result.output
    assert result.output == CSV_HEADER + "\n"


# --- demo ----------------------------------------------------------------------------------------

DEMO_NOW = [
    dt.datetime(2026, 11, 18, 14, 0, tzinfo=UTC),  # a Wednesday
    dt.datetime(2026, 11, 23, 7, 0, tzinfo=UTC),  # a Monday morning
    dt.datetime(2026, 11, 28, 12, 0, tzinfo=UTC),  # a Saturday
]


@pytest.mark.parametrize("now", DEMO_NOW, ids=["wednesday", "monday", "saturday"])
def test_demo_seeds_an_organisation_in_every_state_once(runner, session, now):
    with time_machine.travel(now, tick=False):
        first = runner.invoke(args=["demo", "--no-serve"])
    assert first.exit_code == 0, first.output
    assert "Seeded the demo organisation." in first.output
    for email in ("admin@example.com", "maria@example.com", "jonas@example.com", "aiko@example.com"):
        assert email in first.output

    roles = session.execute(sa.select(User.role, sa.func.count()).group_by(User.role)).all()
    assert dict(roles) == {Role.ADMIN: 1, Role.MANAGER: 3}
    counts = row_counts(session)
    assert 6 <= counts["positions"] <= 10
    assert 50 <= counts["candidates"] <= 70
    listed = csv_rows(invoke_list(runner, "--format", "csv", now=now).output)
    assert {r["state"] for r in listed} == {"escalated", "overdue", "due_soon", "on_track"}

    with time_machine.travel(now + dt.timedelta(days=1), tick=False):
        second = runner.invoke(args=["demo", "--no-serve"])
    assert second.exit_code == 0, second.output
    assert "Demo data already present." in second.output
    session.expire_all()
    assert row_counts(session) == counts


def test_demo_refuses_a_database_that_holds_other_users_and_changes_nothing(runner, session):
    UserFactory(email="cfo@acme.example")
    session.commit()
    result = runner.invoke(args=["demo", "--no-serve"])
    assert result.exit_code == 1
    assert "already holds users other than the demo's (such as cfo@acme.example)" in result.output
    assert "FEEDBACK_SLA_DATABASE_URL" in result.output
    session.expire_all()
    assert [u.email for u in session.scalars(sa.select(User))] == ["cfo@acme.example"]
    assert row_counts(session)["candidates"] == 0
    assert runner.invoke(args=["demo", "--no-serve", "--reset"]).exit_code == 1
    assert session.scalar(sa.select(sa.func.count()).select_from(User)) == 1


def test_demo_reset_starts_the_demo_over_with_its_holiday_calendar(runner, session):
    with time_machine.travel(DEMO_NOW[0], tick=False):
        assert runner.invoke(args=["demo", "--no-serve"]).exit_code == 0
    first = row_counts(session)
    assert settings_service.load(session).holiday_calendar == "US"
    ana = session.scalars(sa.select(Candidate).order_by(Candidate.id)).first()
    service.add_note(session, ana, "called her back", DEMO_NOW[0])
    session.commit()
    with time_machine.travel(DEMO_NOW[1], tick=False):
        again = runner.invoke(args=["demo", "--no-serve", "--reset"])
    assert again.exit_code == 0, again.output
    assert "Seeded the demo organisation." in again.output
    session.expire_all()
    assert row_counts(session) == first
    assert session.scalar(sa.select(sa.func.count()).where(Event.body == "called her back")) == 0
