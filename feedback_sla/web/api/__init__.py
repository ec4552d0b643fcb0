"""The JSON API under /api/v1: personal tokens only, documented by the OpenAPI document that
flask-smorest builds from these views (/api/v1/openapi.json).

No cookie or CSRF path reaches it: a request is authenticated by its ``Authorization: Bearer``
header alone, before Flask-Login could read a session, and a token in the query string is refused.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import Flask, current_app, g, json, request
from flask_smorest import Api, Blueprint
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import HTTPException, NotFound, UnprocessableEntity

from feedback_sla.accounts import tokens
from feedback_sla.database import db, unavailable
from feedback_sla.errors import DomainError
from feedback_sla.extensions import csrf, limiter
from feedback_sla.timeutil import utcnow
from feedback_sla.web.access import bearer_secret
from feedback_sla.web.api.document import ClientFriendly, languages_enum
from feedback_sla.web.api.paging import MAX_ID
from feedback_sla.web.api.problems import PROBLEM_TYPE, ProblemSchema, from_http_error, problem

PREFIX = "/api/v1"
#: 401 answers name the scheme (RFC 6750).
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="feedback-sla"'}

T = TypeVar("T")


def committed(door: Callable[[], T]) -> T:
    """Run ``door`` as the request's one transaction and hand back its result; a refusal propagates
    to ``_refused``, which rolls back and answers 409 problem+json with its reason."""
    result = door()
    db.session.commit()
    return result


class ProblemApi(Api):
    """flask-smorest, with errors documented as problem details and handled by the blueprint
    (its own handler would turn every error page of the site into JSON)."""

    ERROR_SCHEMA = ProblemSchema
    DEFAULT_ERROR_RESPONSE_NAME = "DEFAULT_ERROR"

    def _register_error_handlers(self):
        pass

    def _openapi_json(self):
        """The document, with the organisation's languages as they are set now."""
        from feedback_sla.settings import service as settings_service

        enabled = list(settings_service.load(db.session).languages)
        document = languages_enum(self.spec.to_dict(), enabled)
        return current_app.response_class(json.dumps(document, indent=2), mimetype="application/json")

    def _register_responses(self):
        content_type, self.DEFAULT_RESPONSE_CONTENT_TYPE = self.DEFAULT_RESPONSE_CONTENT_TYPE, PROBLEM_TYPE
        try:
            super()._register_responses()
        finally:
            self.DEFAULT_RESPONSE_CONTENT_TYPE = content_type


bp = Blueprint("api", __name__, url_prefix=PREFIX, description="Candidates, waits, emails and exports.")
csrf.exempt(bp)


def _token_key() -> str:
    return f"api-token:{g.get('api_token_id', request.remote_addr)}"


limiter.limit(lambda: current_app.config["API_LIMIT_PER_TOKEN"], key_func=_token_key)(bp)


@bp.url_value_preprocessor
def _authenticate(endpoint, values):
    """Runs before every other request hook: the token's user is the viewer, never the session's."""
    g._login_user = current_app.login_manager.anonymous_user()
    if "access_token" in request.args:
        raise _Unauthorized("a token is accepted only in the Authorization header, never in the URL")
    secret = bearer_secret(request.headers.get("Authorization", ""))
    if secret is None:
        raise _Unauthorized("send a personal API token: Authorization: Bearer <token>")
    token = tokens.authenticate(db.session, secret, utcnow())
    if token is None:
        raise _Unauthorized("the token is unknown, revoked, or its user is disabled")
    user, token_id = token.user, token.id
    if db.session.is_modified(token):
        # Its last use, before anything the request itself writes. Read before the commit, which
        # expires both; at most once a minute (LAST_USE_PRECISION) the user is read again.
        db.session.commit()
    g._login_user = user
    g.api_token_id = token_id
    if any(isinstance(value, int) and value > MAX_ID for value in (values or {}).values()):
        raise NotFound()  # past any id the database holds


#: Writes whose path says everything: they take no body.
WITHOUT_BODY = frozenset({"api.record_interview", "api.record_follow_up", "api.undo_email", "api.undo_batch"})


@bp.before_request
def _require_a_body():
    """A write that takes a body needs a JSON object (webargs would read a missing one as {})."""
    if request.method in {"POST", "PATCH"} and request.endpoint not in WITHOUT_BODY:
        if not isinstance(request.get_json(silent=True), dict):
            raise UnprocessableEntity("send a JSON object with Content-Type: application/json")


class _Unauthorized(HTTPException):
    code = 401


@bp.errorhandler(HTTPException)
def _http_problem(error: HTTPException):
    db.session.rollback()
    if error.code == 401:
        return problem(401, "Unauthorized", error.description, headers=CHALLENGE)
    if error.code == 429:
        return problem(429, "Too Many Requests", "this token made too many requests; slow down")
    return from_http_error(error)


@bp.errorhandler(DomainError)
def _refused(error: DomainError):
    """A rule of the domain refused the request; its message names the field when there is one."""
    db.session.rollback()
    detail = str(error)
    field, sep, text = detail.partition(": ")
    named = bool(sep) and field.replace("_", " ").replace(" ", "").isalpha() and len(field) <= 40
    errors = [{"field": field.replace(" ", "_"), "location": "json", "messages": [text]}] if named else None
    return problem(409, "Conflict", detail, errors)


@bp.errorhandler(IntegrityError)
def _taken(error: IntegrityError):
    db.session.rollback()
    return problem(409, "Conflict", "another request changed the same object; read it again")


@bp.errorhandler(Exception)
def _server_problem(error: Exception):
    db.session.rollback()
    if unavailable(error):
        current_app.logger.warning("database unavailable: %s", error)
        detail = "the database is unavailable; try again"
        return problem(503, "Service Unavailable", detail, headers={"Retry-After": "5"})
    current_app.logger.exception("unhandled API error")
    return problem(500, "Internal Server Error")


def init_app(app: Flask) -> None:
    app.config.setdefault("API_TITLE", "feedback-sla")
    app.config.setdefault("API_VERSION", "v1")
    app.config.setdefault("OPENAPI_VERSION", "3.0.3")
    app.config.setdefault("OPENAPI_URL_PREFIX", PREFIX)
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    app.config.setdefault(
        "API_SPEC_OPTIONS",
        {
            "components": {"securitySchemes": {"token": {"type": "http", "scheme": "bearer"}}},
            "security": [{"token": []}],
        },
    )
    from feedback_sla.web.api import (  # noqa: F401
        actions,
        batches,
        candidates,
        emails,
        positions,
        reports,
        verdict,
        waits,
    )

    api = ProblemApi(app, spec_kwargs={"extra_plugins": [ClientFriendly()]})
    api.register_blueprint(bp)
