"""The triage list: a manager's waiting candidates, most urgent first, with deadlines in words."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass

from sqlalchemy.orm import Session

from .. import clock
from ..candidates.queries import Filters, WaitingRow, waiting
from ..clock import State
from ..settings.service import OrgSettings
from ..timeutil import as_utc, zone


def due_phrase(due_at: dt.datetime, now: dt.datetime, time_zone: str, settings: OrgSettings) -> str:
    """'due today', 'due tomorrow', 'due in 3 business days', '2 business days overdue'."""
    tz = zone(time_zone)
    today = as_utc(now).astimezone(tz).date()
    due_day = as_utc(due_at).astimezone(tz).date()
    if now < due_at:
        if due_day == today:
            return "due today"
        if due_day == today + dt.timedelta(days=1):
            return "due tomorrow"
        days = clock.business_days_between(today, due_day, settings.holiday_calendar)
        return f"due in {days} business day{'s' if days != 1 else ''}"
    late = clock.business_days_between(due_day, today, settings.holiday_calendar)
    if late == 0:
        return "overdue since today"
    return f"{late} business day{'s' if late != 1 else ''} overdue"


@dataclass(frozen=True)
class TriageItem:
    row: WaitingRow
    due_text: str


@dataclass(frozen=True)
class Triage:
    items: list[TriageItem]
    counts: dict[State, int]
    total: int


def triage(
    session: Session,
    now: dt.datetime,
    settings: OrgSettings,
    filters: Filters,
    state: State | None = None,
) -> Triage:
    """Rows for the page: one query; counts per state cover the rows before the state filter."""
    rows = waiting(session, now, settings, filters)
    counts = Counter(r.state for r in rows)
    shown = [r for r in rows if state is None or r.state == state]
    return Triage(
        items=[TriageItem(r, due_phrase(r.due_at, now, r.time_zone, settings)) for r in shown],
        counts={s: counts.get(s, 0) for s in State},
        total=len(rows),
    )
