"""A webhook delivery: its signature checked on the raw body, stored once per vendor event id
(``receive``; the caller commits it), then processed in the same request when it can be
(``process``; the caller commits again). A delivery whose processing broke off stays ``received``.

One that cannot be processed now (the Lever API is down, or the payload lacks what its mapping
needs) stays ``failed`` with its reason, is shown to admins and is tried again, like one left
``received``, by ``feedback-sla sources retry`` once the cause is mended. One about a person whose personal
data was erased here is ``ignored`` and keeps no payload; its note says the person was erased.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from feedback_sla.ats import apply, ashby, greenhouse, lever, sources, workable
from feedback_sla.ats.events import PayloadError, Unavailable
from feedback_sla.ats.models import Delivery, DeliveryStatus, Kind, Source
from feedback_sla.ats.signatures import BadSignature, verify
from feedback_sla.database import insert_once
from feedback_sla.errors import DomainError
from feedback_sla.text import printable
from feedback_sla.waits.clock import OrgSettings

__all__ = [
    "BadSignature",
    "Answer",
    "LeverConfig",
    "receive",
    "answer_code",
    "process",
    "process_received",
    "retry",
]

VENDORS = {Kind.GREENHOUSE: greenhouse, Kind.LEVER: lever, Kind.ASHBY: ashby, Kind.WORKABLE: workable}

#: Event types that only check the URL works.
PINGS = frozenset({"ping"})


@dataclass(frozen=True)
class LeverConfig:
    base: str = lever.DEFAULT_API_BASE
    timeout: float = 10

    @classmethod
    def from_config(cls, config: Mapping) -> LeverConfig:
        """Read from the app's ``LEVER_API_BASE`` and ``LEVER_API_TIMEOUT``."""
        return cls(config["LEVER_API_BASE"], config["LEVER_API_TIMEOUT"])


@dataclass(frozen=True)
class Answer:
    """A delivery as received: the new one, or on a replay the one stored before (``answer_code``
    says what the webhook answers). ``payload`` is the new one's body as read at the door, so
    processing it in the same request does not read the stored copy again."""

    delivery: Delivery | None
    replay: bool = False
    payload: dict | None = None

    @property
    def to_process(self) -> bool:
        """A new delivery, still to be processed."""
        return (
            self.delivery is not None
            and not self.replay
            and self.delivery.status == DeliveryStatus.RECEIVED.value
        )


def receive(
    session: Session,
    source: Source,
    headers: Mapping[str, str],
    body: bytes,
    now: dt.datetime,
    *,
    failed: str | None = None,
) -> Answer:
    """BadSignature (nothing written) unless the source signed ``body``; otherwise the delivery,
    stored once, still to be processed (``received``), or on a replay the one stored before.

    With ``failed``, the reason its processing failed (``process_received``), a new delivery is
    stored failed after that attempt."""
    verify(source.kind, source.secret, headers, body, now)
    payload = _json(body)
    if isinstance(payload, dict):
        event_id, event_type = VENDORS[Kind(source.kind)].identify(payload, headers, body)
        # What no column can hold (a NUL, a control character) is not part of a name.
        event_id, event_type = printable(str(event_id)), printable(str(event_type))
    else:
        event_id, event_type = "", ""
    # An event without an id of its own is known by its body.
    key = event_id or hashlib.sha256(body).hexdigest()
    delivery = _store(session, source, key, event_type, body, now)
    if delivery is None:  # the same event stored before (or concurrently, committed first)
        return Answer(_existing(session, source, key), replay=True)
    if not isinstance(payload, dict):
        _finish(delivery, DeliveryStatus.FAILED, now, "the body is not a JSON object")
        return Answer(delivery)
    if failed is not None:
        _tried(delivery, DeliveryStatus.FAILED, now, failed)
        return Answer(delivery)
    return Answer(delivery, payload=payload)


