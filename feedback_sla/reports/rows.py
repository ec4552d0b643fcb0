"""The export's rows from the query's: each position's details, each zone's clock, and the loop per wait.

The loop runs once per wait, three timestamps each: the usual case (a zone a whole number of hours
off UTC, no offset change within the hour) is written out in place, from the zone's entry for the
UTC hour (see ``LocalClock``); anything else goes through the clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence

from sqlalchemy import Select, select
from sqlalchemy.engine import Connection

from feedback_sla.accounts.models import User
from feedback_sla.errors import DomainError
from feedback_sla.positions.models import Position
from feedback_sla.reports.utc_text import LocalClock, text_of
from feedback_sla.timeutil import zone
from feedback_sla.waits.clock import BusinessDays


def positions_query() -> Select:
    """Every position's id, title, manager's email and time zone."""
    return select(Position.id, Position.title, User.email, Position.time_zone).join(
        User, Position.manager_id == User.id
    )


class RowFormatter:
    """Turns query rows into export rows; holds each position's details and each zone's clock."""

    def __init__(self, connection: Connection, now: dt.datetime, calendar: str):
        self.connection = connection
        self.now_text = text_of(now)
        self.business_days = BusinessDays(calendar, now.date())
        self.clocks: dict[str, tuple] = {}
        self.positions: dict[int, tuple] = {}
        #: Positions whose time zone is unknown, with the reason: an error once a wait needs one.
        self.broken: dict[int, ValueError] = {}
        # Read before the waits: a position made since shows up through ``position``.
        for row in connection.execute(positions_query()):
            self._add(*row)

    def _add(self, position_id: int, title: str, manager: str, time_zone: str) -> None:
        """A position's title and manager, and its zone's UTC hours, clock and today's number."""
        clock = self.clocks.get(time_zone)
        if clock is None:
            try:
                local = LocalClock(zone(time_zone), self.business_days.number)
            except ValueError as exc:
                self.broken[position_id] = exc
                return
            clock = self.clocks[time_zone] = (local.hours, local.local, local.local(self.now_text)[1])
        self.positions[position_id] = (title, manager, *clock)

    def position(self, position_id: int, wait_id: int) -> tuple:
        if position_id not in self.positions and position_id not in self.broken:
            self._add(*self.connection.execute(positions_query().where(Position.id == position_id)).one())
        if position_id in self.broken:
            raise DomainError(f"wait {wait_id}: its position has an {self.broken[position_id]}")
        return self.positions[position_id]

    def rows(self, result: Iterable[Sequence], empty: str | None) -> Iterator[tuple]:
        """The export rows, in ``COLUMNS`` order; the fast path is the module's docstring."""
        positions, position = self.positions, self.position
        for (
            wait_id,
            candidate_id,
            name,
            email,
            position_id,
            reason,
            opened_at,
            due_at,
            promised_date,
            closed_at,
            closed_by,
            hours,
            outcome,
        ) in result:
            title, manager, table, local, today = positions.get(position_id) or position(position_id, wait_id)

            hour = table.get(opened_at[:13])
            if hour is not None and not hour[2]:
                opened, start = hour[0] + opened_at[13:19] + hour[3], hour[4]
            else:
                opened, start = local(opened_at)

            hour = table.get(due_at[:13])
            if hour is not None and not hour[2]:
                due = hour[0] + due_at[13:19] + hour[3]
            else:
                due = local(due_at)[0]

            if closed_at is None:
                closed = closed_by = empty
                end = today
            else:
                hour = table.get(closed_at[:13])
                if hour is not None and not hour[2]:
                    closed, end = hour[0] + closed_at[13:19] + hour[3], hour[4]
                else:
                    closed, end = local(closed_at)

            yield (
                wait_id,
                candidate_id,
                name,
                email,
                position_id,
                title,
                manager,
                reason,
                opened,
                due,
                empty if promised_date is None else promised_date,
                closed,
                closed_by,
                end - start if end > start else 0,
                hours,
                outcome,
            )
