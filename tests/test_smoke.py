import datetime as dt

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from feedback_sla.candidates import service
from feedback_sla.models import Wait, WaitReason
from feedback_sla.settings.service import OrgSettings

from .factories import CandidateFactory


def test_a_second_open_wait_is_refused_by_the_database(session):
    candidate = CandidateFactory()
    opened = dt.datetime(2026, 11, 20, 15, tzinfo=dt.UTC)
    service.open_wait(session, candidate, WaitReason.APPLICATION, opened, OrgSettings())
    session.commit()
    with pytest.raises(IntegrityError):
        session.execute(
            sa.insert(Wait).values(
                candidate_id=candidate.id,
                reason="decision",
                opened_at=opened,
                warn_at=opened,
                due_at=opened,
                escalate_at=opened,
                policy_days=3,
                follow_ups=0,
            )
        )
    session.rollback()
    assert session.scalar(sa.select(sa.func.count()).select_from(Wait)) == 1
