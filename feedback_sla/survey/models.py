"""The survey's tables: the answers, kept without the candidate, and the wording per language.

An answer holds what reporting groups it by (position, manager, outcome, the ISO week of the
decision) and nothing that leads back to the candidate: no candidate or link id, no name, address
or time of answering. That a link answered is kept on the link (``StatusLink.survey_answered``),
a flag without a reference to the answer, so the two cannot be joined.
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from feedback_sla.database import db
from feedback_sla.languages import MAX_TAG
from feedback_sla.types import str_enum


class Outcome(enum.StrEnum):
    """How the candidate's process ended."""

    REJECTED = "rejected"
    HIRED = "hired"
    WITHDRAWN = "withdrawn"


class Kept(enum.StrEnum):
    """ "Did we answer you when we said we would?" """

    YES = "yes"
    NO = "no"
    NOT_SURE = "not_sure"


class SurveyAnswer(db.Model):
    __tablename__ = "survey_answers"

    id: Mapped[int] = mapped_column(primary_key=True)
    position_id: Mapped[int | None] = mapped_column(ForeignKey("positions.id", ondelete="SET NULL"))
    manager_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    outcome: Mapped[Outcome] = mapped_column(str_enum(Outcome, "survey_outcome"))
    #: The Monday of the ISO week of the decision (in the position's time zone).
    week: Mapped[dt.date] = mapped_column(Date)
    #: "How likely are you to recommend applying here?", 0 to 10.
    score: Mapped[int] = mapped_column(Integer)
    kept: Mapped[Kept] = mapped_column(str_enum(Kept, "survey_kept"))
    #: Erased (None) by retention after the organisation's period.
    comment: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_survey_answers_week", "week"),)


class SurveyWording(db.Model):
    """An admin's wording of one of the survey's questions in one language (else the shipped one)."""

    __tablename__ = "survey_wordings"

    language: Mapped[str] = mapped_column(String(MAX_TAG), primary_key=True)
    question: Mapped[str] = mapped_column(String(20), primary_key=True)
    text: Mapped[str] = mapped_column(String(300))
