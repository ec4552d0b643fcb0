"""What another system (the applicant tracking system) tells us happened, through the wait's door:
a rejection or hire recorded there, a person erased or merged there.

A rejection made in the ATS closes the open wait; the export names how it closed
(``ats_rejection``), so reports tell it from an answer the outbox sent. The caller commits once.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import update
from sqlalchemy.orm import Session

from feedback_sla.candidates.models import Candidate, Event, Status
from feedback_sla.emails import outbox
from feedback_sla.emails.models import OutboxMessage
from feedback_sla.waits.service import close_with_status

#: How the export's ``closed_by`` names a wait closed by a decision recorded in the ATS.
CLOSED_BY = {Status.REJECTED: "ats_rejection", Status.HIRED: "ats_hire"}

#: What an erased candidate's name becomes.
ERASED_NAME = "Erased candidate"


def decided_elsewhere(
    session: Session, candidate: Candidate, status: Status, at: dt.datetime, *, source: str
) -> Event:
    """The ATS recorded a rejection or a hire: the status is set and the open wait closes with it."""
    if status not in CLOSED_BY:
        raise ValueError(f"not a decision: {status}")
    return close_with_status(
        session, candidate, status, at, data={"source": source, "closed_by": CLOSED_BY[status]}
    )


def erase(session: Session, candidate: Candidate, at: dt.datetime) -> None:
    """Replace the candidate's name and address with neutral values and clear every free text of
    their timeline and emails; the waits and their times stay, so reports still count them.

    Pending emails are cancelled first: nothing more goes to a person who was erased.
    """
    candidate.name = ERASED_NAME
    candidate.email = f"erased-{candidate.id}@erased.invalid"
    candidate.search_key = ""
    candidate.email_undeliverable_at = None
    if candidate.status == Status.ACTIVE:
        outbox.cancel_contradicted(session, candidate, at, status=Status.WITHDRAWN)
    session.execute(update(Event).where(Event.candidate_id == candidate.id).values(body=None))
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.candidate_id == candidate.id)
        .values(
            to_name=ERASED_NAME,
            to_address=candidate.email,
            subject="(erased)",
            text_body="",
            html_body="",
            feedback=None,
            cancel_reason=None,
        )
    )
    session.flush()
