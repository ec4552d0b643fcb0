"""``feedback-sla export response-times`` on the real database, with the clock held still."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import subprocess
import sys
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
import time_machine

from feedback_sla.cli import cli
from feedback_sla.models import Candidate, ContactChannel, Event, EventKind, Position, Wait
from feedback_sla.reports import parts
from feedback_sla.reports.export import COLUMNS, ExportFilters, export_rows
from feedback_sla.reports.utc_text import LocalClock, text_of
from feedback_sla.settings import service as settings_service
from feedback_sla.waits import service

from .factories import PositionFactory, UserFactory
from .helpers import berlin, ny

#: Thursday 3 December 2026, noon in New York (18:00 in Berlin).
NOW = ny(2026, 12, 3, 12)


@pytest.fixture
def org(session):
    """Two managers, US holidays, the organisation in New York, and six waits with known figures."""
    settings_service.store(session, "holiday_calendar", "US")
    settings_service.store(session, "time_zone", "America/New_York")
    settings = settings_service.load(session)
    maria = UserFactory(email="maria@example.com", time_zone="America/New_York")
    jonas = UserFactory(email="jonas@example.com", time_zone="Europe/Berlin")
    backend = PositionFactory(title="Backend Engineer", manager=maria, time_zone="America/New_York")
    analyst = PositionFactory(title="Data Analyst", manager=jonas, time_zone="Europe/Berlin")

    # Thanksgiving week: applied Monday, phoned Friday; Thursday the 26th is a holiday.
    ana = service.add_candidate(
        session, backend, "Ana Okafor", "ana@example.com", ny(2026, 11, 23, 10), settings
    )
    service.log_contact(session, ana, ContactChannel.PHONE, ny(2026, 11, 27, 12), maria)

    # Across the end of daylight saving time (Sunday 1 November): interviewed, then rejected late.
    ben = service.add_candidate(
        session, backend, "Ben Larsen", "ben@example.com", ny(2026, 10, 26, 9), settings
    )
    service.interview_held(session, ben, ny(2026, 10, 29, 16), settings, maria)
    service.record(session, ben, EventKind.EMAIL_SENT, ny(2026, 11, 4, 9), data={"email_kind": "rejection"})

    # Still open at NOW: past its deadline; promised an answer by today; new in Berlin.
    service.add_candidate(session, backend, "Cara Diaz", "cara@example.com", ny(2026, 11, 24, 11), settings)
    eve = service.add_candidate(
        session, backend, "Eve Moreau", "eve@example.com", ny(2026, 12, 1, 9), settings
    )
    service.set_promise(session, eve, dt.date(2026, 12, 3), ny(2026, 12, 1, 10), settings, maria)
    service.add_candidate(session, analyst, "Dan Weber", "dan@example.com", berlin(2026, 12, 2, 10), settings)
    session.commit()
    return {"maria": maria, "jonas": jonas, "backend": backend, "analyst": analyst}


def run_export(runner, *args: str):
    with time_machine.travel(NOW, tick=False):
        return runner.invoke(cli, ["export", "response-times", *args])


def csv_rows(output: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(output)))


def by_wait(rows: list[dict]) -> dict[tuple[str, str], dict]:
    return {(r["candidate_name"], r["reason"]): r for r in rows}


EXPECTED = {
    ("Ana Okafor", "application"): {
        "candidate_email": "ana@example.com",
        "position": "Backend Engineer",
        "manager": "maria@example.com",
        "opened_at": "2026-11-23T10:00:00-05:00",
        "due_at": "2026-12-01T18:00:00-05:00",
        "promised_date": "",
        "closed_at": "2026-11-27T12:00:00-05:00",
        "closed_by": "phone",
        "business_days_waited": "3",
        "hours_waited": "98.0",
        "outcome": "met",
    },
    ("Ben Larsen", "application"): {
        "candidate_email": "ben@example.com",
        "position": "Backend Engineer",
        "manager": "maria@example.com",
        "opened_at": "2026-10-26T09:00:00-04:00",
        "due_at": "2026-11-02T18:00:00-05:00",
        "promised_date": "",
        "closed_at": "2026-10-29T16:00:00-04:00",
        "closed_by": "interview",
        "business_days_waited": "3",
        "hours_waited": "79.0",
        "outcome": "met",
    },
    ("Ben Larsen", "decision"): {
        "candidate_email": "ben@example.com",
        "position": "Backend Engineer",
        "manager": "maria@example.com",
        "opened_at": "2026-10-29T16:00:00-04:00",
        "due_at": "2026-11-03T18:00:00-05:00",
        "promised_date": "",
        "closed_at": "2026-11-04T09:00:00-05:00",
        "closed_by": "rejection",
        "business_days_waited": "4",
        # 137 hours on the wall clock, 138 elapsed: the clocks went back an hour on 1 November.
        "hours_waited": "138.0",
        "outcome": "breached",
    },
    ("Cara Diaz", "application"): {
        "candidate_email": "cara@example.com",
        "position": "Backend Engineer",
        "manager": "maria@example.com",
        "opened_at": "2026-11-24T11:00:00-05:00",
        "due_at": "2026-12-02T18:00:00-05:00",
        "promised_date": "",
        "closed_at": "",
        "closed_by": "",
        "business_days_waited": "6",
        "hours_waited": "217.0",
        "outcome": "overdue",
    },
    ("Eve Moreau", "application"): {
        "candidate_email": "eve@example.com",
        "position": "Backend Engineer",
        "manager": "maria@example.com",
        "opened_at": "2026-12-01T09:00:00-05:00",
        "due_at": "2026-12-03T18:00:00-05:00",
        "promised_date": "2026-12-03",
        "closed_at": "",
        "closed_by": "",
        "business_days_waited": "2",
        "hours_waited": "51.0",
        "outcome": "due_soon",
    },
    ("Dan Weber", "application"): {
        "candidate_email": "dan@example.com",
        "position": "Data Analyst",
        "manager": "jonas@example.com",
        "opened_at": "2026-12-02T10:00:00+01:00",
        "due_at": "2026-12-09T18:00:00+01:00",
        "promised_date": "",
        "closed_at": "",
        "closed_by": "",
        "business_days_waited": "1",
        "hours_waited": "32.0",
        "outcome": "on_track",
    },
}


def names(rows: list[dict]) -> list[str]:
    return [r["candidate_name"] for r in rows]


def test_every_wait_is_exported_with_its_figures_in_the_position_time_zone(runner, org):
    result = run_export(runner)

    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == ",".join(COLUMNS)
    rows = csv_rows(result.output)
    assert len(rows) == 6
    assert [int(r["wait_id"]) for r in rows] == sorted(int(r["wait_id"]) for r in rows)
    exported = by_wait(rows)
    assert set(exported) == set(EXPECTED)
    for key, expected in EXPECTED.items():
        assert {k: exported[key][k] for k in expected} == expected, key
    dan = exported[("Dan Weber", "application")]
    assert dan["position_id"] == str(org["analyst"].id)


#: Runs the real command, then reports which parts of the app it loaded.
COMMAND_PROBE = """
import sys
from feedback_sla.cli import main
try:
    main()
