"""The candidates page's search: every candidate of any status, searched by name or email,
filtered, sorted and paged, with their open wait's deadline; one SQL statement a page."""

from __future__ import annotations

import datetime as dt
import enum
import functools
from dataclasses import dataclass
from typing import NamedTuple

from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.orm import Session, aliased

from feedback_sla.accounts.models import User
from feedback_sla.candidates.models import Candidate, Status
from feedback_sla.positions.models import Position
from feedback_sla.text import search_key
from feedback_sla.waits.models import Wait
from feedback_sla.waits.queries import PAGE_SIZE, pages_for


class CandidateSort(enum.StrEnum):
    NAME = "name"
    POSITION = "position"
    STAGE = "stage"
    STATUS = "status"
    APPLIED = "applied"
    DUE = "due"


@dataclass(frozen=True)
class CandidateSearch:
    """What the candidates page asks for; ``manager_id`` limits it to that manager's positions."""

    text: str = ""
    position_id: int | None = None
    stage: str | None = None
    status: Status | None = None
    manager_id: int | None = None
    sort: CandidateSort = CandidateSort.NAME
    descending: bool = False
    page: int = 1


class CandidateRow(NamedTuple):
    id: int
    name: str
    email: str
    position: str
    manager: str
    stage: str
    status: Status
    applied_at: dt.datetime | None
    due_at: dt.datetime | None  # the open wait's deadline; None when nobody owes them an answer


@dataclass(frozen=True)
class CandidatePage:
    rows: list[CandidateRow]
    total: int
    page: int

    @property
    def pages(self) -> int:
        return pages_for(self.total)


def find_candidates(session: Session, search: CandidateSearch) -> CandidatePage:
    """One page of every candidate of any status: searched by name or email whatever the case or
    accents, filtered, sorted; the total counts every match.

    One statement: the page of rows, each with the total (an uncorrelated subquery, counted
    once). Only a page past the last, which finds no rows, costs another two: the count alone,
    then the last page.
    """
    listed, counted = _search_statements(_SearchShape.of(search))
    values = _search_values(search)
    connection = session.connection()
    page = max(1, search.page)
    rows = connection.execute(listed, {**values, "offset": (page - 1) * PAGE_SIZE}).all()
    if rows:
        total = rows[0].total
    else:
        total = connection.execute(counted, values).scalar_one()
        if page > pages_for(total):
            page = pages_for(total)
            rows = connection.execute(listed, {**values, "offset": (page - 1) * PAGE_SIZE}).all()
    return CandidatePage([CandidateRow._make(row[:-1]) for row in rows], total, page)


class _SearchShape(NamedTuple):
    """Which of a search's filters are given (not their values), and its order."""

    text: bool
    position: bool
    stage: bool
    status: bool
    manager: bool
    sort: CandidateSort
    descending: bool

    @classmethod
    def of(cls, search: CandidateSearch) -> _SearchShape:
        given = (search.position_id, search.stage or None, search.status, search.manager_id)
        return cls(bool(search.text.strip()), *(v is not None for v in given), search.sort, search.descending)


def _search_values(search: CandidateSearch) -> dict:
    key = search_key(search.text.strip())
    return {
        "pattern": "%" + key.replace("/", "//").replace("%", "/%").replace("_", "/_") + "%",
        "position_id": search.position_id,
        "stage": search.stage,
        "status": search.status,
        "manager_id": search.manager_id,
    }


@functools.lru_cache(maxsize=512)
def _search_statements(shape: _SearchShape) -> tuple[Select, Select]:
    """The page of rows with the total, and the total alone, for one shape of search: built once,
    bound at each execution (building them cost about as much as running them)."""
    first = aliased(Wait)  # the first wait opened when the application arrived
    applied = (
        select(func.min(first.opened_at))
        .where(first.candidate_id == Candidate.id)
        .correlate(Candidate)
        .scalar_subquery()
    )
    counted = _matching(select(func.count(Candidate.id)), shape, named=False)
    total = counted.correlate(None).scalar_subquery()  # on its own: not one count per row
    query = _matching(
        select(
            Candidate.id,
            Candidate.name,
            Candidate.email,
            Position.title,
            User.name,
            Candidate.stage,
            Candidate.status,
            applied.label("applied_at"),
            Wait.due_at,
            total.label("total"),
        ),
        shape,
    ).outerjoin(Wait, (Wait.candidate_id == Candidate.id) & Wait.closed_at.is_(None))
    order = {
        CandidateSort.NAME: func.lower(Candidate.name),
        CandidateSort.POSITION: func.lower(Position.title),
        CandidateSort.STAGE: Candidate.stage,
        CandidateSort.STATUS: Candidate.status,
        CandidateSort.APPLIED: applied,
        CandidateSort.DUE: Wait.due_at,
    }[shape.sort]
    if shape.sort == CandidateSort.NAME:  # never empty: in the order of ix_candidates_name
        ordered = (order.desc(), Candidate.id.desc()) if shape.descending else (order, Candidate.id)
    else:
        ordered = ((order.desc() if shape.descending else order.asc()).nulls_last(), Candidate.id)
    listed = query.order_by(*ordered).limit(PAGE_SIZE).offset(bindparam("offset"))
    return listed, counted


def _matching(query: Select, shape: _SearchShape, *, named: bool = True) -> Select:
    """``query`` over the candidates the search matches; ``named``: with their position and its
    manager joined (a count needs the position only to limit it to a manager's)."""
    query = query.select_from(Candidate)
    if named or shape.manager:
        query = query.join(Position, Candidate.position_id == Position.id)
    if named:
        query = query.join(User, Position.manager_id == User.id)
    if shape.text:
        query = query.where(Candidate.search_key.like(bindparam("pattern"), escape="/"))
    if shape.position:
        query = query.where(Candidate.position_id == bindparam("position_id"))
    if shape.stage:
        query = query.where(Candidate.stage == bindparam("stage"))
    if shape.status:
        query = query.where(Candidate.status == bindparam("status"))
    if shape.manager:
        query = query.where(Position.manager_id == bindparam("manager_id"))
    return query
