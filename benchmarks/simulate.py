"""The product's promise as a number: a month of an organisation replayed on a controlled clock.

Twenty hiring managers (in Berlin, London, New York and Chicago), two positions each, receive a few
applications a business day each. Everything goes through the app's own doors, on a clock moved
with ``time_machine``:

  * applications arrive in business hours (``waits.service.add_candidate``);
  * cron runs ``feedback-sla digest send`` and, with autopilot on, ``feedback-sla autopilot run``
    every hour of business time (every 4 hours at night and at weekends), and
    ``feedback-sla worker --once`` five minutes later, past the undo window;
  * at 09:00 local time each manager answers a set share of the candidates their digest lists
    (``digest.service.owed_to``, most urgent first) through ``waits.answers.queue_email``: a
    rejection, a next-step invitation, an offer or a "still deciding" update, in a mix that
    depends on what the candidate waits for;
  * an invited candidate's interview is held 2 to 5 business days later
    (``waits.service.interview_held``: a decision is owed);
  * a candidate who has heard nothing for 10 business days writes to ask for news, and again
    after 15 (``waits.service.followed_up``).

Then, from the database: every wait that is closed, or whose deadline has passed by the end of the
run, is judged (the rest are counted as still within their deadline). It is answered by its
deadline when a candidate-facing event (an email really sent, a logged contact, an interview)
closed it at or before its ``due_at`` as it stood then (the date last promised to the candidate,
else the policy's). An update counts as that message once it is sent: by the deadline, it answers
the wait; the wait it opens, due on the promised date, is judged on its own (keeping the promise
takes another message).
Silence: business days (``clock.business_days_waited``) from a judged wait's opening to the first
message the candidate got, or to the end of the run while still waiting. Printed per run, with
autopilot off and on, at each answer share: the share of waits answered by their deadline, the
median and longest silence, the candidates who ever waited more than 10 business days, and the
run's size and wall time.

The candidates' verdict (issue 27's survey, simulated): every candidate whose process ended by the
end of the run (rejected, offered, hired or withdrawn) answers "How likely are you to recommend
applying here?". Assumptions, from Trustcruit's 4.9 million candidate answers: candidate NPS is
-21.9 among candidates rejected promptly and -44.7 among those rejected with a delay. A candidate
counts as answered promptly when their longest silence (business days without a message, as above)
stayed within the application policy (5 business days), else as delayed; each answers with the NPS
of their group as expectation (no other effect is modelled: not the outcome, not the manager, not the
number of updates), so the run prints the expected candidate NPS, the two groups' weighted mean.
Time to a decision: business days (position's zone, organisation's calendar) from the application
to the decision, median over the decided candidates. Both print beside the share answered by the
deadline, with autopilot off and on.

Target: with autopilot on, every judged wait is answered by its deadline, at every answer share.
Exits non-zero, naming the run, when it is missed (or when autopilot cannot run).

    .venv-test/bin/python benchmarks/simulate.py [--managers 20] [--days 22] [--shares 30,60,90]
        [--applications 3] [--seed 14] [--autopilot off|on|both] [--max-per-wait N]
        [--databases sqlite postgresql] [--database-url URL] [--json FILE]
"""

from __future__ import annotations

import argparse
import datetime as dt
import heapq
import importlib
import json
import logging
import random
import statistics
import tempfile
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import sqlalchemy as sa
import time_machine
from werkzeug.security import generate_password_hash

from benchmarks.common import (
    FIRST_NAMES,
    add_database_options,
    database_kinds,
    each_database,
    fresh_database,
    migrate,
    surnames,
)
from feedback_sla import create_app
from feedback_sla.accounts.models import Role, User
from feedback_sla.candidates.models import CANDIDATE_FACING, Candidate, Event, EventKind, Status
from feedback_sla.cli import COMMANDS, cli
from feedback_sla.database import db
from feedback_sla.digest import service as digest_service
from feedback_sla.emails.checks import EmailRequest
from feedback_sla.emails.config import EmailConfig
from feedback_sla.emails.models import EmailKind, OutboxMessage
from feedback_sla.errors import DomainError
from feedback_sla.positions import service as positions
from feedback_sla.positions.models import Position
from feedback_sla.settings import service as settings_service
from feedback_sla.waits import answers, clock
from feedback_sla.waits import service as waits
from feedback_sla.waits.clock import OrgSettings
from feedback_sla.waits.models import Wait, WaitReason

