"""``feedback-sla survey``: the candidates' verdict per manager or position (the same figures and
floor as the metrics page and the API), and the survey's wording per language."""

from __future__ import annotations

import datetime as dt
import json
import sys

import click
from flask.cli import AppGroup

from feedback_sla import languages
from feedback_sla.cli.common import committed, user_named_by
from feedback_sla.database import db
from feedback_sla.metrics import verdict
from feedback_sla.output import WRITERS
from feedback_sla.reports.period import PeriodError, opened_bounds
from feedback_sla.reports.summary import GroupBy
from feedback_sla.settings import service as settings_service
from feedback_sla.survey import decisions
from feedback_sla.survey import service as survey
from feedback_sla.timeutil import local_date, parse_date, utcnow

survey_group = AppGroup("survey", help="The candidates' anonymous survey: its figures and its wording.")
COLUMNS = tuple(verdict.as_row(verdict.Verdict(0, "")).keys())


def _day(value: str | None, option: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return parse_date(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=option) from None


def _floor() -> int:
    return int(settings_service.value_of(db.session, "survey.report_floor"))


@survey_group.command("report")
@click.option("--since", help="First day of the period (organisation time zone); default 12 weeks ago.")
@click.option("--until", help="Last day of the period; default today.")
@click.option("--by", type=click.Choice([g.value for g in GroupBy]), default="manager", show_default=True)
@click.option("--manager", "manager_email", help="Only this hiring manager's positions.")
@click.option("--format", "fmt", type=click.Choice(list(WRITERS)), default="table", show_default=True)
def report_command(since, until, by, manager_email, fmt):
    """Candidate NPS, the share who said we answered when promised and the comments, for groups of
    at least survey.report_floor answers, beside each group's response times and time to a decision."""
    settings = settings_service.load(db.session)
    today = local_date(utcnow(), settings.time_zone)
    last = _day(until, "'--until'") or today
    first = _day(since, "'--since'") or last - dt.timedelta(weeks=12)
    try:
        opened_bounds(first, last, settings.time_zone)
    except PeriodError as exc:
        raise click.BadParameter(str(exc), param_hint="'--until'") from None
    manager_id = user_named_by(manager_email, "--manager").id if manager_email else None
    found = committed(
        lambda: verdict.verdicts(
            db.session,
            settings,
            _floor(),
            first,
            last,
            GroupBy(by),
            manager_id,
            decided=decisions.decided_in(db.session, first, last, settings.time_zone),
        )
    )
    rows = [verdict.as_row(line) for line in found.groups]
    if fmt == "json":
        json.dump(rows, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
        return
    flat = [[" | ".join(v) if isinstance(v, list) else v for v in row.values()] for row in rows]
    WRITERS[fmt](sys.stdout, COLUMNS, flat)


@survey_group.command("wording")
@click.option("--language", required=True, help="A language tag of the organisation's (en, de, fr, es, nl).")
@click.option("--question", required=True, type=click.Choice(survey.QUESTIONS))
@click.argument("text")
def wording_command(language: str, question: str, text: str):
    """Word one of the survey's questions in one language; empty TEXT goes back to the shipped wording."""
    tag = languages.normalize(language)
    enabled = settings_service.load(db.session).languages
    if tag not in enabled:
        raise click.BadParameter(
            f"{language!r} is not one of the organisation's languages ({', '.join(enabled)})",
            param_hint="'--language'",
        )
    committed(lambda: survey.set_wording(db.session, tag, question, text))
    click.echo(f"survey question {question} in {tag}: " + (text.strip() or "the shipped wording"))
