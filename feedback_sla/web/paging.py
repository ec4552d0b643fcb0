"""The page of a list that ``?page=`` asks for, shared by the list pages that page a plain query."""

from __future__ import annotations

from flask import request
from sqlalchemy import Select

from feedback_sla.waits.queries import PAGE_SIZE, pages_for


def requested_page(query: Select, total: int) -> tuple[Select, int, int]:
    """``query`` limited to the asked page (kept within 1..pages), with that page and the page count."""
    pages = pages_for(total)
    page = min(max(1, request.args.get("page", 1, type=int)), pages)
    return query.limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE), page, pages
