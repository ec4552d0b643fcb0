"""Nudges: one chat message per manager for each thing worth telling them, never two.

``queue_wait_nudges`` finds open waits that became due soon, overdue or escalated and have no
message about that state yet; ``queue_event_nudges`` reads the timeline past where the last scan
stopped for a candidate's reply by mail, a request for news or a withdrawal on their status page (or
in the ATS), and a bounce; ``queue_digests`` sends the digest to the chat channels a manager chose,
once per local day. Each message is inserted once per ``dedupe_key`` ("wait:12:overdue:slack"), an
insert that does nothing on conflict: repeated and concurrent runs on any number of hosts queue one.
A manager's quiet hours hold a message until they end; past their daily cap a nudge is recorded as
skipped (the digest and the triage page still list the candidate). The caller commits.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session, selectinload

from feedback_sla.accounts.models import User
from feedback_sla.candidates import status_links
from feedback_sla.candidates.models import Candidate, Event, EventKind, Status
from feedback_sla.chat import cards, mail, preferences, queue
from feedback_sla.chat.cards import Nudge
from feedback_sla.chat.connection import ChatConfig
from feedback_sla.chat.models import About, Channel, ChatMessage, ChatPreference, ChatSetting
from feedback_sla.digest import answers
from feedback_sla.positions.models import Position
from feedback_sla.timeutil import local_date, local_time_in, zone
from feedback_sla.waits.answers import open_waits_of
from feedback_sla.waits.clock import OrgSettings, State, business_days_counter
from feedback_sla.waits.models import Wait
from feedback_sla.waits.queries import listed, state_expression, urgency_expression
from feedback_sla.waits.wording import due_phrase

#: Waits one run looks at, most urgent deadlines first; the next run takes the rest.
BATCH = 500
#: The timeline's events one scan reads.
EVENTS = 2000
#: Events this recent are read again by the next scan: a transaction that commits late (its event
#: has a lower id than one already read) is not missed.
SETTLING = dt.timedelta(minutes=2)
CURSOR = "event_cursor"
#: A first scan looks this far back.
FIRST_SCAN = dt.timedelta(days=1)
NUDGED_STATES = {
    State.DUE_SOON: About.DUE_SOON,
    State.OVERDUE: About.OVERDUE,
    State.ESCALATED: About.ESCALATED,
}


@dataclass
class NudgeReport:
    queued: int = 0
    held: int = 0  # queued, held until the manager's quiet hours end
    skipped: int = 0  # past the manager's daily cap
    digests: int = 0

    def summary(self) -> str:
        return (
            f"queued {self.queued} nudge(s) ({self.held} held for quiet hours), skipped {self.skipped} "
            f"past a daily cap, {self.digests} digest message(s)"
        )


@dataclass
class _Run:
    """One run's view of the managers it writes to: users, preferences and today's counts."""

    session: Session
    now: dt.datetime
    settings: OrgSettings
    config: ChatConfig
    report: NudgeReport = field(default_factory=NudgeReport)
    counts: dict[int, int] = field(default_factory=dict)

    def queue(self, user: User, pref: ChatPreference, new: queue.NewMessage, *, capped: bool = True) -> bool:
        """Queue on one channel, within quiet hours and the cap; False when the key was taken."""
        used = self._used_today(user) if capped else 0
        skipped = None
        if capped and used >= pref.daily_cap:
            skipped = f"not sent: {user.name} had {pref.daily_cap} nudges today (their daily cap)"
        held = None if skipped else preferences.quiet_until(pref, user.time_zone, self.now)
        if queue.add(self.session, new, self.now, send_after=held, skipped=skipped) is None:
            return False
        if skipped:
            self.report.skipped += 1
        elif capped:
            self.counts[user.id] = used + 1
            self.report.queued += 1
            self.report.held += held is not None
        return True

    def _used_today(self, user: User) -> int:
        """Nudges the user was sent since their local midnight (read once a run, then counted)."""
        if user.id not in self.counts:
            tz = zone(user.time_zone)
            midnight = dt.datetime.combine(local_date(self.now, user.time_zone), dt.time(0), tzinfo=tz)
            self.counts[user.id] = queue.nudges_since(self.session, user.id, midnight.astimezone(dt.UTC))
        return self.counts[user.id]

    def nudge(self, user: User, pref: ChatPreference, nudge: Nudge, key: str, **ids) -> None:
        for channel in pref.channels("nudge"):
            reachable = preferences.reachable(pref, channel, self.config)
            new = queue.NewMessage(
                user.id,
                channel,
                nudge.about,
                nudge.text,
                _body(nudge, channel, self.config) if reachable else {},
                f"{key}:{channel.value}",
                candidate_id=nudge.candidate_id,
                **ids,
            )
            if reachable:
                self.queue(user, pref, new)
            else:  # recorded as told, so the next run looks further instead of at it again
                why = (
                    f"not sent: {user.name} cannot be reached on {channel.label} (not linked, or no workflow)"
                )
                self.report.skipped += queue.add(self.session, new, self.now, skipped=why) is not None


def _body(nudge: Nudge, channel: Channel, config: ChatConfig) -> dict:
    if channel == Channel.EMAIL:
        return mail.email_nudge(nudge, config.base_url)
    return cards.slack_nudge(nudge) if channel == Channel.SLACK else cards.teams_nudge(nudge)


def nudge_of(
    about: About,
    candidate: Candidate,
    position: Position,
    wait: Wait | None,
    manager: User,
    now: dt.datetime,
    settings: OrgSettings,
    config: ChatConfig,
) -> Nudge:
    """What a manager is told about a candidate: the wait as it stands, deadlines in their zone."""
    base = config.base_url
    links = answers.links_for(
        base, config.secret_key, manager, candidate.id, local_date(now, manager.time_zone)
    )
    waited = deadline = phrase = None
    if wait is not None:
        waited = business_days_counter(now, settings)(wait.opened_at, position.time_zone)
        deadline = local_time_in(wait.due_at, manager.time_zone)
        phrase = due_phrase(wait.due_at, now, position.time_zone, settings)
    return Nudge(
        about=about,
        candidate_id=candidate.id,
        candidate=candidate.name,
        position=position.title,
        days_waited=waited,
        deadline=deadline,
        due_phrase=phrase,
        open_url=f"{base}/candidates/{candidate.id}",
        rejection_url=f"{base}/candidates/{candidate.id}/emails/rejection/customize",
        update_url=links.get("update", ""),
        nonce=secrets.token_urlsafe(9),
    )


def _managers(session: Session, ids: Iterable[int]) -> dict[int, tuple[User, ChatPreference]]:
    ids = sorted(set(ids))
    if not ids:
        return {}
    rows = session.execute(
        select(User, ChatPreference)
        .join(ChatPreference, ChatPreference.user_id == User.id)
        .where(User.id.in_(ids), User.active.is_(True))
    ).all()
    return {user.id: (user, pref) for user, pref in rows}


def queue_wait_nudges(run: _Run) -> None:
    """Waits that became due soon, overdue or escalated, not yet told in that state."""
    session, now, settings = run.session, run.now, run.settings
    state = state_expression(now, settings)
    query = (
        select(Wait, Candidate, Position, state.label("state"))
        .join(Candidate, Candidate.id == Wait.candidate_id)
        .join(Position, Position.id == Candidate.position_id)
        .join(ChatPreference, ChatPreference.user_id == Position.manager_id)
        .join(User, User.id == Position.manager_id)
        .where(
            Wait.closed_at.is_(None),
            listed(),
            User.active.is_(True),
            ChatPreference.nudge_channels != "",
            urgency_expression(now, settings) <= State.DUE_SOON.urgency,
            ~exists().where(ChatMessage.wait_id == Wait.id, ChatMessage.about == state),
        )
        .order_by(Wait.due_at, Wait.id)
        .limit(BATCH)
    )
    rows = session.execute(query).all()
    managers = _managers(session, (position.manager_id for _, _, position, _ in rows))
    for wait, candidate, position, name in rows:
        found = managers.get(position.manager_id)
        if found is None:
            continue
        user, pref = found
        about = NUDGED_STATES[State(name)]
        nudge = nudge_of(about, candidate, position, wait, user, now, settings, run.config)
        run.nudge(user, pref, nudge, f"wait:{wait.id}:{about.value}", wait_id=wait.id)


def _event_about(event: Event) -> About | None:
    """What an event tells the manager, if anything: only what the candidate or their mail did."""
    data = event.data or {}
    if event.kind == EventKind.FOLLOWED_UP and event.actor_id is None and data.get("counted") is not False:
        if event.channel == "email":
            return About.REPLIED
        if event.channel == status_links.CHANNEL:
            return About.ASKED
    if (
        event.kind == EventKind.STATUS_CHANGED
        and event.actor_id is None
        and data.get("to") == Status.WITHDRAWN.value
    ):
        return About.WITHDREW
    if event.kind == EventKind.EMAIL_BOUNCED and data.get("marked"):
        return About.BOUNCED
    return None


def _cursor(session: Session, now: dt.datetime) -> tuple[ChatSetting | None, int]:
    row = session.get(ChatSetting, CURSOR)
    if row is not None:
        return row, int(row.value)
    last = session.scalar(select(func.max(Event.id))) or 0
    return None, max(0, last - EVENTS)


def queue_event_nudges(run: _Run) -> None:
    """Replies, requests for news, withdrawals and bounces recorded since the last scan."""
    session, now = run.session, run.now
    row, after = _cursor(session, now)
    kinds = (EventKind.FOLLOWED_UP, EventKind.STATUS_CHANGED, EventKind.EMAIL_BOUNCED)
    events = session.scalars(
        select(Event).where(Event.id > after, Event.kind.in_(kinds)).order_by(Event.id).limit(EVENTS)
    ).all()
    settled = after
    told = []
    for event in events:
        if row is None and event.recorded_at < now - FIRST_SCAN:
            continue
        if event.recorded_at <= now - SETTLING:
            settled = max(settled, event.id)
        about = _event_about(event)
        if about is not None:
            told.append((event, about))
    _nudge_events(run, told)
    if row is None:
        session.add(ChatSetting(name=CURSOR, value=str(settled), updated_at=now))
    elif settled > int(row.value):
        row.value, row.updated_at = str(settled), now


def _nudge_events(run: _Run, told: list[tuple[Event, About]]) -> None:
    """Each event's nudge, its candidates, positions, managers and open waits read once for all."""
    if not told:
        return
    ids = sorted({event.candidate_id for event, _ in told})
    candidates = {  # an erased candidate: nothing of theirs is told
        c.id: c
        for c in run.session.scalars(
            select(Candidate)
            .where(Candidate.id.in_(ids), Candidate.erased_at.is_(None))
            .options(selectinload(Candidate.position))
        )
    }
    managers = _managers(run.session, (c.position.manager_id for c in candidates.values()))
    waits = open_waits_of(run.session, set(candidates))
    for event, about in told:
        candidate = candidates.get(event.candidate_id)
        found = managers.get(candidate.position.manager_id) if candidate is not None else None
        if found is None:
            continue
        user, pref = found
        wait = waits.get(candidate.id)
        nudge = nudge_of(about, candidate, candidate.position, wait, user, run.now, run.settings, run.config)
        run.nudge(
            user, pref, nudge, f"event:{event.id}", event_id=event.id, wait_id=wait.id if wait else None
        )


def run_nudges(session: Session, now: dt.datetime, settings: OrgSettings, config: ChatConfig) -> NudgeReport:
    """Everything ``feedback-sla chat nudge`` does: waits, the timeline, the digests."""
    run = _Run(session, now, settings, config)
    queue_wait_nudges(run)
    queue_event_nudges(run)
    from feedback_sla.chat import digests

    run.report.digests = digests.queue_digests(run)
    return run.report
