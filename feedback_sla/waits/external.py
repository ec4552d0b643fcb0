"""What another system (the applicant tracking system) tells us happened, through the wait's door:
a rejection or hire recorded there, a person erased or merged there.

A rejection made in the ATS closes the open wait; the export names how it closed
(``ats_rejection``), so reports tell it from an answer the outbox sent. The caller commits once.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from feedback_sla.candidates.models import Candidate, Event, Status
from feedback_sla.waits import erasure
from feedback_sla.waits.service import close_with_status

#: How the export's ``closed_by`` names a wait closed by a decision recorded in the ATS.
CLOSED_BY = {Status.REJECTED: "ats_rejection", Status.HIRED: "ats_hire"}

#: What an erased candidate's name becomes.
ERASED_NAME = erasure.ERASED_NAME


def decided_elsewhere(
    session: Session, candidate: Candidate, status: Status, at: dt.datetime, *, source: str
) -> Event:
    """The ATS recorded a rejection or a hire: the status is set and the open wait closes with it."""
    if status not in CLOSED_BY:
        raise ValueError(f"not a decision: {status}")
    return close_with_status(
        session, candidate, status, at, data={"source": source, "closed_by": CLOSED_BY[status]}
    )


def erase(session: Session, candidate: Candidate, at: dt.datetime, *, source: str = "ats") -> None:
    """The ATS deleted the person: their personal data is erased here too (``waits.erasure``; one
    still in the process is withdrawn); the waits and their times stay, so reports still count them."""
    erasure.erase(session, candidate, at, erasure.Request(by=source, reason="deleted in the ATS"))
