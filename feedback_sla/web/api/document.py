"""The API's OpenAPI document as client generators read it: named operations, typed nullable values.

An apispec plugin, run after flask-smorest's own: every operation gets an ``operationId`` named
after its view (``list_candidates``), so a generated client has methods a person would write; a
value that may be null says its type beside ``nullable`` (an enum keeps ``null`` among its values,
as OpenAPI 3.0 asks), and a field that is simply optional carries no ``default: null``.
"""

from __future__ import annotations

from apispec import BasePlugin

#: Marks a field whose values are the organisation's languages: the served document lists them as
#: its enum (``languages_enum``), as they are set when it is read.
LANGUAGES_MARK = "x-organisation-languages"

_METHODS = ("get", "put", "post", "delete", "patch")
_NESTED = ("properties", "items", "additionalProperties", "allOf", "oneOf", "anyOf")


class ClientFriendly(BasePlugin):
    def schema_helper(self, name, definition, **kwargs) -> None:
        _tidy(definition)

    def operation_helper(self, path=None, operations=None, **kwargs) -> None:
        rule = kwargs.get("rule")
        view = rule.endpoint.rsplit(".", 1)[-1] if rule is not None else None
        methods = [method for method in _METHODS if method in (operations or {})]
        for method in methods:
            operation = operations[method]
            if view is not None:
                operation.setdefault("operationId", view if len(methods) == 1 else f"{method}_{view}")
            for parameter in operation.get("parameters", ()):
                if isinstance(parameter, dict):
                    _tidy(parameter.get("schema"))
            for body in _bodies(operation):
                _tidy(body.get("schema"))


def _bodies(operation: dict):
    yield from operation.get("requestBody", {}).get("content", {}).values()
    for response in operation.get("responses", {}).values():
        if isinstance(response, dict):
            yield from response.get("content", {}).values()


def _tidy(schema) -> None:
    """Null as ``nullable`` beside a type, in place, through nested schemas."""
    if not isinstance(schema, dict):
        return
    if "default" in schema and schema["default"] is None:
        del schema["default"]
    enum = schema.get("enum")
    if isinstance(enum, list) and None in enum:
        # OpenAPI 3.0: a nullable enum lists null among its values, or null is not one of them.
        schema["nullable"] = True
    values = [value for value in enum or () if value is not None]
    if "type" not in schema and values and all(isinstance(value, str) for value in values):
        schema["type"] = "string"
    for key in _NESTED:
        nested = schema.get(key)
        if isinstance(nested, list):
            for item in nested:
                _tidy(item)
        elif key == "properties" and isinstance(nested, dict):
            for item in nested.values():
                _tidy(item)
        else:
            _tidy(nested)


def languages_enum(document: dict, enabled: list[str]) -> dict:
    """The document with every marked field's enum the organisation's languages now."""
    for schema in document.get("components", {}).get("schemas", {}).values():
        for field in schema.get("properties", {}).values():
            if field.pop(LANGUAGES_MARK, False):
                field["enum"] = list(enabled)
                field["type"] = "string"
    return document
