"""``feedback-sla report`` and the summary behind it, on a small data set with known figures."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections import Counter

import pytest
import time_machine

from feedback_sla.candidates import service
from feedback_sla.cli import cli
from feedback_sla.models import ContactChannel
from feedback_sla.reports.summary import GroupBy, GroupSummary, percentile, summarize
from feedback_sla.settings import service as settings_service

from .factories import PositionFactory, UserFactory
from .helpers import berlin, ny

#: Friday 13 November 2026, noon in New York.
NOW = ny(2026, 11, 13, 12)


@pytest.fixture
def org(session):
    """Maria answers in 1, 2, 2, 4 and 7 business days and has two waits open; Jonas in 0 and 5.

    Applications get 5 business days; US holidays (Veterans Day, Wednesday 11 November).
    """
    settings_service.store(session, "holiday_calendar", "US")
    settings = settings_service.load(session)
    maria = UserFactory(email="maria@example.com", time_zone="America/New_York")
    jonas = UserFactory(email="jonas@example.com", time_zone="Europe/Berlin")
    backend = PositionFactory(title="Backend Engineer", manager=maria, time_zone="America/New_York")
    designer = PositionFactory(title="Product Designer", manager=maria, time_zone="America/New_York")
    analyst = PositionFactory(title="Data Analyst", manager=jonas, time_zone="Europe/Berlin")

    def applicant(position, name, applied_at):
        email = f"{name.lower()}@example.com"
        return service.add_candidate(session, position, name, email, applied_at, settings)

    monday = ny(2026, 11, 2, 9)  # due Monday 9 November, 18:00
    for name, answered_at in (
        ("Ana", ny(2026, 11, 3, 10)),  # 1 business day
        ("Ben", ny(2026, 11, 4, 10)),  # 2
        ("Cara", ny(2026, 11, 4, 15)),  # 2
        ("Dan", ny(2026, 11, 6, 10)),  # 4
        ("Eve", ny(2026, 11, 12, 10)),  # 7: the holiday is skipped; late
    ):
        candidate = applicant(backend, name, monday)
        service.log_contact(session, candidate, ContactChannel.PHONE, answered_at, maria)
    applicant(backend, "Fay", monday)  # open, overdue since Monday
    applicant(designer, "Gil", ny(2026, 11, 12, 9))  # open, on track

    hana = applicant(analyst, "Hana", berlin(2026, 11, 2, 9))
    service.log_contact(session, hana, ContactChannel.MEETING, berlin(2026, 11, 2, 15), jonas)  # 0
    ivan = applicant(analyst, "Ivan", berlin(2026, 11, 2, 10))  # open, overdue and escalated
    service.followed_up(session, ivan, berlin(2026, 11, 10, 9), settings)
    service.followed_up(session, ivan, berlin(2026, 11, 12, 9), settings)
    # October: answered on the deadline's day, 5 business days after applying.
    jade = applicant(analyst, "Jade", berlin(2026, 10, 13, 9))
    service.log_contact(session, jade, ContactChannel.PHONE, berlin(2026, 10, 20, 17), jonas)
    session.commit()
    return {"maria": maria, "jonas": jonas, "backend": backend, "designer": designer, "analyst": analyst}


def figures(summary: GroupSummary) -> tuple:
    share = None if summary.within_deadline is None else round(summary.within_deadline, 3)
    return (
        summary.group,
        summary.waits,
        summary.answered,
        summary.median_days,
        summary.p90_days,
        share,
        summary.open_now,
        summary.overdue_now,
    )


def test_summary_per_manager(session, org):
    groups = summarize(session, NOW, settings_service.load(session))

    assert [figures(g) for g in groups] == [
        # Jonas: 2 answered in time; Ivan's open wait is past its deadline: 2 of 3 decided in time.
        ("jonas@example.com", 3, 2, 0, 5, 0.667, 1, 1),
        # Maria: Eve's answer came late and Fay's wait is overdue: 4 of 6 decided in time.
        ("maria@example.com", 7, 5, 2, 7, 0.667, 2, 1),
    ]
    assert [g.group_id for g in groups] == [org["jonas"].id, org["maria"].id]


def test_summary_per_position(session, org):
    groups = summarize(session, NOW, settings_service.load(session), by=GroupBy.POSITION)

    assert [figures(g) for g in groups] == [
        ("Backend Engineer", 6, 5, 2, 7, 0.667, 1, 1),
        ("Data Analyst", 3, 2, 0, 5, 0.667, 1, 1),
        # Nothing answered and nothing late yet: no figure rather than 0 or 100 percent.
        ("Product Designer", 1, 0, None, None, None, 1, 0),
    ]
    assert groups[0].manager == "maria@example.com"


def test_summary_of_a_period(session, org):
    settings = settings_service.load(session)
    november = summarize(session, NOW, settings, since=dt.date(2026, 11, 1))
    october = summarize(session, NOW, settings, until=dt.date(2026, 10, 31))

    assert [figures(g) for g in november] == [
        ("jonas@example.com", 2, 1, 0, 0, 0.5, 1, 1),
        ("maria@example.com", 7, 5, 2, 7, 0.667, 2, 1),
    ]
    assert [figures(g) for g in october] == [("jonas@example.com", 1, 1, 5, 5, 1.0, 0, 0)]


def test_overdue_is_judged_at_now(session, org):
    """Before Fay's deadline (Monday 9 November, 18:00) her open wait is not overdue yet."""
    groups = summarize(session, ny(2026, 11, 6, 12), settings_service.load(session), by="position")
    backend = groups[0]
    assert (backend.open_now, backend.overdue_now) == (1, 0)