ZONES = ("Europe/Berlin", "Europe/London", "America/New_York", "America/Chicago")
#: A Monday. The United States move their clocks on 8 March 2026, Europe on 29 March: the month
#: crosses both daylight-saving changes.
START = dt.date(2026, 3, 2)
BASE_URL = "https://feedback.example.com"
POSITIONS_PER_MANAGER = 2
#: Local hours at which applications arrive and interviews are held.
OPEN_HOURS = range(8, 18)
INTERVIEW_HOURS = range(10, 17)
ANSWER_HOUR = 9  # managers read their digest (sent at 08:00) and answer
FOLLOW_UP_HOUR = 11  # candidates who have heard nothing write then
#: A candidate who heard nothing for this many business days asks for news (once at each).
FOLLOW_UP_AFTER = (10, 15)
#: Business days between the invitation to a next step and the interview.
INTERVIEW_AFTER = (2, 5)
#: When cron runs the worker after the hour's other commands: past the default 60 s undo window.
WORKER_DELAY = dt.timedelta(minutes=5)
#: Local hours, on business days, in which cron runs every hour; otherwise every NIGHT_EVERY hours.
BUSY_HOURS = range(7, 20)
NIGHT_EVERY = 4
OVER = 10  # business days of silence the report counts candidates beyond
#: Trustcruit: candidate NPS with a prompt and with a delayed rejection.
NPS_PROMPT, NPS_DELAYED = -21.9, -44.7
#: Longest silence (business days) a prompt answer may have had: the application policy.
PROMPT_WITHIN = 5
#: What a manager answers, by what the candidate waits for (weights in percent).
MIXES: dict[WaitReason, tuple[tuple[EmailKind, int], ...]] = {
    WaitReason.APPLICATION: ((EmailKind.REJECTION, 45), (EmailKind.NEXT_STEP, 35), (EmailKind.UPDATE, 20)),
    WaitReason.DECISION: (
        (EmailKind.REJECTION, 40),
        (EmailKind.OFFER, 15),
        (EmailKind.NEXT_STEP, 20),
        (EmailKind.UPDATE, 25),
    ),
    WaitReason.FOLLOW_UP: ((EmailKind.UPDATE, 50), (EmailKind.REJECTION, 30), (EmailKind.NEXT_STEP, 20)),
}
FEEDBACK = "Thank you for your time. We went with a candidate whose experience matched the role more closely."


@dataclass(frozen=True)
class Plan:
    managers: int = 20
    days: int = 22  # business days of applications and answers
    share: float = 0.6  # of the candidates a digest lists, the share the manager answers
    autopilot: bool = False
    seed: int = 14
    applications: float = 3.0  # per manager and business day, on average
    start: dt.date = START
    max_per_wait: int | None = None  # autopilot's updates per wait; None: the organisation's default

    @property
    def label(self) -> str:
        return f"autopilot {'on' if self.autopilot else 'off'}, managers answer {self.share:.0%}"


@dataclass
class Result:
    plan: Plan
    managers: int = 0
    candidates: int = 0
    waits: int = 0
    judged: int = 0  # closed, or open past the deadline by the end of the run
    on_time: int = 0
    pending: int = 0  # open with the deadline still ahead at the end
    silences: list[int] = field(default_factory=list)
    waited_over: int = 0  # candidates who met a silence of more than OVER business days
    by_autopilot: int = 0  # waits closed by an email autopilot queued
    missed_capped: int = 0  # missed waits autopilot had written to as often as it may
    follow_ups: int = 0
    sent: Counter = field(default_factory=Counter)  # candidate emails sent, by kind
    refused: Counter = field(default_factory=Counter)  # answers the app refused, by reason
    commands: int = 0
    wall: float = 0.0
    surveyed: int = 0  # candidates whose process ended: each answers the simulated survey
    prompt: int = 0  # of them, those whose longest silence stayed within PROMPT_WITHIN
    decision_days: list[int] = field(default_factory=list)  # application to decision, business days

    @property
    def expected_nps(self) -> float | None:
        """Candidate NPS expected from the decided candidates' silences (Trustcruit's figures)."""
        if not self.surveyed:
            return None
        delayed = self.surveyed - self.prompt
        return (self.prompt * NPS_PROMPT + delayed * NPS_DELAYED) / self.surveyed

    @property
    def decision_median(self) -> float | None:
        return statistics.median(self.decision_days) if self.decision_days else None

    @property
    def missed(self) -> int:
        return self.judged - self.on_time


