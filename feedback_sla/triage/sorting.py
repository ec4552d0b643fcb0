"""The triage list's orders, and the bind parameters its statements share (built once, bound at
each request)."""

from __future__ import annotations

import enum

from sqlalchemy import bindparam, func

from feedback_sla.candidates.models import Candidate
from feedback_sla.waits.models import Wait
from feedback_sla.waits.queries import urgency_of


class TriageSort(enum.StrEnum):
    URGENCY = "urgency"  # escalated first, then overdue, due soon, on track; soonest deadline first
    DEADLINE = "deadline"
    WAITED = "waited"  # waiting longest first
    NAME = "name"

    @property
    def label(self) -> str:
        return _SORT_LABELS[self]


_SORT_LABELS = {
    TriageSort.URGENCY: "Urgency",
    TriageSort.DEADLINE: "Deadline",
    TriageSort.WAITED: "Days waited",
    TriageSort.NAME: "Name",
}

NOW, FOLLOWUPS = bindparam("now"), bindparam("followups")
#: A wait's state at ``now`` as its urgency (0 escalated … 3 on track).
URGENCY = urgency_of(NOW, FOLLOWUPS)


def order_of(sort: TriageSort) -> tuple:
    """The list's order; ties broken by the wait, as the index of listed waits orders them."""
    if sort == TriageSort.DEADLINE:
        return (Wait.due_at, Wait.id)
    if sort == TriageSort.WAITED:
        return (Wait.opened_at, Wait.id)
    if sort == TriageSort.NAME:
        return (func.lower(Candidate.name), Candidate.id)
    return (URGENCY, Wait.due_at, Wait.id)