finally:
    loaded = sorted(m for m in sys.modules if m.startswith(WEB_MODULES))
    print("loaded:", ",".join(loaded), file=sys.stderr)
"""
WEB_MODULES = (
    "feedback_sla.web",
    "feedback_sla.triage",
    "flask_login",
    "flask_mail",
    "flask_migrate",
    "flask_wtf",
)


def test_the_command_reads_its_configuration_and_starts_without_the_web_app(app, org, tmp_path):
    """What an operator runs: settings from the environment, the rows from the database, and
    neither pages, sending nor migrations loaded, so that it starts quickly."""
    env = {
        **os.environ,
        "FEEDBACK_SLA_DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "FEEDBACK_SLA_INSTANCE_PATH": str(tmp_path / "instance"),
    }
    probe = COMMAND_PROBE.replace("WEB_MODULES", repr(WEB_MODULES))
    args = ["export", "response-times", "--status", "closed", "--manager", "maria@example.com"]
    result = subprocess.run(
        [sys.executable, "-c", probe, *args], env=env, capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 0, result.stderr
    exported = by_wait(csv_rows(result.stdout))
    closed = {key: value for key, value in EXPECTED.items() if value["closed_at"]}
    assert set(exported) == set(closed)
    for key, expected in closed.items():
        assert {k: exported[key][k] for k in expected} == expected, key
    assert result.stderr.strip() == "loaded:"


def run_command(app, tmp_path, *args: str) -> subprocess.CompletedProcess:
    """``feedback-sla export response-times`` in its own process, on the test database."""
    env = {
        **os.environ,
        "FEEDBACK_SLA_DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "FEEDBACK_SLA_INSTANCE_PATH": str(tmp_path / "instance"),
    }
    command = [sys.executable, "-m", "feedback_sla", "export", "response-times", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)


def without_open_hours(row: dict) -> dict:
    """A row less the hours an open wait has waited so far, which grow between two runs."""
    return {k: v for k, v in row.items() if k != "hours_waited" or row["closed_at"]}


@pytest.mark.parametrize("fmt", ["csv", "ndjson"])
def test_an_export_written_by_several_processes_equals_one_written_by_one(app, org, tmp_path, fmt):
    one = run_command(app, tmp_path, "--format", fmt, "--jobs", "1")
    three = run_command(app, tmp_path, "--format", fmt, "--jobs", "3")

    assert one.returncode == 0, one.stderr
    assert three.returncode == 0, three.stderr
    if fmt == "csv":
        assert three.stdout.splitlines()[0] == ",".join(COLUMNS)  # one header, first
        rows_one, rows_three = csv_rows(one.stdout), csv_rows(three.stdout)
    else:
        rows_one = [json.loads(line) for line in one.stdout.splitlines()]
        rows_three = [json.loads(line) for line in three.stdout.splitlines()]
    assert len(rows_three) == 6
    assert [without_open_hours(r) for r in rows_three] == [without_open_hours(r) for r in rows_one]


def test_a_part_that_fails_fails_the_whole_export_and_leaves_the_file(app, session, org, tmp_path):
    """The last waits (Dan's, in a position whose zone no longer exists) fall to another process."""
    session.execute(
        sa.update(Position).where(Position.id == org["analyst"].id).values(time_zone="Mars/Olympus")
    )
    session.commit()
    target = tmp_path / "waits.csv"
    target.write_text("last week's export\n")

    result = run_command(app, tmp_path, "--jobs", "3", "--output", str(target))

    assert result.returncode == 1
    assert "Mars/Olympus" in result.stderr
    assert "Traceback" not in result.stderr
    assert target.read_text() == "last week's export\n"
    assert [p.name for p in tmp_path.iterdir() if p.name != "instance"] == ["waits.csv"]


def test_waits_are_split_into_even_ranges_that_cover_every_id():
    assert parts.id_ranges(1, 10, 3) == [(1, 3), (4, 6), (7, 10)]
    assert parts.id_ranges(5, 6, 2) == [(5, 5), (6, 6)]
    ranges = parts.id_ranges(17, 1_000_016, 4)
    assert ranges[0][0] == 17 and ranges[-1][1] == 1_000_016
    assert all(b[0] == a[1] + 1 for a, b in zip(ranges, ranges[1:], strict=False))
    assert {high - low + 1 for low, high in ranges} == {250_000}


def test_small_exports_and_json_use_one_process():
    assert parts.job_count(None, "csv", 10) == 1
    assert parts.job_count(None, "csv", parts.AUTOMATIC_FROM) >= 1
    assert parts.job_count(3, "csv", 10) == 3
    assert parts.job_count(8, "csv", 2) == 2  # never more processes than waits
    assert parts.job_count(3, "json", 1_000_000) == 1  # one array: written whole


def test_json_is_one_valid_array_with_typed_values(runner, org):
    result = run_export(runner, "--format", "json")

    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [list(r) for r in rows] == [list(COLUMNS)] * 6
    ana = by_wait(rows)[("Ana Okafor", "application")]
    assert ana["business_days_waited"] == 3
    assert ana["hours_waited"] == 98.0
    assert ana["promised_date"] is None
    assert ana["closed_by"] == "phone"
    cara = by_wait(rows)[("Cara Diaz", "application")]
    assert cara["closed_at"] is None and cara["outcome"] == "overdue"
    assert isinstance(cara["wait_id"], int)


def test_ndjson_is_one_object_per_line(runner, org):
    result = run_export(runner, "--format", "ndjson")

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == 6
    rows = [json.loads(line) for line in lines]
    assert by_wait(rows)[("Eve Moreau", "application")]["promised_date"] == "2026-12-03"


def test_status_filter(runner, org):
    open_rows = csv_rows(run_export(runner, "--status", "open").output)
    closed_rows = csv_rows(run_export(runner, "--status", "closed").output)

    assert sorted(names(open_rows)) == ["Cara Diaz", "Dan Weber", "Eve Moreau"]
    assert sorted(names(closed_rows)) == ["Ana Okafor", "Ben Larsen", "Ben Larsen"]


def test_manager_filter_ignores_case_and_refuses_an_unknown_address(runner, org):
    rows = csv_rows(run_export(runner, "--manager", "JONAS@example.com").output)
    assert names(rows) == ["Dan Weber"]

    result = run_export(runner, "--manager", "nobody@example.com")
    assert result.exit_code != 0
    assert "--manager" in result.output and "nobody@example.com" in result.output


def test_position_filter_and_an_unknown_position(runner, org):
    rows = csv_rows(run_export(runner, "--position", str(org["analyst"].id)).output)
    assert names(rows) == ["Dan Weber"]

    result = run_export(runner, "--position", "999999")
    assert result.exit_code != 0
    assert "--position" in result.output and "999999" in result.output


def test_since_and_until_take_whole_days_in_the_organisation_time_zone(runner, org):
    week = csv_rows(run_export(runner, "--since", "2026-11-23", "--until", "2026-11-24").output)
    assert sorted(names(week)) == ["Ana Okafor", "Cara Diaz"]

    # --until includes its whole day: Ben's decision wait opened at 16:00 on the 29th.
    october = csv_rows(run_export(runner, "--until", "2026-10-29").output)
    assert sorted(names(october)) == ["Ben Larsen", "Ben Larsen"]

    # Dan applied at 10:00 in Berlin on 2 December: 04:00 that day in New York.
    december = csv_rows(run_export(runner, "--since", "2026-12-02").output)
    assert names(december) == ["Dan Weber"]


def test_filters_combine(runner, org):
    rows = csv_rows(
        run_export(
            runner, "--manager", "maria@example.com", "--status", "open", "--since", "2026-11-25"
        ).output
    )
    assert names(rows) == ["Eve Moreau"]


def test_csv_cells_a_spreadsheet_would_run_as_formulas_are_prefixed(runner, session, org):
    settings = settings_service.load(session)
    position = PositionFactory(title="+Sales lead", manager=org["maria"], time_zone="America/New_York")
    formula = '=HYPERLINK("http://attacker.example/","open me")'
    service.add_candidate(session, position, formula, "-x@example.com", ny(2026, 12, 2, 9), settings)
    session.commit()

    result = run_export(runner, "--position", str(position.id))
    (row,) = csv_rows(result.output)
    assert row["candidate_name"] == "'" + formula
    assert row["candidate_email"] == "'-x@example.com"
    assert row["position"] == "'+Sales lead"

    (raw,) = json.loads(run_export(runner, "--position", str(position.id), "--format", "json").output)
    assert raw["candidate_name"] == formula


def test_csv_round_trips_commas_quotes_and_line_breaks(runner, session, org):
    settings = settings_service.load(session)
    position = PositionFactory(title='Sales, "EMEA"', manager=org["maria"], time_zone="America/New_York")
    names = ["O'Brien, Jo", 'Jo "JJ" Smith', "Line\nbreak", "Tab\tinside", "Ünïcödé 名前"]
    for i, name in enumerate(names):
        candidate = service.add_candidate(
            session, position, f"Candidate {i}", f"c{i}@example.com", ny(2026, 12, 2, 9), settings
        )
        # Stored as it is: data from before names were refused with a line break must still export.
        candidate.name = name
    session.commit()

    rows = csv_rows(run_export(runner, "--position", str(position.id)).output)

    assert [r["candidate_name"] for r in rows] == names
    assert {r["position"] for r in rows} == {'Sales, "EMEA"'}
    assert {r["opened_at"] for r in rows} == {"2026-12-02T09:00:00-05:00"}


@pytest.mark.parametrize("fmt", ["csv", "json", "ndjson"])
def test_no_pii_leaves_out_names_and_email_addresses(runner, org, fmt):
    result = run_export(runner, "--no-pii", "--format", fmt)

    assert result.exit_code == 0, result.output
    assert "Okafor" not in result.output and "ana@example.com" not in result.output
    if fmt == "csv":
        header = result.output.splitlines()[0].split(",")
    else:
        rows = json.loads(result.output) if fmt == "json" else [json.loads(result.output.splitlines()[0])]
        header = list(rows[0])
    assert header == [c for c in COLUMNS if c not in ("candidate_name", "candidate_email")]
    assert "maria@example.com" in result.output


def test_an_empty_result_is_a_header_and_success(runner, org):
    result = run_export(runner, "--since", "2027-01-01")
    assert result.exit_code == 0
    assert result.output == ",".join(COLUMNS) + "\n"

    assert json.loads(run_export(runner, "--since", "2027-01-01", "--format", "json").output) == []
    assert run_export(runner, "--since", "2027-01-01", "--format", "ndjson").output == ""


def test_an_empty_database_exports_a_header(runner):
    result = run_export(runner)
    assert result.exit_code == 0
    assert result.output == ",".join(COLUMNS) + "\n"


@pytest.mark.parametrize(
    ("args", "option", "message"),
    [
        (["--since", "2026-02-30"], "'--since'", "'2026-02-30' is not an ISO 8601 date"),
        (["--until", "last week"], "'--until'", "'last week' is not an ISO 8601 date"),
        (["--since", "2026-12-01", "--until", "2026-11-01"], "'--until'", "is before since"),
    ],
)
def test_a_bad_date_is_refused_with_the_option_named(runner, org, tmp_path, args, option, message):
    target = tmp_path / "waits.csv"
    result = run_export(runner, *args, "--output", str(target))

    assert result.exit_code != 0
    assert option in result.output and message in result.output
    assert not target.exists()


def test_output_file_is_written_whole(runner, org, tmp_path):
    folder = tmp_path / "exports"
    folder.mkdir()
    target = folder / "waits.csv"
    target.write_text("last week's export\n")

    result = run_export(runner, "--output", str(target), "--status", "closed")

    assert result.exit_code == 0, result.output
    assert result.output == ""
    assert len(csv_rows(target.read_text(encoding="utf-8"))) == 3
    assert list(folder.iterdir()) == [target]


def test_a_failure_halfway_leaves_the_previous_file_untouched(runner, session, org, tmp_path):
    folder = tmp_path / "exports"
    folder.mkdir()
    target = folder / "waits.csv"
    target.write_text("last week's export\n")
    # A position whose stored time zone no longer exists: the export stops at its first wait.
    session.execute(
        sa.update(Position).where(Position.id == org["analyst"].id).values(time_zone="Mars/Olympus")
    )
    session.commit()

    result = run_export(runner, "--output", str(target), "--format", "json")

    assert result.exit_code == 1
    assert "Mars/Olympus" in result.output
    assert target.read_text() == "last week's export\n"
    assert list(folder.iterdir()) == [target]


def test_output_into_a_missing_folder_is_refused(runner, org, tmp_path):
    result = run_export(runner, "--output", str(tmp_path / "missing" / "waits.csv"))
    assert result.exit_code != 0
    assert "'--output'" in result.output


def test_closed_by_falls_back_to_the_kind_of_event_that_closed_the_wait(runner, session, org):
    """An email without a recorded kind reads "email"; a withdrawal reads as its event kind."""
    settings = settings_service.load(session)
    position = org["analyst"]
    fay = service.add_candidate(session, position, "Fay", "fay@example.com", berlin(2026, 12, 1, 9), settings)
    service.record(session, fay, EventKind.EMAIL_SENT, berlin(2026, 12, 1, 11))
    gil = service.add_candidate(session, position, "Gil", "gil@example.com", berlin(2026, 12, 1, 9), settings)
    withdrawn = service.record(
        session, gil, EventKind.STATUS_CHANGED, berlin(2026, 12, 2, 9), data={"to": "withdrawn"}
    )
    session.flush()
    wait = service.open_wait_of(session, gil)
    wait.closed_at, wait.closed_by_event_id = withdrawn.occurred_at, withdrawn.id
    session.commit()

    rows = by_wait(csv_rows(run_export(runner, "--status", "closed", "--position", str(position.id)).output))

    assert rows[("Fay", "application")]["closed_by"] == "email"
    assert rows[("Gil", "application")]["closed_by"] == "status_changed"
    assert rows[("Gil", "application")]["outcome"] == "met"


def open_wait_ids(session) -> dict[str, int]:
    """The open waits of the sample, by candidate name."""
    query = sa.select(Candidate.name, Wait.id).join(Candidate, Wait.candidate_id == Candidate.id)
    return dict(session.execute(query.where(Wait.closed_at.is_(None))).all())


@pytest.mark.parametrize("fmt", ["csv", "json", "ndjson"])
def test_a_wait_closed_without_a_closing_event_exports_with_closed_by_empty(runner, session, org, fmt):
    """The schema lets a wait be closed with no event named as closing it, or by a logged contact
    with no channel: both export, with how the candidate heard left empty."""
    waits = open_wait_ids(session)
    session.execute(
        sa.update(Wait).where(Wait.id == waits["Cara Diaz"]).values(closed_at=ny(2026, 11, 30, 9))
    )
    eve = session.scalars(sa.select(Candidate).where(Candidate.name == "Eve Moreau")).one()
    contact = Event(
        candidate_id=eve.id,
        kind=EventKind.CONTACT_LOGGED,
        channel=None,
        occurred_at=ny(2026, 12, 2, 15),
        recorded_at=ny(2026, 12, 2, 15),
    )
    session.add(contact)
    session.flush()
    closing = {"closed_at": contact.occurred_at, "closed_by_event_id": contact.id}
    session.execute(sa.update(Wait).where(Wait.id == waits["Eve Moreau"]).values(**closing))
    session.commit()

    result = run_export(runner, "--format", fmt, "--status", "closed")

    assert result.exit_code == 0, result.output
    if fmt == "csv":
        rows, empty = csv_rows(result.output), ""
    else:
        text = result.output
        rows = json.loads(text) if fmt == "json" else [json.loads(line) for line in text.splitlines()]
        empty = None
    exported = by_wait(rows)
    assert len(rows) == 5
    cara, eve = exported[("Cara Diaz", "application")], exported[("Eve Moreau", "application")]
    assert (cara["closed_at"], cara["closed_by"], cara["outcome"]) == (
        "2026-11-30T09:00:00-05:00",
        empty,
        "met",
    )
    assert (eve["closed_at"], eve["closed_by"], eve["outcome"]) == ("2026-12-02T15:00:00-05:00", empty, "met")
    assert exported[("Ana Okafor", "application")]["closed_by"] == "phone"


def test_rows_stream_in_batches_with_the_same_result(session, org):
    """A batch smaller than the result changes nothing but how many rows are held at once."""
    settings = settings_service.load(session)

    whole = list(export_rows(session, NOW, settings, ExportFilters(), batch_size=1000))
    batched = list(export_rows(session, NOW, settings, ExportFilters(), batch_size=2))

    assert len(whole) == 6
    assert batched == whole


def test_times_read_the_same_whatever_date_style_the_server_writes(session, org):
    """PostgreSQL writes timestamps as its DateStyle setting says (SQL, German...): the export's
    times do not change with it."""
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("DateStyle is PostgreSQL's")
    settings = settings_service.load(session)
    iso = list(export_rows(session, NOW, settings, ExportFilters(), empty=""))
    session.commit()
    session.execute(sa.text("SET DateStyle = 'SQL, DMY'"))

    rows = list(export_rows(session, NOW, settings, ExportFilters(), empty=""))

    assert rows == iso
    assert {row[COLUMNS.index("opened_at")] for row in rows} >= {"2026-11-23T10:00:00-05:00"}


@pytest.mark.parametrize(
    "name",
    [
        "America/New_York",
        "Europe/Berlin",
        "Asia/Kolkata",  # +05:30
        "Asia/Kathmandu",  # +05:45
        "America/St_Johns",  # -03:30, with daylight saving time
        "Australia/Lord_Howe",  # moves by half an hour
        "Pacific/Chatham",  # +12:45 / +13:45
        "UTC",
    ],
)
def test_local_times_match_the_zone_database_through_a_whole_year(name):
    """The export's fast local time and local day equal the exact conversion, across every offset
    change and every local midnight."""
    tz = ZoneInfo(name)
    local = LocalClock(tz, day_number=dt.date.fromisoformat)
    instant = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    while instant.year == 2026:
        text = text_of(instant)
        exact = instant.astimezone(tz)
        assert local.local(text) == (exact.isoformat(timespec="seconds"), exact.date()), text
        instant += dt.timedelta(minutes=37, seconds=11, microseconds=500_001)
