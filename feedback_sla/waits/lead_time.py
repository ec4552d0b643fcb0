"""Which open waits are inside autopilot's lead time: what autopilot writes to, and what the digest
names once autopilot may write no more. One rule, read by both."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import case, exists, false, select
from sqlalchemy.orm import Session

from feedback_sla.emails.models import OutboxMessage, OutboxStatus
from feedback_sla.positions.models import Position
from feedback_sla.waits.clock import OrgSettings, business_hours_after
from feedback_sla.waits.models import Wait

#: A candidate email that is still to go out: the candidate will hear from us anyway.
UNSENT = (OutboxStatus.PENDING, OutboxStatus.SENDING)


def within_lead_time(session: Session, now: dt.datetime, hours: int, settings: OrgSettings):
    """Waits of autopilot positions whose deadline is within ``hours`` business hours of ``now``,
    or past: one cut-off per time zone of those positions (read in one statement), chosen by the
    position's zone (one CASE, not a test of every zone for each wait). The query it goes into
    joins ``Position``."""
    zones = session.scalars(select(Position.time_zone).where(Position.autopilot.is_(True)).distinct())
    cutoffs = {zone: business_hours_after(now, hours, zone, settings) for zone in sorted(zones)}
    if not cutoffs:
        return false()
    return Wait.due_at <= case(cutoffs, value=Position.time_zone)


def email_on_its_way(candidate_id):
    """The candidate (an id column or value) has a candidate email queued or being sent."""
    return exists().where(OutboxMessage.candidate_id == candidate_id, OutboxMessage.status.in_(UNSENT))
