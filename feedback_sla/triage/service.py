"""The triage list: a manager's waiting candidates, most urgent first, with deadlines in words."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass

from sqlalchemy.orm import Session

from feedback_sla.waits.clock import OrgSettings, State
from feedback_sla.waits.queries import Filters, WaitingRow, waiting


@dataclass(frozen=True)
class Triage:
    rows: list[WaitingRow]
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
    shown = rows if state is None else [r for r in rows if r.state == state]
    return Triage(rows=shown, counts={s: counts.get(s, 0) for s in State}, total=len(rows))
