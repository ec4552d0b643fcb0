"""The figures a Prometheus scrape reads: one grouped count per family, never a row per item."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from feedback_sla.ats.models import Delivery, DeliveryStatus, Kind, Source
from feedback_sla.emails.models import OutboxMessage, OutboxStatus
from feedback_sla.triage.service import state_counts
from feedback_sla.waits.clock import OrgSettings


def outbox_by_status(session: Session) -> dict[str, int]:
    """Every outbox message counted by status; a status with none counts 0."""
    counts = {status.value: 0 for status in OutboxStatus}
    query = select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    for status, count in session.execute(query):
        counts[OutboxStatus(status).value] = count
    return counts


def oldest_pending_seconds(session: Session, now: dt.datetime) -> float:
    """Seconds since the oldest pending message was queued; 0 when nothing is pending."""
    queued = session.scalar(
        select(func.min(OutboxMessage.queued_at)).where(OutboxMessage.status == OutboxStatus.PENDING)
    )
    return max(0.0, (now - queued).total_seconds()) if queued is not None else 0.0


def open_waits_by_state(session: Session, now: dt.datetime, settings: OrgSettings) -> dict[str, int]:
    """The candidates waiting for an answer by state at ``now``: the triage page's counts for
    the whole organisation, in one grouped statement."""
    return {state.value: count for state, count in state_counts(session, now, settings).items()}


def webhook_deliveries(session: Session) -> dict[tuple[str, str], int]:
    """Webhook deliveries counted by (source kind, outcome); every pair of a known kind and
    outcome is there, 0 when none, so an alert on failures has a series before the first one."""
    counts = {(kind.value, outcome.value): 0 for kind in Kind for outcome in DeliveryStatus}
    query = (
        select(Source.kind, Delivery.status, func.count())
        .select_from(Delivery)
        .join(Source, Delivery.source_id == Source.id)
        .group_by(Source.kind, Delivery.status)
    )
    for kind, status, count in session.execute(query):
        counts[str(kind), str(status)] = count
    return counts