def autopilot_problem() -> str | None:
    """Why ``feedback-sla autopilot run`` cannot run here, or None when it can."""
    if "autopilot" not in COMMANDS:
        return (
            "the `feedback-sla autopilot` command is not registered (feedback_sla/cli/__init__.py COMMANDS)"
        )
    module, _, attribute = COMMANDS["autopilot"].partition(":")
    try:
        group = getattr(importlib.import_module(module), attribute)
    except (ImportError, AttributeError) as exc:
        return f"`feedback-sla autopilot` does not load: {exc}"
    if "run" not in getattr(group, "commands", {}):
        return "`feedback-sla autopilot` has no `run` command"
    return None


# --- the organisation ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Manager:
    id: int
    time_zone: str
    position_ids: tuple[int, ...]


def build(app, plan: Plan) -> list[Manager]:
    """One admin and the managers with their positions (autopilot on them as the plan says)."""
    password_hash = generate_password_hash("simulation passphrase")  # one slow hash for all
    managers = []
    with app.app_context():
        session = db.session
        if plan.max_per_wait is not None:
            settings_service.store(session, "autopilot.max_per_wait", str(plan.max_per_wait))
        session.add(_user("admin@example.com", "Ada Admin", Role.ADMIN, "Europe/Berlin", password_hash))
        for i in range(plan.managers):
            zone = ZONES[i % len(ZONES)]
            user = _user(f"manager{i:02d}@example.com", f"Manager {i:02d}", Role.MANAGER, zone, password_hash)
            session.add(user)
            session.flush()
            made = []
            for j in range(POSITIONS_PER_MANAGER):
                position = positions.create_position(
                    session, f"{('Backend', 'Design')[j]} role {i:02d}", user
                )
                position.autopilot = plan.autopilot
                made.append(position)
            session.flush()
            managers.append(Manager(user.id, zone, tuple(p.id for p in made)))
        session.commit()
    return managers


def _user(email, name, role, time_zone, password_hash) -> User:
    return User(
        email=email,
        name=name,
        role=role,
        time_zone=time_zone,
        digest_hour=8,
        password_hash=password_hash,
        active=True,
        session_version=1,
    )


# --- the clock -----------------------------------------------------------------------------------


def business_dates(plan: Plan, calendar: str) -> list[dt.date]:
    days, day = [], plan.start
    while len(days) < plan.days:
        if clock.is_business_day(day, calendar):
            days.append(day)
        day += dt.timedelta(days=1)
    return days


def cron_times(first: dt.date, last: dt.date, calendar: str) -> list[dt.datetime]:
    """The hours (UTC) at which cron's commands run from ``first`` to the end of ``last``: every
    hour while any of ``ZONES`` is in business time, every NIGHT_EVERY hours otherwise."""
    at = dt.datetime.combine(first, dt.time(), tzinfo=dt.UTC)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC) + dt.timedelta(hours=8)
    times = []
    while at < end:
        if at.hour % NIGHT_EVERY == 0 or any(_busy(at.astimezone(ZoneInfo(z)), calendar) for z in ZONES):
            times.append(at)
        at += dt.timedelta(hours=1)
    return times


def _busy(local: dt.datetime, calendar: str) -> bool:
    return local.hour in BUSY_HOURS and clock.is_business_day(local.date(), calendar)


# --- the month -----------------------------------------------------------------------------------


