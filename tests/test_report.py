"""``feedback-sla report`` and the summary behind it, on a small data set with known figures."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections import Counter

import pytest
import time_machine

from feedback_sla.cli import cli
from feedback_sla.reports.summary import GroupBy, GroupSummary, percentile, summarize
from feedback_sla.settings import service as settings_service

from .helpers import ny
from .organisations import answering_org

#: Friday 13 November 2026, noon in New York.
NOW = ny(2026, 11, 13, 12)


@pytest.fixture
def org(session):
    """See ``answering_org``: Maria answers in 1, 2, 2, 4 and 7 business days, Jonas in 0 and 5."""
    org = answering_org(session)
    session.commit()
    return org


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
        "by_autopilot",
    ]
    assert lines[1].split() == ["jonas@example.com", "3", "2", "0", "5", "66.7", "1", "1", "0"]
    assert lines[2].split() == ["maria@example.com", "7", "5", "2", "7", "66.7", "2", "1", "0"]


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
        "by_autopilot": "0",
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
            "by_autopilot": 0,
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