def _json(body: bytes):
    """The body as JSON, or None when it is not JSON at all (or nested past the parser's depth)."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return None


def answer_code(answer: Answer) -> int:
    """200 once done (or a replay), 202 when stored but not processed: tried again later."""
    if answer.replay or answer.delivery is None:
        return 200
    return 202 if answer.delivery.status in (DeliveryStatus.FAILED, DeliveryStatus.RECEIVED) else 200


def _store(
    session: Session, source: Source, event_id: str, event_type: str, body: bytes, now: dt.datetime
) -> Delivery | None:
    """The new delivery, or None when a concurrent request stored this event id first."""
    values = {
        "source_id": source.id,
        "event_id": event_id[:255],
        "event_type": event_type[:100],
        "received_at": now,
        "body": body.decode("utf-8", errors="replace").replace("\x00", "\ufffd"),
        "status": DeliveryStatus.RECEIVED.value,
        "attempts": 0,
    }
    # The same event delivered twice at once: one row wins.
    return insert_once(session, Delivery, values, conflict=["source_id", "event_id"])


def _existing(session: Session, source: Source, event_id: str) -> Delivery | None:
    return session.scalar(
        select(Delivery).where(Delivery.source_id == source.id, Delivery.event_id == event_id[:255])
    )


def _finish(delivery: Delivery, status: DeliveryStatus, now: dt.datetime, error: str | None = None) -> None:
    delivery.status = status.value
    delivery.error = error
    delivery.processed_at = now if status != DeliveryStatus.FAILED else None


#: What processing a delivery may fail with: it is kept, failed, with the reason, and tried again.
FAILURES = (PayloadError, Unavailable, DomainError, ValueError)


def process(
    session: Session,
    delivery: Delivery,
    now: dt.datetime,
    settings: OrgSettings,
    lever_config: LeverConfig = LeverConfig(),
) -> Delivery:
    """Apply what the stored delivery means, in a savepoint: everything it wrote is undone when it
    fails (FAILURES), and the delivery is failed with the reason. When it breaks off (an error no
    payload explains), the delivery is left as it was: still to be processed."""
    try:
        with session.begin_nested():
            _apply(session, delivery, now, settings, lever_config, _json(delivery.body))
    except FAILURES as exc:
        _tried(delivery, DeliveryStatus.FAILED, now, _reason(exc))
    return delivery


def process_received(
    session: Session,
    delivery: Delivery,
    now: dt.datetime,
    settings: OrgSettings,
    lever_config: LeverConfig,
    payload: dict,
) -> str | None:
    """``process`` for a delivery just received (``payload``, its body as read) in a transaction
    that holds nothing else, so without a savepoint: two statements fewer on every webhook. None
    once processed; else why it failed, and the caller rolls the transaction back and stores the
    delivery alone (``receive`` with ``failed``); likewise, stored to be processed again, when
    processing breaks off (what the database refuses included: the writes are flushed here)."""
    try:
        _apply(session, delivery, now, settings, lever_config, payload)
    except FAILURES as exc:
        return _reason(exc)
    session.flush()
    return None


def _reason(error: Exception) -> str:
    return str(error) or type(error).__name__


def _apply(
    session: Session,
    delivery: Delivery,
    now: dt.datetime,
    settings: OrgSettings,
    lever_config: LeverConfig,
    payload,
) -> None:
    """What the delivery means, applied, and how it ended (processed, or ignored) set on it;
    raises one of FAILURES when it cannot be."""
    source = delivery.source
    if delivery.event_type in PINGS:
        _tried(delivery, DeliveryStatus.IGNORED, now, "a ping: the URL and the secret work")
        return
    if not isinstance(payload, dict):
        raise PayloadError("the body is not a JSON object")
    events = VENDORS[Kind(source.kind)].read(payload, delivery.received_at, _context(source, lever_config))
    if not events:
        _tried(delivery, DeliveryStatus.IGNORED, now, f"{delivery.event_type or 'this event'}: not read")
        return
    # The outcome is set before the writes are flushed: written with them, in one flush.
    _applied(delivery, apply.apply(session, source, events, settings, now), now)


def _applied(delivery: Delivery, result: apply.Applied, now: dt.datetime) -> None:
    if result.candidate_id is not None:
        delivery.candidate_id = result.candidate_id
    if result.erased:  # about a person erased here: no copy of what the ATS said about them
        delivery.body = "{}"
    status = DeliveryStatus.PROCESSED if result.done else DeliveryStatus.IGNORED
    _tried(delivery, status, now, "; ".join(result.notes) or None)


def _tried(delivery: Delivery, status: DeliveryStatus, now: dt.datetime, note: str | None) -> None:
    """One attempt more, and how it ended: counted once processing has ended either way, so that
    the count is written with the outcome, in one statement."""
    delivery.attempts += 1
    _finish(delivery, status, now, note)


def _context(source: Source, lever_config: LeverConfig):
    if source.kind == Kind.LEVER:
        return lever.LeverApi(lever_config.base, source.api_key or "", lever_config.timeout)
    return None


@dataclass
class RetryResult:
    processed: int = 0
    failed: int = 0


def retry(
    session: Session,
    now: dt.datetime,
    settings: OrgSettings,
    lever_config: LeverConfig = LeverConfig(),
    *,
    delivery_id: int | None = None,
) -> RetryResult:
    """Process again every failed delivery and every one left received (or the one given), oldest
    first; each is dated by when it was received, not by the retry."""
    result = RetryResult()
    for delivery in sources.failed_deliveries(session, delivery_id=delivery_id):
        process(session, delivery, now, settings, lever_config)
        if delivery.status == DeliveryStatus.FAILED:
            result.failed += 1
        else:
            result.processed += 1
    return result