class Simulation:
    """One replay: the organisation, its random draws and what is scheduled (interviews)."""

    def __init__(self, app, plan: Plan, managers: list[Manager]) -> None:
        self.app, self.plan, self.managers = app, plan, managers
        # One stream of draws per concern: the same seed brings the same applicants, whatever
        # the managers and autopilot do with them.
        self.arrivals = random.Random(f"{plan.seed}:arrivals")
        self.choices = random.Random(f"{plan.seed}:answers")
        self.runner = app.test_cli_runner()
        self.interviews: list[tuple[dt.datetime, int, int]] = []  # (when, candidate id, manager id)
        self.applied = 0
        self.names = [f"{first} {last}" for first in FIRST_NAMES for last in surnames()[:50]]
        self.refused: Counter = Counter()
        self.commands = 0
        with app.app_context():
            self.settings = settings_service.load(db.session)
        self.last_day = business_dates(plan, self.settings.holiday_calendar)[-1]

    def run(self) -> dt.datetime:
        """Replay the month; returns the moment it ended."""
        times = cron_times(self.plan.start, self.last_day, self.settings.holiday_calendar)
        with time_machine.travel(times[0], tick=False) as traveller:
            for at in times:
                traveller.move_to(at)
                self.command("digest", "send")
                with self.app.app_context():
                    self.people(at)
                if self.plan.autopilot:
                    self.command("autopilot", "run")
                traveller.move_to(at + WORKER_DELAY)
                self.command("worker", "--once")
        return times[-1] + WORKER_DELAY

    def command(self, *args: str) -> None:
        """One cron run of ``feedback-sla ARGS``; a failing command stops the simulation."""
        with self.app.app_context():  # its own session, as a process of its own would have
            result = self.runner.invoke(cli, list(args))
        self.commands += 1
        if result.exit_code != 0:
            failure = "".join(traceback.format_exception(result.exception)) if result.exception else ""
            raise RuntimeError(f"feedback-sla {' '.join(args)} failed: {result.output}{failure}")

    def people(self, now: dt.datetime) -> None:
        """What candidates and managers do in this hour, in the hour's local time of each manager."""
        session = db.session
        self.hold_interviews(session, now)
        config = settings_service.email_config(session, EmailConfig.from_app(self.app))
        for manager in self.managers:
            local = now.astimezone(ZoneInfo(manager.time_zone))
            if local.date() > self.last_day or not clock.is_business_day(
                local.date(), self.settings.holiday_calendar
            ):
                continue
            if local.hour in OPEN_HOURS:
                self.applications(session, manager, now)
            if local.hour == FOLLOW_UP_HOUR:
                self.follow_ups(session, manager, now)
            if local.hour == ANSWER_HOUR:
                self.answer(session, manager, now, config)
        session.commit()

    def applications(self, session, manager: Manager, now: dt.datetime) -> None:
        chance = self.plan.applications / (len(OPEN_HOURS) * len(manager.position_ids))
        for position_id in manager.position_ids:
            if self.arrivals.random() >= chance:
                continue
            self.applied += 1
            name = self.arrivals.choice(self.names)
            email = f"{name.split()[0].lower()}.{self.applied}@example.org".encode("ascii", "ignore").decode()
            position = session.get(Position, position_id)
            waits.add_candidate(session, position, name, email, now, self.settings, now=now)
        session.commit()

    def hold_interviews(self, session, now: dt.datetime) -> None:
        while self.interviews and self.interviews[0][0] <= now:
            _, candidate_id, manager_id = heapq.heappop(self.interviews)
            candidate = session.get(Candidate, candidate_id)
            if candidate.status == Status.ACTIVE:
                waits.interview_held(session, candidate, now, self.settings, session.get(User, manager_id))
        session.commit()

    def follow_ups(self, session, manager: Manager, now: dt.datetime) -> None:
        """Each of the manager's active candidates who has heard nothing for 10 (then 15) business
        days writes to ask for news."""
        for candidate_id, last_heard, asked in silent_candidates(session, manager.position_ids):
            silence = clock.business_days_waited(last_heard, now, manager.time_zone, self.settings)
            if asked < len(FOLLOW_UP_AFTER) and silence >= FOLLOW_UP_AFTER[asked]:
                candidate = session.get(Candidate, candidate_id)
                waits.followed_up(
                    session,
                    candidate,
                    now,
                    self.settings,
                    channel="email",
                    body="Any news on my application?",
                )
        session.commit()

    def answer(self, session, manager: Manager, now: dt.datetime, config: EmailConfig) -> None:
        """The manager answers a share of what their digest lists, most urgent first, one click each."""
        owed = digest_service.owed_to(session, now, self.settings, manager.id, BASE_URL)
        share = self.plan.share * len(owed.shown)
        wanted = int(share + self.choices.random())  # rounded up with the chance of its fraction
        actor = session.get(User, manager.id)
        for item in owed.shown[:wanted]:
            row = item.row
            kind = self.choices.choices(*zip(*MIXES[row.reason], strict=True))[0]
            candidate = session.get(Candidate, row.candidate_id)
            request = EmailRequest(
                candidate,
                kind,
                f"simulation:{row.wait_id}:{kind.value}",
                now,
                actor,
                feedback=FEEDBACK if kind == EmailKind.REJECTION and self.choices.random() < 0.3 else None,
                default_promise=True,
            )
            try:
                answers.queue_email(session, request, config, self.settings)
            except DomainError as exc:
                session.rollback()
                self.refused[str(exc).split(":")[0]] += 1
                continue
            session.commit()
            if kind == EmailKind.NEXT_STEP:
                self.schedule_interview(now, row.candidate_id, manager)

    def schedule_interview(self, now: dt.datetime, candidate_id: int, manager: Manager) -> None:
        zone = ZoneInfo(manager.time_zone)
        day = clock.add_business_days(
            now.astimezone(zone).date(),
            self.choices.randint(*INTERVIEW_AFTER),
            self.settings.holiday_calendar,
        )
        at = dt.datetime.combine(day, dt.time(self.choices.choice(INTERVIEW_HOURS)), tzinfo=zone)
        heapq.heappush(self.interviews, (at.astimezone(dt.UTC), candidate_id, manager.id))


