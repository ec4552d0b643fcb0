"""GET /healthz, /readyz and /ops/metrics: no login, no session, no rate limit, never cached.

``/metrics`` is the Metrics page people read; Prometheus scrapes ``/ops/metrics`` instead.
"""

from __future__ import annotations

import hmac

from alembic.script import ScriptDirectory
from flask import Blueprint, Flask, Response, abort, current_app, jsonify, request

from feedback_sla.database import db
from feedback_sla.extensions import limiter
from feedback_sla.web.access import bearer_secret
from feedback_sla.web.ops import prometheus, readiness

bp = Blueprint("ops", __name__)
limiter.exempt(bp)


@bp.record_once
def _set_up(state) -> None:
    prometheus.init_app(state.app)


bp.before_app_request(prometheus.start_timer)
bp.after_app_request(prometheus.observe)


@bp.after_request
def _never_cached(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/healthz")
def healthz():
    """The process is up and answers; the database is not touched."""
    return Response("ok\n", mimetype="text/plain")


@bp.get("/readyz")
def readyz():
    """The database answers and its schema is at the migrations' head; 503 names what is not."""
    state, error = readiness.check(db.engine, _scripts(current_app))
    if error is not None:
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        current_app.logger.warning("not ready: the database does not answer: %s", reason)
    elif not state.ready:
        current_app.logger.warning("not ready: migrations %s", state.migrations)
    return jsonify(state.as_json()), 200 if state.ready else 503


@bp.get("/ops/metrics")
def metrics():
    """Prometheus text format, for ``Authorization: Bearer <METRICS_TOKEN>``; off (404) unset."""
    token = current_app.config.get("METRICS_TOKEN")
    if not token:
        abort(404)
    if not _bearer_matches(request.headers.get("Authorization", ""), token):
        return Response("a valid bearer token is required\n", 401, {"WWW-Authenticate": "Bearer"})
    from prometheus_client import CONTENT_TYPE_LATEST

    return Response(prometheus.exposition(current_app), headers={"Content-Type": CONTENT_TYPE_LATEST})


def _bearer_matches(header: str, token: str) -> bool:
    given = bearer_secret(header)
    return given is not None and hmac.compare_digest(given.encode(), token.encode())


def _scripts(app: Flask) -> ScriptDirectory:
    """The app's migration scripts, read once per process."""
    scripts = app.extensions.get("feedback_sla_migration_scripts")
    if scripts is None:
        scripts = ScriptDirectory(app.extensions["migrate"].directory)
        app.extensions["feedback_sla_migration_scripts"] = scripts
    return scripts
