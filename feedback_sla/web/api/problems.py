"""Errors as RFC 9457 problem details: one shape for every refusal of the API."""

from __future__ import annotations

import marshmallow as ma
from flask import jsonify
from werkzeug.exceptions import HTTPException, MethodNotAllowed

PROBLEM_TYPE = "application/problem+json"


class FieldProblemSchema(ma.Schema):
    field = ma.fields.String(required=True, metadata={"description": "The field, e.g. email"})
    location = ma.fields.String(required=True, metadata={"description": "json, query or headers"})
    messages = ma.fields.List(ma.fields.String(), required=True)


class ProblemSchema(ma.Schema):
    """RFC 9457 problem details; ``errors`` names each refused field."""

    type = ma.fields.String(required=True)
    title = ma.fields.String(required=True)
    status = ma.fields.Integer(required=True)
    detail = ma.fields.String()
    errors = ma.fields.List(ma.fields.Nested(FieldProblemSchema))


def problem(status: int, title: str, detail: str | None = None, errors=None, headers=None):
    body = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = errors
    response = jsonify(body)
    response.status_code = status
    response.mimetype = PROBLEM_TYPE
    response.headers.extend(headers or {})
    return response


def field_errors(messages: dict) -> list[dict]:
    """webargs' ``{location: {field: [message]}}`` as a flat list naming each field."""
    found = []
    for location, fields in (messages or {}).items():
        for field, texts in _flatten(fields):
            found.append({"field": field, "location": location, "messages": texts})
    return found


def _flatten(fields, prefix: str = ""):
    if isinstance(fields, list):
        yield prefix or "_schema", [str(text) for text in fields]
        return
    if not isinstance(fields, dict):
        yield prefix or "_schema", [str(fields)]
        return
    for key, value in fields.items():
        yield from _flatten(value, f"{prefix}.{key}" if prefix else str(key))


def from_http_error(error: HTTPException):
    data = getattr(error, "data", None) or {}
    errors = field_errors(data.get("messages") or data.get("errors") or {})
    detail = data.get("message") or error.description
    if error.code == 422 and errors:
        detail = "; ".join(f"{e['field']}: {' '.join(e['messages'])}" for e in errors)
    headers = dict(data.get("headers") or {})
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        headers["Allow"] = ", ".join(sorted(error.valid_methods))
    return problem(error.code or 500, error.name, detail, errors, headers)
