"""Managers with positions, candidates and tokens for the API tests."""

from __future__ import annotations

import datetime as dt

from feedback_sla.accounts import tokens
from feedback_sla.waits import service
from feedback_sla.waits.clock import OrgSettings

from .factories import PositionFactory, UserFactory


def bearer(secret: str) -> dict:
    return {"Authorization": f"Bearer {secret}"}


def manager_with_token(session, **user):
    manager = UserFactory(**user)
    secret = tokens.create_token(session, manager, "script", dt.datetime.now(dt.UTC)).secret
    return manager, secret


def hiring(session, manager, names=("Ada Lovelace", "Zoë Quinn")):
    """A position of the manager's with one applicant per name, each waiting since two days ago."""
    position = PositionFactory(manager=manager)
    applied = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
    candidates = [
        service.add_candidate(
            session, position, name, f"{name.split()[0].lower()}@example.org", applied, OrgSettings()
        )
        for name in names
    ]
    return position, candidates
