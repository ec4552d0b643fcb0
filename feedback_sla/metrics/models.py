"""The metrics page's rollup: answered waits counted per position, day of opening and business days.

Kept by ``metrics.rollup``; what a row means is said there. Days are whole days since 1970-01-01
in the organisation's time zone (``local_days``' numbering), so a period of the page is a range
of integers whatever the database.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from feedback_sla.database import db
from feedback_sla.types import UTCDateTime


class AnsweredByPosition(db.Model):
    """The waits of one position opened on one day and answered after ``days`` business days."""

    __tablename__ = "metrics_answered"

    position_id: Mapped[int] = mapped_column(
        ForeignKey("positions.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    opened_day: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    #: Business days to answer in the position's zone and the organisation's calendar; -1
    #: (``rollup.UNKNOWN_ZONE``) when the position's zone is unknown to the zone database.
    days: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    answered: Mapped[int] = mapped_column(Integer)
    #: Answered by the deadline.
    met: Mapped[int] = mapped_column(Integer)
    #: Answered by an update autopilot sent.
    autopilot: Mapped[int] = mapped_column(Integer)


class AnsweredByDay(db.Model):
    """``AnsweredByPosition`` summed over every position: the organisation's totals."""

    __tablename__ = "metrics_answered_days"

    opened_day: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    days: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    answered: Mapped[int] = mapped_column(Integer)
    met: Mapped[int] = mapped_column(Integer)
    autopilot: Mapped[int] = mapped_column(Integer)


class RollupBasis(db.Model):
    """What the rollup was counted with: one row, absent until it is first built."""

    __tablename__ = "metrics_rollup_basis"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    #: The organisation's zone (days of opening) and holiday calendar (business days).
    time_zone: Mapped[str] = mapped_column(String(64))
    holiday_calendar: Mapped[str] = mapped_column(String(64))
    built_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class OpenWaitCount(db.Model):
    """The open waits that opened in one quarter hour, warn, fall due and escalate in the same
    hours and have had as many follow-ups: kept by the database itself (triggers, migration 0015),
    read by ``metrics.open_counts``. Quarter hours and hours are whole periods since 1970 (UTC)."""

    __tablename__ = "open_wait_counts"

    opened_slot: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    warn_hour: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    due_hour: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    escalate_hour: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    follow_ups: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    waits: Mapped[int] = mapped_column(Integer)