def silent_candidates(session, position_ids) -> list[tuple[int, dt.datetime, int]]:
    """Active candidates of these positions: when they last heard from us (or applied), and how
    many times they have asked for news since."""
    heard = (
        sa.select(Event.candidate_id, sa.func.max(Event.occurred_at).label("at"))
        .join(Candidate, Candidate.id == Event.candidate_id)
        .where(
            Candidate.position_id.in_(position_ids),
            Candidate.status == Status.ACTIVE,
            Event.kind.in_([*CANDIDATE_FACING, EventKind.CREATED]),
        )
        .group_by(Event.candidate_id)
        .subquery()
    )
    asked = (
        sa.select(sa.func.count(Event.id))
        .where(
            Event.candidate_id == heard.c.candidate_id,
            Event.kind == EventKind.FOLLOWED_UP,
            Event.occurred_at > heard.c.at,
        )
        .scalar_subquery()
    )
    rows = session.execute(sa.select(heard.c.candidate_id, heard.c.at, asked).order_by(heard.c.candidate_id))
    return [tuple(row) for row in rows]


# --- the figures -----------------------------------------------------------------------------------


def measure(app, plan: Plan, end: dt.datetime) -> Result:
    """The run's figures, read from the database (see the module's docstring for the rules)."""
    result = Result(plan)
    with app.app_context():
        session = db.session
        settings = settings_service.load(session)
        cap = int(settings_service.value_of(session, "autopilot.max_per_wait"))
        by_autopilot = set(
            session.scalars(sa.select(OutboxMessage.id).where(OutboxMessage.autopilot.is_(True)))
        )
        rows = session.execute(
            sa.select(
                Wait.candidate_id,
                Wait.opened_at,
                Wait.due_at,
                Wait.closed_at,
                Wait.autopilot_updates,
                Event.kind,
                Event.data,
                Position.time_zone,
            )
            .join(Candidate, Candidate.id == Wait.candidate_id)
            .join(Position, Position.id == Candidate.position_id)
            .outerjoin(Event, Event.id == Wait.closed_by_event_id)
            .order_by(Wait.id)
        ).all()
        longest: dict[int, int] = {}
        for row in rows:
            verdict = _judge(result, row, end, settings, by_autopilot, longest)
            if verdict is False and plan.autopilot and row.autopilot_updates >= cap:
                result.missed_capped += 1
        result.waits = len(rows)
        result.waited_over = sum(1 for days in longest.values() if days > OVER)
        _verdict(session, result, settings, longest)
        result.managers = session.scalar(
            sa.select(sa.func.count()).select_from(User).where(User.role == Role.MANAGER)
        )
        result.candidates = session.scalar(sa.select(sa.func.count()).select_from(Candidate))
        result.follow_ups = session.scalar(
            sa.select(sa.func.count()).select_from(Event).where(Event.kind == EventKind.FOLLOWED_UP)
        )
        result.sent = Counter(
            dict(
                session.execute(
                    sa.select(OutboxMessage.kind, sa.func.count())
                    .where(OutboxMessage.sent_at.is_not(None), OutboxMessage.candidate_id.is_not(None))
                    .group_by(OutboxMessage.kind)
                ).all()
            )
        )
    return result


