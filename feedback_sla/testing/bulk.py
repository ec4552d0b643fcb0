"""Opening many waits in one statement, for tests and benchmarks that need thousands of them.

The deadlines come from ``waits.lifecycle.deadlines_for``, as for every wait the app opens; the
test of this module checks they equal ``lifecycle.open_wait``'s.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import insert
from sqlalchemy.orm import Session

from feedback_sla.waits.clock import OrgSettings
from feedback_sla.waits.lifecycle import deadlines_for
from feedback_sla.waits.models import Wait, WaitReason


@dataclass(frozen=True)
class NewWait:
    """A wait to open in bulk; ``time_zone`` and ``policy_overrides`` are its position's."""

    candidate_id: int
    reason: WaitReason
    opened_at: dt.datetime
    time_zone: str
    policy_overrides: dict | None = None
    promised_date: dt.date | None = None
    opened_by_event_id: int | None = None
    #: The candidate's position, when known: the database looks it up otherwise.
    position_id: int | None = None


def open_waits_bulk(session: Session, waits: Iterable[NewWait], settings: OrgSettings) -> int:
    """Open many waits in one statement (a backfill), deadlines exactly as ``open_wait`` sets them.

    Returns how many were opened. The waits' ORM objects are not loaded into the session.
    """
    rows = [
        {
            "candidate_id": new.candidate_id,
            "reason": new.reason,
            "opened_at": new.opened_at,
            "promised_date": new.promised_date,
            "follow_ups": 0,
            "opened_by_event_id": new.opened_by_event_id,
            "position_id": new.position_id,
            **deadlines_for(new.reason, new.opened_at, new, settings, new.promised_date).columns(),
        }
        for new in waits
    ]
    if rows:
        session.execute(insert(Wait.__table__), rows)
    return len(rows)
