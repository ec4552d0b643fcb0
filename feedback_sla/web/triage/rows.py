"""The triage table's rows, built in Python: a manager may have a thousand waiting candidates.

A Jinja loop over a thousand rows costs several times the query that fetched them, so each row is one
f-string. Everything that comes from a user (names, titles, stages) goes through ``html.escape``
(quotes included); the rest are numbers, dates and words defined in code. The rare parts (a
row's queued or failed emails) and the buttons still come from a Jinja template.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from html import escape

from flask import get_template_attribute
from markupsafe import Markup

from feedback_sla.waits.clock import State
from feedback_sla.waits.queries import WaitingRow
from feedback_sla.waits.wording import DueWords
from feedback_sla.web.filters import STATE_BADGES

BADGES = {state: (STATE_BADGES[state], state.title, state.value) for state in State}


def render_rows(
    rows: Sequence[WaitingRow],
    words: DueWords,
    *,
    candidates_url: str,
    with_manager: bool,
    emails: Mapping[int, list],
    now: dt.datetime,
    emails_url: str,
    customize_query: str,
) -> Markup:
    actions = str(get_template_attribute("triage/_row_emails.html", "row_actions")(customize_query))
    row_emails = get_template_attribute("triage/_row_emails.html", "row_emails")
    prefix = escape(candidates_url)
    stages: dict[str, str] = {}
    dates: dict[dt.date, str] = {}
    dues: dict[tuple, str] = {}  # (due_at, zone) -> the Due cell, worded once per deadline
    parts = []
    append = parts.append
    for r in rows:
        url = f"{prefix}{r.candidate_id}"
        badge, title, value = BADGES[r.state]
        stage = stages.get(r.stage)
        if stage is None:
            stage = stages[r.stage] = escape(r.stage.capitalize())
        due = dues.get((r.due_at, r.time_zone))
        if due is None:
            due = dues[r.due_at, r.time_zone] = (
                f'<td title="{words.title(r.due_at)}">{words.phrase(r.due_at, r.time_zone)}</td>'
            )
        manager = (
            f'<div class="small text-body-secondary">{escape(r.manager_name)}</div>' if with_manager else ""
        )
        messages = emails.get(r.candidate_id)
        mail = row_emails(messages, now, emails_url) if messages else ""
        promised = ""
        if r.promised_date is not None:
            promised = dates.get(r.promised_date)
            if promised is None:
                promised = dates[r.promised_date] = r.promised_date.strftime("%a %d %b %Y")
        append(
            f'<tr data-candidate-id="{r.candidate_id}" data-state="{value}">'
            f'<th scope="row"><a href="{url}">{escape(r.candidate)}</a></th>'
            f"<td>{escape(r.position)}{manager}</td><td>{stage}</td><td>{r.reason.label}</td>"
            f"<td>{r.business_days_waited}</td>{due}"
            f'<td><span class="badge badge-state {badge}">{title}</span>{mail}</td>'
            f"<td>{promised}</td><td>{r.follow_ups or ''}</td>"
            f"<td>{actions.replace('§', url)}</td></tr>\n"
        )
    return Markup("".join(parts))  # noqa: S704  (every user value above is escaped)
