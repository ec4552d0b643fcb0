"""The triage list: a manager's waiting candidates, most urgent first, with deadlines in words."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from typing import NamedTuple

from sqlalchemy.orm import Session

from .. import clock
from ..candidates.queries import Filters, WaitingRow, waiting
from ..clock import State
from ..settings.service import OrgSettings
from ..timeutil import as_utc, zone

DUE_TITLE_FORMAT = "%a %d %b %Y, %H:%M"


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


class TriageItem(NamedTuple):
    row: WaitingRow
    due_text: str
    #: The deadline in the viewer's time zone, with the zone named.
    due_title: str


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
    viewer_zone: str = "UTC",
) -> Triage:
    """Rows for the page: one query; counts per state cover the rows before the state filter."""
    rows = waiting(session, now, settings, filters)
    counts = Counter(r.state for r in rows)
    tz = zone(viewer_zone)
    # Deadlines fall at the end of a business day, so many rows share one: word each once.
    phrases: dict[tuple[dt.datetime, str], str] = {}
    titles: dict[dt.datetime, str] = {}
    items = []
    for r in rows:
        if state is not None and r.state != state:
            continue
        phrase = phrases.get((r.due_at, r.time_zone))
        if phrase is None:
            phrase = phrases[r.due_at, r.time_zone] = due_phrase(r.due_at, now, r.time_zone, settings)
        title = titles.get(r.due_at)
        if title is None:
            title = titles[r.due_at] = (
                f"{r.due_at.astimezone(tz).strftime(DUE_TITLE_FORMAT)} {viewer_zone}"
            )
        items.append(TriageItem(r, phrase, title))
    return Triage(items=items, counts={s: counts.get(s, 0) for s in State}, total=len(rows))
