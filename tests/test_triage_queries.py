"""The triage page costs the same number of SQL statements for 5 and for 500 candidates."""

from __future__ import annotations

import datetime as dt

import pytest

from feedback_sla.waits import service
from feedback_sla.waits.clock import OrgSettings

from .factories import PASSWORD, PositionFactory, UserFactory
from .helpers import count_statements


def _fill(session, manager, count: int, start: int) -> None:
    positions = [PositionFactory(manager=manager) for _ in range(3)]
    now = dt.datetime.now(dt.UTC)
    for i in range(start, start + count):
        candidate = service.add_candidate(
            session,
            positions[i % 3],
            f"Candidate {i}",
            f"c{i}@example.com",
            now - dt.timedelta(hours=9 * i),
            OrgSettings(),
        )
        if i % 7 == 0:
            service.followed_up(session, candidate, now, OrgSettings())
    session.commit()


@pytest.mark.parametrize("as_admin", [False, True])
def test_same_statement_count_for_5_and_500_candidates(client, session, as_admin):
    manager = UserFactory(role="admin" if as_admin else "manager")
    session.commit()
    client.post("/login", data={"email": manager.email, "password": PASSWORD})

    _fill(session, manager, 5, 0)
    client.get("/")
    with count_statements() as small:
        response = client.get("/?state=overdue")
    assert response.status_code == 200

    _fill(session, manager, 495, 5)
    with count_statements() as large:
        response = client.get("/?state=overdue")
    assert response.status_code == 200
    assert response.get_data(as_text=True).count("data-candidate-id=") > 5
    assert len(large) == len(small), (small, large)
