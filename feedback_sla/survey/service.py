"""Asking the candidate, once their process ends, and keeping the answer without them.

A survey is open on a link while the organisation has it on (``survey.enabled``), the candidate
was rejected, hired or withdrew (an offer still waits for the candidate's answer), fewer than
``survey.days_open`` days have passed since the decision and the link has not answered. The answer
is checked at the door (``parse``), then kept with the position, the manager, the outcome and the
week of the decision only; the link is marked answered by a conditional update, so two posts at
once give one answer. The caller commits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from feedback_sla.candidates.models import Candidate, Status, StatusLink
from feedback_sla.errors import DomainError
from feedback_sla.settings import service as settings_service
from feedback_sla.survey.models import Kept, Outcome, SurveyAnswer, SurveyWording
from feedback_sla.text import clean_text
from feedback_sla.timeutil import as_utc, local_date

#: The longest comment kept.
MAX_COMMENT = 2000
#: The longest wording of a question an admin may write.
MAX_WORDING = 300
QUESTIONS = ("recommend", "kept", "comment")
_OUTCOMES = {
    Status.REJECTED: Outcome.REJECTED,
    Status.HIRED: Outcome.HIRED,
    Status.WITHDRAWN: Outcome.WITHDRAWN,
}


class SurveyRefused(DomainError):
    """An answer that cannot be kept; the message names the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class AlreadyAnswered(DomainError):
    """This link's survey was answered already."""


class SurveyClosed(DomainError):
    """The survey is off, the process has not ended, or its days are over."""


@dataclass(frozen=True)
class Answer:
    score: int
    kept: Kept
    comment: str | None


def default_wording(question: str) -> str:
    """The shipped wording of a question, in the page's language."""
    return {
        "recommend": _("How likely are you to recommend applying here?"),
        "kept": _("Did we answer you when we said we would?"),
        "comment": _("Anything you would like to tell us? (optional)"),
    }[question]


def wording(session: Session, language: str) -> dict[str, str]:
    """Each question in ``language``: the admins' wording where they wrote one, else the shipped one."""
    written = dict(
        session.execute(
            select(SurveyWording.question, SurveyWording.text).where(SurveyWording.language == language)
        ).all()
    )
    return {question: written.get(question) or default_wording(question) for question in QUESTIONS}


def set_wording(session: Session, language: str, question: str, text: str) -> None:
    """An admin's wording of ``question`` in ``language``; empty text goes back to the shipped one."""
    if question not in QUESTIONS:
        raise DomainError(f"question: {question!r} is not one of {', '.join(QUESTIONS)}")
    row = session.get(SurveyWording, (language, question))
    text = clean_text(text, f"wording of {question} ({language})", MAX_WORDING)
    if not text:
        if row is not None:
            session.delete(row)
        return
    if row is None:
        session.add(SurveyWording(language=language, question=question, text=text))
    else:
        row.text = text


def closes_at(session: Session, candidate: Candidate) -> dt.datetime | None:
    """When the candidate's survey closes; None while their process has not ended."""
    if candidate.status not in _OUTCOMES or candidate.decided_at is None:
        return None
    days = int(settings_service.value_of(session, "survey.days_open"))
    return as_utc(candidate.decided_at) + dt.timedelta(days=days)


def is_open(session: Session, link: StatusLink, now: dt.datetime) -> bool:
    """Whether the link's page offers the survey now."""
    if not settings_service.value_of(session, "survey.enabled") or link.survey_answered:
        return False
    closing = closes_at(session, link.candidate)
    return closing is not None and as_utc(now) < closing


def parse(form: Mapping[str, str]) -> Answer:
    """The posted answer; SurveyRefused names the field that cannot be kept."""
    raw_score = (form.get("score") or "").strip()
    if not raw_score:
        raise SurveyRefused("score", _("Choose how likely you are to recommend applying, from 0 to 10."))
    if not raw_score.isascii() or not raw_score.isdigit() or not 0 <= int(raw_score) <= 10:
        raise SurveyRefused("score", _("The score must be a whole number from 0 to 10."))
    try:
        kept = Kept((form.get("kept") or "").strip())
    except ValueError:
        raise SurveyRefused("kept", _("Answer whether we answered you when we said we would.")) from None
    try:
        comment = clean_text(form.get("comment") or "", "comment", MAX_COMMENT)
    except DomainError:
        raise SurveyRefused(
            "comment",
            _(
                "The comment must be at most %(limit)d characters of plain text (no control characters).",
                limit=MAX_COMMENT,
            ),
        ) from None
    return Answer(int(raw_score), kept, comment or None)


def answer(session: Session, link: StatusLink, given: Answer, now: dt.datetime) -> SurveyAnswer:
    """Keep the answer and mark the link answered; AlreadyAnswered for a second answer,
    SurveyClosed when the survey is not open (the caller commits)."""
    if not is_open(session, link, now):
        if link.survey_answered:
            raise AlreadyAnswered("This survey was answered already.")
        raise SurveyClosed("The survey is closed.")
    table = StatusLink.__table__
    claimed = session.execute(
        sa.update(table)
        .where(table.c.id == link.id, table.c.survey_answered.is_(sa.false()), table.c.revoked_at.is_(None))
        .values(survey_answered=True)
    )
    if claimed.rowcount != 1:
        raise AlreadyAnswered("This survey was answered already.")
    candidate = link.candidate
    decided = local_date(as_utc(candidate.decided_at), candidate.position.time_zone)
    row = SurveyAnswer(
        position_id=candidate.position_id,
        manager_id=candidate.position.manager_id,
        outcome=_OUTCOMES[candidate.status],
        week=decided - dt.timedelta(days=decided.weekday()),
        score=given.score,
        kept=given.kept,
        comment=given.comment,
    )
    session.add(row)
    session.flush()
    return row


def erase_comments(session: Session, before: dt.date) -> int:
    """Retention: the comments of decisions in weeks that began before ``before``; how many."""
    done = session.execute(
        sa.update(SurveyAnswer)
        .where(SurveyAnswer.week < before, SurveyAnswer.comment.is_not(None))
        .values(comment=None)
    )
    return done.rowcount or 0