def _verdict(session, result: Result, settings: OrgSettings, longest: dict[int, int]) -> None:
    """The decided candidates: their simulated survey answers and their time to a decision."""
    applied = (
        sa.select(sa.func.min(Wait.opened_at)).where(Wait.candidate_id == Candidate.id).scalar_subquery()
    )
    rows = session.execute(
        sa.select(Candidate.id, applied, Candidate.decided_at, Position.time_zone)
        .join(Position, Position.id == Candidate.position_id)
        .where(Candidate.status != Status.ACTIVE, Candidate.decided_at.is_not(None))
    ).all()
    for candidate_id, applied_at, decided_at, zone in rows:
        result.surveyed += 1
        result.prompt += longest.get(candidate_id, 0) <= PROMPT_WITHIN
        tz = ZoneInfo(zone)
        first = applied_at.replace(tzinfo=applied_at.tzinfo or dt.UTC).astimezone(tz).date()
        last = decided_at.replace(tzinfo=decided_at.tzinfo or dt.UTC).astimezone(tz).date()
        result.decision_days.append(clock.business_days_between(first, last, settings.holiday_calendar))


def _judge(
    result: Result, row, end: dt.datetime, settings: OrgSettings, by_autopilot, longest
) -> bool | None:
    """Count one wait; True answered by its deadline, False missed, None not judged."""
    answered = row.closed_at is not None and row.kind in CANDIDATE_FACING
    silent_until = row.closed_at if row.closed_at is not None else end
    silence = clock.business_days_waited(row.opened_at, silent_until, row.time_zone, settings)
    longest[row.candidate_id] = max(silence, longest.get(row.candidate_id, 0))
    if row.closed_at is None and row.due_at > end:
        result.pending += 1
        return None
    if row.closed_at is not None and not answered:
        return None  # closed without a message (a withdrawal): nobody owes an answer any more
    result.judged += 1
    result.silences.append(silence)
    if answered and (row.data or {}).get("outbox_id") in by_autopilot:
        result.by_autopilot += 1
    on_time = answered and row.closed_at <= row.due_at
    result.on_time += on_time
    return on_time


def simulate(app, plan: Plan) -> Result:
    """Build the organisation in the app's (migrated, empty) database, replay the month, measure."""
    started = time.perf_counter()
    managers = build(app, plan)
    simulation = Simulation(app, plan, managers)
    end = simulation.run()
    result = measure(app, plan, end)
    result.refused = simulation.refused
    result.commands = simulation.commands
    result.wall = time.perf_counter() - started
    return result


# --- the script ------------------------------------------------------------------------------------


HEADER = (
    f"{'autopilot':>9} {'answer':>6} {'cands':>6} {'waits':>6} {'judged':>6} {'by deadline':>12} "
    f"{'silence median':>14} {'longest':>7} {f'>{OVER} bd':>6} {'by autopilot':>12} {'follow-ups':>10} "
    f"{'wall s':>7} {'cNPS':>6} {'decision median':>15}"
)


def row_text(result: Result) -> str:
    plan = result.plan
    share = result.on_time / result.judged if result.judged else 1.0
    median = statistics.median(result.silences) if result.silences else 0
    return (
        f"{'on' if plan.autopilot else 'off':>9} {plan.share:>6.0%} "
        f"{result.candidates:>6,} {result.waits:>6,} "
        f"{result.judged:>6,} {share:>11.1%} {median:>14.1f} {max(result.silences, default=0):>7} "
        f"{result.waited_over:>6} {result.by_autopilot:>12,} {result.follow_ups:>10,} {result.wall:>7.1f}"
        f" {_maybe(result.expected_nps):>6} {_maybe(result.decision_median):>15}"
    )


