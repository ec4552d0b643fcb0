"""Waits that have had only updates so far: the candidate was told when they will hear, but not
the decision. The triage page offers these the decision first and the digest marks them, so an
update never becomes a way to postpone the answer. One rule, read by both.

Derived from what is already stored, in one statement for a page of waits: a wait opened by an
answer that promised a date (an update that was sent, by a manager or by autopilot, or a call
logged with a promise: the wait that follows it, see ``promises.wait_on_promise``), or a wait
whose candidate has a status update queued or being sent.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session

from feedback_sla.candidates.models import Event, EventKind
from feedback_sla.emails.models import EmailKind, OutboxMessage
from feedback_sla.waits.lead_time import UNSENT
from feedback_sla.waits.models import Wait

#: The answers that open the next wait at once: they told the candidate when, not what.
PROMISING = (EventKind.EMAIL_SENT, EventKind.CONTACT_LOGGED)


def only_updates_so_far(session: Session, wait_ids: Collection[int]) -> set[int]:
    """Of the waits given (a page of them), those whose candidate has had an update and no
    decision yet. One statement, however many they are (none too: a page costs the same).
    """
    opened_by_promise = exists().where(Event.id == Wait.opened_by_event_id, Event.kind.in_(PROMISING))
    update_on_its_way = exists().where(
        OutboxMessage.candidate_id == Wait.candidate_id,
        OutboxMessage.kind == EmailKind.UPDATE,
        OutboxMessage.status.in_(UNSENT),
    )
    query = select(Wait.id).where(Wait.id.in_(list(wait_ids)), or_(opened_by_promise, update_on_its_way))
    return set(session.scalars(query))
