"""The candidates' verdict beside the clock: per manager or position over a period, candidate NPS,
the share who said we answered when we said we would and their comments (only for groups of at
least ``survey.report_floor`` answers), next to the group's measured response times (from the
rollup) and its time to a decision (application to rejection, offer, hire or withdrawal, in
business days) with the status updates sent before it.

What it reads is small or indexed: the survey's answers of the period (by week), the rollup's rows
of the period, and the candidates decided in the period (``ix_candidates_decided_at``), each with
its first wait (``ix_waits_candidate_opened``) and its updates (``ix_outbox_messages_candidate``).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from feedback_sla.accounts.models import User
from feedback_sla.metrics import rollup
from feedback_sla.metrics.local_days import EPOCH
from feedback_sla.metrics.models import AnsweredByPosition
from feedback_sla.positions.models import Position
from feedback_sla.reports.summary import GroupBy, percentile
from feedback_sla.survey.models import Kept, SurveyAnswer
from feedback_sla.timeutil import as_utc, local_date
from feedback_sla.waits import clock
from feedback_sla.waits.clock import OrgSettings


@dataclass
class Verdict:
    """One group's line. Survey figures are None (and comments empty) below the floor."""

    group_id: int
    group: str
    answers: int = 0
    shown: bool = False
    nps: int | None = None
    kept_share: float | None = None
    comments: list[str] = field(default_factory=list)
    #: Measured: waits answered (opened in the period), their median business days, share on time.
    answered: int = 0
    answer_median_days: int | None = None
    within_deadline: float | None = None
    #: Time to a decision of the candidates decided in the period.
    decisions: int = 0
    decision_median_days: int | None = None
    decision_p90_days: int | None = None
    updates_before_decision: int = 0
    _scores: list[int] = field(default_factory=list, repr=False)
    _kept: list[Kept] = field(default_factory=list, repr=False)
    _answer_days: Counter = field(default_factory=Counter, repr=False)
    _met: int = field(default=0, repr=False)
    _decision_days: Counter = field(default_factory=Counter, repr=False)


@dataclass(frozen=True)
class Verdicts:
    floor: int
    groups: list[Verdict]


def nps(scores: list[int]) -> int:
    """Promoters (9-10) minus detractors (0-6), as a whole percentage of the answers."""
    promoters = sum(1 for score in scores if score >= 9)
    detractors = sum(1 for score in scores if score <= 6)
    return round(100 * (promoters - detractors) / len(scores))


def verdicts(
    session: Session,
    settings: OrgSettings,
    floor: int,
    since: dt.date,
    until: dt.date,
    by: GroupBy = GroupBy.MANAGER,
    manager_id: int | None = None,
    decided: Iterable = (),
    group_ids: Collection[int] | None = None,
) -> Verdicts:
    """Every group with an answer, an answered wait or a decision in the period, by name; survey
    figures only for groups of at least ``floor`` answers (the ``survey.report_floor`` setting).
    ``decided``: the candidates decided in the period (``survey.decisions.decided_in``), read by
    the caller (they name the emails sent before each decision, which metrics never reads).
    ``group_ids``: only these groups (the metrics page's page of them), so a page costs what it shows."""
    rollup.current(session, settings)  # counted again if the settings it was counted with changed
    lines: dict[int, Verdict] = {}
    names = _names(session, by, manager_id, group_ids)

    def line(group_id: int | None) -> Verdict | None:
        if group_id is None or group_id not in names:
            return None
        return lines.setdefault(group_id, Verdict(group_id, names[group_id]))

    _add_answers(session, since, until, by, line, group_ids)
    _add_rollup(session, since, until, by, line, group_ids)
    _add_decisions(decided, settings, by, line)
    for verdict in lines.values():
        _finish(verdict, floor)
    return Verdicts(floor, sorted(lines.values(), key=lambda v: (v.group.lower(), v.group_id)))


def _names(session: Session, by: GroupBy, manager_id: int | None, group_ids) -> dict[int, str]:
    if by == GroupBy.POSITION:
        query = select(Position.id, Position.title)
        if manager_id is not None:
            query = query.where(Position.manager_id == manager_id)
    else:
        query = select(User.id, User.name)
        if manager_id is not None:
            query = query.where(User.id == manager_id)
    if group_ids is not None:
        query = query.where((Position.id if by == GroupBy.POSITION else User.id).in_(sorted(group_ids)))
    return dict(session.execute(query).all())


