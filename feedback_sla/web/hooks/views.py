"""The webhook door: the raw body and headers handed to ``ats.service.receive``, the delivery
stored, then processed (``ats.service.process_received``) in the same transaction, committed once.
When processing fails, the transaction is rolled back and the delivery stored alone: failed with
the reason or, when processing broke off, still to be processed; when the database itself is lost,
nothing is kept and the vendor's retry brings the delivery again (a 5xx answer).

Answers: 401 for a bad or missing signature (nothing written), 200 once processed (or a replay,
or a ping), 202 when stored but not processed yet (retried by ``feedback-sla sources retry``),
404 for an unknown source, 413 past ``WEBHOOK_MAX_BYTES``, 429 past ``WEBHOOK_LIMIT_PER_SOURCE``
requests to one source's URL (the vendors retry later), signed or not.
"""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, current_app, jsonify, request

from feedback_sla.ats import service
from feedback_sla.ats.models import Source
from feedback_sla.ats.sources import find_source
from feedback_sla.database import db, unavailable
from feedback_sla.extensions import csrf, limiter
from feedback_sla.settings import service as settings_service
from feedback_sla.timeutil import utcnow

bp = Blueprint("hooks", __name__, url_prefix="/hooks")
csrf.exempt(bp)


def _body() -> bytes:
    limit = current_app.config["WEBHOOK_MAX_BYTES"]
    if request.content_length is not None and request.content_length > limit:
        abort(413)
    body = request.stream.read(limit + 1)
    if len(body) > limit:
        abort(413)
    return body


def _limit() -> str:
    return current_app.config["WEBHOOK_LIMIT_PER_SOURCE"]


def _source_url() -> str:
    """A limit per source: whoever sends to one webhook URL, wherever from."""
    return request.path


@bp.post("/<kind>/<public_id>")
@limiter.limit(_limit, key_func=_source_url)
def receive(kind: str, public_id: str):
    source = find_source(db.session, kind, public_id)
    if source is None:
        abort(404)
    body = _body()
    now = utcnow()
    try:
        answer = service.receive(db.session, source, request.headers, body, now)
    except service.BadSignature as exc:
        db.session.rollback()
        return jsonify(error=str(exc)), 401
    if answer.to_process:
        answer = _processed(source, answer, body, now)
    delivery = answer.delivery
    # Read before the commit, which expires what the session holds.
    status = "replay" if answer.replay else (delivery.status if delivery else "ignored")
    reply = jsonify(status=status, delivery=delivery.id if delivery else None), service.answer_code(answer)
    db.session.commit()
    return reply


def _processed(source: Source, answer: service.Answer, body: bytes, now: dt.datetime) -> service.Answer:
    """The new delivery processed, or stored alone: failed, or still to be processed (``feedback-sla
    sources retry``) when processing broke off, before the error is answered."""
    try:
        settings = settings_service.load(db.session)
        lever_config = service.LeverConfig.from_config(current_app.config)
        failed = service.process_received(
            db.session, answer.delivery, now, settings, lever_config, answer.payload
        )
    except Exception as exc:
        db.session.rollback()
        if not unavailable(exc):  # a lost database keeps nothing: answered 503, the vendor retries
            service.receive(db.session, source, request.headers, body, now)
            db.session.commit()
        raise
    if failed is None:
        return answer
    db.session.rollback()  # nothing that processing wrote is kept
    return service.receive(db.session, source, request.headers, body, now, failed=failed)