def _maybe(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"


def detail_text(result: Result) -> str:
    sent = ", ".join(f"{count:,} {kind.value}" for kind, count in sorted(result.sent.items()))
    refused = f"; refused: {dict(result.refused)}" if result.refused else ""
    if result.plan.autopilot and result.missed:
        refused += (
            f"; missed {result.missed:,}, {result.missed_capped:,} of them after autopilot's last "
            "allowed update (autopilot.max_per_wait), left to their manager"
        )
    return (
        f"{'':>17} {result.managers} managers; emails sent: {sent or 'none'}; {result.pending:,} waits "
        f"still within their deadline at the end; {result.commands:,} cron runs{refused}; "
        f"survey: {result.surveyed:,} decided candidates, {result.prompt:,} answered within "
        f"{PROMPT_WITHIN} business days (expected candidate NPS {_maybe(result.expected_nps)}; "
        f"median {_maybe(result.decision_median)} business days to a decision)"
    )


def parse_shares(text: str) -> list[float]:
    shares = []
    for part in text.split(","):
        value = float(part.strip().rstrip("%"))
        value = value / 100 if value > 1 else value
        if not 0 <= value <= 1:
            raise argparse.ArgumentTypeError(f"--shares: {part!r} is not a share between 0 and 100%")
        shares.append(value)
    return shares


def app_settings(database_uri: str, mail_dir: str) -> dict:
    return {
        "SQLALCHEMY_DATABASE_URI": database_uri,
        "SECRET_KEY": "simulation-only",
        "COMMAND_LINE": True,
        "BASE_URL": BASE_URL,
        "MAIL_BACKEND": "file",
        "OUTBOX_MAIL_DIR": mail_dir,
    }


def figures(result: Result) -> dict:
    """A run's figures as JSON (``--json``): what ``tests/test_simulate.py`` checks."""
    return {
        "autopilot": result.plan.autopilot,
        "share": result.plan.share,
        "candidates": result.candidates,
        "judged": result.judged,
        "missed": result.missed,
        "by_autopilot": result.by_autopilot,
        "longest_silence": max(result.silences, default=0),
        "refused": dict(result.refused),
        "share_by_deadline": result.on_time / result.judged if result.judged else None,
        "surveyed": result.surveyed,
        "prompt": result.prompt,
        "expected_nps": result.expected_nps,
        "decision_median": result.decision_median,
    }


def one_database(
    kind: str, server: str | None, plans: list[Plan], runs: list[dict] | None = None
) -> list[str]:
    missed = []
    print(HEADER, flush=True)
    for plan in plans:
        name = f"simulate_{'on' if plan.autopilot else 'off'}_{round(plan.share * 100)}"
        with fresh_database(kind, name, server) as database, tempfile.TemporaryDirectory() as mail:
            app = create_app(app_settings(database.uri, mail))
            migrate(app)
            result = simulate(app, plan)
            with app.app_context():
                db.engine.dispose()
        print(row_text(result), flush=True)
        print(detail_text(result), flush=True)
        if runs is not None:
            runs.append({"database": kind, **figures(result)})
        if plan.autopilot and result.missed:
            missed.append(
                f"{kind}, {plan.label}: {result.missed} of {result.judged} waits passed their deadline"
            )
    return missed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--managers", type=int, default=20)
    parser.add_argument("--days", type=int, default=22, help="business days replayed")
    parser.add_argument(
        "--shares", type=parse_shares, default="30,60,90", help="answer shares, e.g. 30,60,90"
    )
    parser.add_argument("--applications", type=float, default=3.0, help="per manager and business day")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--autopilot", choices=("off", "on", "both"), default="both")
    parser.add_argument(
        "--max-per-wait", type=int, help="autopilot updates per wait (default: the setting's default, 2)"
    )
    parser.add_argument("--json", metavar="FILE", help="also write each run's figures to FILE")
    add_database_options(parser)
    args = parser.parse_args()
    server, kinds = database_kinds(parser, args)
    logging.basicConfig(level=logging.WARNING)  # the worker command adds no handler of its own then
    problem = autopilot_problem() if args.autopilot != "off" else None
    modes = [mode for mode in (False, True) if args.autopilot in ("both", "on" if mode else "off")]
    if problem:
        print(f"autopilot on: not measured, {problem}")
        modes = [mode for mode in modes if not mode]
    plans = [
        Plan(
            args.managers, args.days, share, autopilot, args.seed, args.applications, START, args.max_per_wait
        )
        for autopilot in modes
        for share in args.shares
    ]

    def note() -> str:
        cap = args.max_per_wait or "2 (the default)"
        return (
            f"{args.managers} managers, {args.days} business days from {START:%A %d %B %Y}, "
            f"autopilot.max_per_wait {cap}"
        )

    runs: list[dict] = []
    code = each_database(kinds, lambda kind: one_database(kind, server, plans, runs), note)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(runs, out, indent=2)
    if problem:
        print(f"MISSED autopilot on: not measured, {problem}")
        return 1
    return code


if __name__ == "__main__":
    raise SystemExit(main())