def _only(query, column, group_ids):
    return query if group_ids is None else query.where(column.in_(sorted(group_ids)))


def _key(by: GroupBy, position_column, manager_column):
    return position_column if by == GroupBy.POSITION else manager_column


def _add_answers(session, since, until, by, line, group_ids=None) -> None:
    first = since - dt.timedelta(days=since.weekday())
    key = _key(by, SurveyAnswer.position_id, SurveyAnswer.manager_id)
    query = select(key, SurveyAnswer.score, SurveyAnswer.kept, SurveyAnswer.comment).where(
        SurveyAnswer.week >= first, SurveyAnswer.week <= until
    )
    query = _only(query, key, group_ids)
    for group_id, score, kept, comment in session.execute(query):
        verdict = line(group_id)
        if verdict is not None:
            verdict._scores.append(score)
            verdict._kept.append(kept)
            if comment:
                verdict.comments.append(comment)


def _add_rollup(session, since, until, by, line, group_ids=None) -> None:
    key = _key(by, AnsweredByPosition.position_id, Position.manager_id)
    rows = session.execute(
        _only(
            select(
                key,
                AnsweredByPosition.days,
                func.sum(AnsweredByPosition.answered),
                func.sum(AnsweredByPosition.met),
            )
            .join(Position, Position.id == AnsweredByPosition.position_id)
            .where(
                AnsweredByPosition.opened_day >= (since - EPOCH).days,
                AnsweredByPosition.opened_day <= (until - EPOCH).days,
                AnsweredByPosition.days >= 0,
            )
            .group_by(key, AnsweredByPosition.days),
            key,
            group_ids,
        )
    )
    for group_id, days, answered, met in rows:
        verdict = line(group_id)
        if verdict is not None:
            verdict._answer_days[days] += answered
            verdict._met += met


def _add_decisions(decided_rows, settings: OrgSettings, by, line) -> None:
    for decided in decided_rows:
        verdict = line(decided.position_id if by == GroupBy.POSITION else decided.manager_id)
        if verdict is None:
            continue
        zone = decided.time_zone
        days = clock.business_days_between(
            local_date(as_utc(decided.applied_at), zone),
            local_date(as_utc(decided.decided_at), zone),
            settings.holiday_calendar,
        )
        verdict._decision_days[days] += 1
        verdict.decisions += 1
        verdict.updates_before_decision += decided.updates_before


def _finish(verdict: Verdict, least: int) -> None:
    verdict.answers = len(verdict._scores)
    verdict.shown = verdict.answers >= least
    if verdict.shown:
        verdict.nps = nps(verdict._scores)
        verdict.kept_share = sum(1 for kept in verdict._kept if kept == Kept.YES) / verdict.answers
        verdict.comments.sort()  # in no order that could follow the answers' order
    else:
        verdict.comments = []
    verdict.answered = sum(verdict._answer_days.values())
    verdict.answer_median_days = percentile(verdict._answer_days, 50)
    verdict.within_deadline = verdict._met / verdict.answered if verdict.answered else None
    verdict.decision_median_days = percentile(verdict._decision_days, 50)
    verdict.decision_p90_days = percentile(verdict._decision_days, 90)


def as_row(verdict: Verdict) -> dict:
    """The line as the export and the API give it (the same floor: nothing of the survey below it)."""
    return {
        "group_id": verdict.group_id,
        "group": verdict.group,
        "answers": verdict.answers if verdict.shown else None,
        "shown": verdict.shown,
        "candidate_nps": verdict.nps,
        "answered_when_promised": verdict.kept_share,
        "comments": list(verdict.comments),
        "waits_answered": verdict.answered,
        "answer_median_business_days": verdict.answer_median_days,
        "within_deadline": verdict.within_deadline,
        "decisions": verdict.decisions,
        "decision_median_business_days": verdict.decision_median_days,
        "decision_p90_business_days": verdict.decision_p90_days,
        "updates_before_decision": verdict.updates_before_decision,
    }
