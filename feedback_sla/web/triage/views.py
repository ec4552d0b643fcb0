"""The home page: who is waiting on me, and who is already late, a page at a time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple
from urllib.parse import urlencode

from flask import Blueprint, abort, render_template, request
from flask_login import current_user, login_required

from feedback_sla.accounts.models import User
from feedback_sla.accounts.service import find_users
from feedback_sla.addresses import MAX_ADDRESS
from feedback_sla.candidates.models import PIPELINE
from feedback_sla.database import db
from feedback_sla.emails.queries import TriageEmail, for_triage
from feedback_sla.settings import service as settings_service
from feedback_sla.text import printable
from feedback_sla.timeutil import utcnow
from feedback_sla.triage.service import Cursor, TriageSort, triage
from feedback_sla.waits.clock import State
from feedback_sla.waits.decisions import only_updates_so_far
from feedback_sla.waits.queries import Filters, WaitingRow
from feedback_sla.waits.wording import DueWords
from feedback_sla.web.access import position_choices
from feedback_sla.web.email_parts import new_nonce

bp = Blueprint("triage", __name__)


def _int_arg(name: str) -> int | None:
    value = request.args.get(name, "")
    return int(value) if value.isdigit() and len(value) < 10 else None


def _choice(name: str, choices: type[State] | type[TriageSort]):
    value = request.args.get(name) or None
    return choices(value) if value in {c.value for c in choices} else None


@dataclass(frozen=True)
class ManagerPicker:
    """The admin's hiring manager filter: what the field shows, whom it chose (None: everyone),
    the people it might mean when it names several, or why it names nobody."""

    text: str = ""
    chosen: int | None = None
    matches: tuple = ()
    more: bool = False
    error: str | None = None


def _manager_filter() -> tuple[int | None, ManagerPicker | None]:
    """An admin sees everyone, or the manager typed (a name or an address, or their id from a
    link); a manager sees their own candidates."""
    if not current_user.is_admin:
        return current_user.id, None
    typed = " ".join(printable(request.args.get("manager") or "").split())[:MAX_ADDRESS]
    if not typed:
        return None, ManagerPicker()
    if typed.isdigit() and len(typed) < 10:
        user = db.session.get(User, int(typed))
        if user is None:
            abort(404)
        return user.id, ManagerPicker(user.email, user.id)
    found = find_users(db.session, typed)
    chosen = found.exact or (found.users[0] if len(found.users) == 1 else None)
    if chosen is not None:
        return chosen.id, ManagerPicker(chosen.email, chosen.id)
    if not found.users:
        return None, ManagerPicker(typed, error=f"Hiring manager: nobody is named or addressed “{typed}”.")
    return None, ManagerPicker(typed, matches=tuple(found.users), more=found.more)


#: The argument that opens one row's More menu in place, for a browser without JavaScript.
MENU_ARG = "menu"


def _page_path() -> str:
    """This page's address, where its answers come back to: without the row menu it opened."""
    if MENU_ARG not in request.args:
        return request.full_path
    kept = [(k, v) for k, v in request.args.items(multi=True) if k != MENU_ARG]
    return f"{request.path}?{urlencode(kept)}"


@bp.get("/")
@login_required
def index():
    manager_id, picker = _manager_filter()
    stage = request.args.get("stage") or None
    if stage not in PIPELINE:
        stage = None
    state = _choice("state", State)
    sort = _choice("sort", TriageSort) or TriageSort.URGENCY
    positions = position_choices(manager_id)
    position_id = positions.allows(_int_arg("position"), manager_id)

    settings = settings_service.load(db.session)
    now = utcnow()
    result = triage(
        db.session,
        now,
        settings,
        Filters(manager_id=manager_id, position_id=position_id, stage=stage),
        state,
        sort=sort,
        page=_int_arg("page") or 1,
        after=Cursor.parse(request.args.get("after")),
        before=Cursor.parse(request.args.get("before")),
    )
    # The rows' queued and failed emails, and the emails to check: two queries, whatever the
    # number of rows.
    emails = for_triage(db.session, now, manager_id, [r.candidate_id for r in result.rows])
    # An email queued for a candidate on a row has its Undo there: it is not offered again above.
    on_rows = {m.id for shown in emails.by_candidate.values() for m in shown if m.can_undo(now)}
    # The rows whose candidate has had only updates so far: one more query, whatever the rows.
    updated = only_updates_so_far(db.session, [r.wait_id for r in result.rows])
    return render_template(
        "triage/index.html",
        triage=result,
        rows=shown_rows(
            result.rows, DueWords(now, settings, current_user.time_zone), emails.by_candidate, updated
        ),
        attention=[m for m in emails.attention if m.id not in on_rows],
        email_nonce=new_nonce(),
        page_path=_page_path(),
        menu_open=_int_arg(MENU_ARG),
        now=now,
        positions=positions,
        picker=picker,
        stages=PIPELINE,
        states=list(State),
        sorts=list(TriageSort),
        selected={
            "manager": manager_id,
            "position": position_id,
            "stage": stage,
            "state": state,
            "sort": sort,
        },
    )


class ShownRow(NamedTuple):
    """A row as the page shows it: the waiting candidate, their deadline in words and as a time in
    the viewer's zone, their unfinished emails, whether they have had only updates so far, and
    whether the decision comes before the update (after an update, or once escalated)."""

    wait: WaitingRow
    due_words: str
    due_time: str
    emails: list[TriageEmail]
    updates_only: bool
    decide_first: bool


def shown_rows(
    rows: list[WaitingRow],
    words: DueWords,
    unfinished: dict[int, list[TriageEmail]],
    updated: set[int] = frozenset(),
) -> list[ShownRow]:
    """Worded here rather than in the template: a page's fifty rows share a few dozen deadlines."""
    return [
        ShownRow(
            r,
            words.phrase(r.due_at, r.time_zone),
            words.title(r.due_at),
            unfinished.get(r.candidate_id, []),
            r.wait_id in updated,
            r.wait_id in updated or r.state == State.ESCALATED,
        )
        for r in rows
    ]
