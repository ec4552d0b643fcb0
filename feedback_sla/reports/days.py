"""Business days between local dates, counted as the difference of two day numbers."""

from __future__ import annotations

import datetime as dt

from .. import clock


class BusinessDays:
    """Numbers local dates so that the business days in (a, b] are ``number(b) - number(a)``.

    A date's number is the business days from ``anchor`` to it (negative before): for any two
    dates, the difference is ``clock.business_days_between``. Numbers are remembered per date
    (a report meets the same few hundred dates again and again), forgotten all at once beyond
    ``LIMIT`` so memory stays flat.
    """

    LIMIT = 100_000

    def __init__(self, calendar: str, anchor: dt.date):
        self.calendar = calendar
        self.anchor = anchor
        self.numbers: dict[str, int] = {}

    def number(self, date: str) -> int:
        """The number of a date written ``YYYY-MM-DD``."""
        number = self.numbers.get(date)
        if number is None:
            if len(self.numbers) >= self.LIMIT:
                self.numbers.clear()
            day = dt.date.fromisoformat(date)
            if day >= self.anchor:
                number = clock.business_days_between(self.anchor, day, self.calendar)
            else:
                number = -clock.business_days_between(day, self.anchor, self.calendar)
            self.numbers[date] = number
        return number

    def between(self, start: str, end: str) -> int:
        """Business days in (start, end], 0 when end is not after start."""
        return max(0, self.number(end) - self.number(start))
