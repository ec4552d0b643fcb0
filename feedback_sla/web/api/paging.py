"""Cursor pagination: an opaque token naming the last row seen; every list has a limit.

A cursor is the last id as 8 bytes in unpadded base64url (11 characters): every string of that
shape is a cursor, so a cursor is either refused by the document's pattern or read, never a
surprise.
"""

from __future__ import annotations

import base64

import marshmallow as ma

MAX_LIMIT = 200
DEFAULT_LIMIT = 50
#: 10 characters of 6 bits, then one holding the last 4 bits (its 2 low bits are zero).
CURSOR_PATTERN = r"^[A-Za-z0-9_-]{10}[AEIMQUYcgkosw048]$"
#: The largest id a table holds (a 32-bit integer column): a cursor past it is past every row.
MAX_ID = 2**31 - 1


class PageArgs(ma.Schema):
    limit = ma.fields.Integer(
        load_default=DEFAULT_LIMIT, validate=ma.validate.Range(1, MAX_LIMIT), metadata={"example": 50}
    )
    cursor = ma.fields.String(
        load_default=None,
        validate=ma.validate.Regexp(CURSOR_PATTERN, error="not a cursor from this API"),
        metadata={"description": "next_cursor of the previous page"},
    )


def encode(last_id: int) -> str:
    return base64.urlsafe_b64encode(last_id.to_bytes(8, "big")).decode().rstrip("=")


def decode(cursor: str | None) -> int:
    """The id a cursor resumes after (0: from the start); the cursor has passed its pattern."""
    if cursor is None:
        return 0
    return min(int.from_bytes(base64.urlsafe_b64decode(cursor + "="), "big"), MAX_ID)


def page_of(items: list, limit: int, key=lambda item: item.id) -> dict:
    """``items`` holds up to ``limit + 1`` rows: the extra one says another page follows."""
    more = len(items) > limit
    items = items[:limit]
    return {"items": items, "next_cursor": encode(key(items[-1])) if more else None}


def page_schema(item: type[ma.Schema], name: str) -> type[ma.Schema]:
    return ma.Schema.from_dict(
        {
            "items": ma.fields.List(ma.fields.Nested(item), required=True),
            "next_cursor": ma.fields.String(allow_none=True, required=True),
        },
        name=name,
    )