@pytest.mark.parametrize(
    ("values", "median", "p90"),
    [
        ([1, 2, 3, 4], 2, 4),
        ([7], 7, 7),
        ([0, 0, 0, 0, 0, 0, 0, 0, 0, 10], 0, 0),
        ([0, 0, 0, 0, 0, 0, 0, 0, 10, 10], 0, 10),
        ([], None, None),
    ],
)
def test_percentiles_are_nearest_rank(values, median, p90):
    histogram = Counter(values)
    assert (percentile(histogram, 50), percentile(histogram, 90)) == (median, p90)


def run_report(runner, *args: str):
    with time_machine.travel(NOW, tick=False):
        return runner.invoke(cli, ["report", *args])


def test_report_table(runner, org):
    result = run_report(runner)

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == [
        "manager",
        "waits",
        "answered",
        "median_days",
        "p90_days",
        "within_deadline_pct",
        "open_now",
        "overdue_now",
    ]
    assert lines[1].split() == ["jonas@example.com", "3", "2", "0", "5", "66.7", "1", "1"]
    assert lines[2].split() == ["maria@example.com", "7", "5", "2", "7", "66.7", "2", "1"]


def test_report_by_position_as_csv(runner, org):
    result = run_report(runner, "--by", "position", "--format", "csv")

    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    designer = rows[2]
    assert designer == {
        "position_id": str(org["designer"].id),
        "position": "Product Designer",
        "manager": "maria@example.com",
        "waits": "1",
        "answered": "0",
        "median_days": "",
        "p90_days": "",
        "within_deadline_pct": "",
        "open_now": "1",
        "overdue_now": "0",
    }


def test_report_of_a_period_as_json(runner, org):
    result = run_report(runner, "--since", "2026-10-01", "--until", "2026-10-31", "--format", "json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == [
        {
            "manager": "jonas@example.com",
            "waits": 1,
            "answered": 1,
            "median_days": 5,
            "p90_days": 5,
            "within_deadline_pct": 100.0,
            "open_now": 0,
            "overdue_now": 0,
        }
    ]


def test_report_with_nothing_in_the_period(runner, org):
    result = run_report(runner, "--since", "2027-01-01", "--format", "json")
    assert result.exit_code == 0
    assert json.loads(result.output) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "13/11/2026"], "Invalid value for '--since': '13/11/2026' is not an ISO 8601 date"),
        (["--since", "2026-11-02", "--until", "2026-11-01"], "Invalid value for '--until'"),
        (["--by", "stage"], "Invalid value for '--by'"),
    ],
)
def test_report_refuses_bad_options(runner, org, args, message):
    result = run_report(runner, *args)
    assert result.exit_code != 0
    assert message in result.output


def test_summary_of_one_manager(session, org):
    """What a manager sees of their own positions."""
    groups = summarize(
        session, NOW, settings_service.load(session), by="position", manager_id=org["maria"].id
    )
    assert [g.group for g in groups] == ["Backend Engineer", "Product Designer"]
