"""Candidates for the bulk answer tests: thirty accented names, each waiting for an answer."""

from __future__ import annotations

import datetime as dt
import itertools

from feedback_sla.candidates.models import Candidate
from feedback_sla.timeutil import utcnow
from feedback_sla.waits import service as waits
from feedback_sla.waits.clock import OrgSettings

from .factories import PositionFactory, UserFactory

FIRST = ("Zoë", "José", "Łukasz", "Françoise", "Søren", "Ağça", "Mária", "Björn", "Inês", "Dvořák")
LAST = ("Ångström", "Núñez", "Żółć", "Dupré")
NAMES = tuple(f"{first} {last}" for last, first in itertools.product(LAST, FIRST))[:30]


def manager_with_position(session, name: str = "Maria Lopez", email: str = "maria@example.com"):
    manager = UserFactory(name=name, email=email)
    return manager, PositionFactory(manager=manager, title="Backend Engineer", time_zone="UTC")


def waiting_candidates(
    session, position, names=NAMES, *, at: dt.datetime | None = None, prefix: str = "c"
) -> list[Candidate]:
    """Candidates who applied a day before ``at`` (now), each with an open wait; committed."""
    at = at or utcnow()
    made = [
        waits.add_candidate(
            session, position, name, f"{prefix}{i}@example.com", at - dt.timedelta(days=1), OrgSettings()
        )
        for i, name in enumerate(names)
    ]
    session.commit()
    return made
