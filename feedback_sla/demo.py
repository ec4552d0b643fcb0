"""A demo organisation: managers, positions and candidates in every state relative to today."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from feedback_sla.accounts.models import Role, User
from feedback_sla.accounts.service import create_user, find_by_email
from feedback_sla.candidates.models import PIPELINE, ContactChannel
from feedback_sla.database import db
from feedback_sla.errors import DomainError
from feedback_sla.positions.service import create_position
from feedback_sla.settings import service as settings_service
from feedback_sla.settings.models import Setting
from feedback_sla.waits import service

#: Published with the demo: these accounts exist only in a demo database.
DEMO_PASSPHRASE = "feedback-demo"  # noqa: S105
ADMIN = ("admin@example.com", "Avery Admin", "UTC")
MANAGERS = (
    ("maria@example.com", "Maria Lopez", "America/New_York"),
    ("jonas@example.com", "Jonas Becker", "Europe/Berlin"),
    ("aiko@example.com", "Aiko Tanaka", "Asia/Tokyo"),
)
POSITIONS = (
    (0, "Backend Engineer", None),
    (0, "Product Designer", None),
    (0, "Data Analyst", "America/Chicago"),
    (1, "Site Reliability Engineer", None),
    (1, "Engineering Manager", None),
    (1, "Technical Writer", "Europe/London"),
    (2, "Mobile Developer", None),
    (2, "Customer Success Lead", None),
)
#: The position whose candidates autopilot writes to before their deadlines pass.
AUTOPILOT_POSITION = "Site Reliability Engineer"
FIRST = (
    "Ana",
    "Ben",
    "Chloé",
    "Dmitri",
    "Elif",
    "Farah",
    "Gustavo",
    "Hana",
    "Ivan",
    "Jade",
    "Kofi",
    "Lena",
    "Mateo",
    "Nadia",
    "Omar",
    "Priya",
    "Quentin",
    "Rosa",
    "Sven",
    "Tariq",
)
LAST = (
    "Okafor",
    "Schmidt",
    "Nakamura",
    "Silva",
    "O'Brien",
    "Kowalski",
    "Haddad",
    "Larsen",
    "Moreau",
    "Chen",
    "Novak",
    "Patel",
)


@dataclass(frozen=True)
class DemoLogin:
    email: str
    name: str
    role: str


def demo_logins() -> list[DemoLogin]:
    return [DemoLogin(ADMIN[0], ADMIN[1], "admin")] + [
        DemoLogin(email, name, "manager") for email, name, _ in MANAGERS
    ]


#: The demo's public holidays: its managers' deadlines skip them as a real organisation's would.
HOLIDAY_CALENDAR = "US"


class NotADemoDatabase(DomainError):
    """The database holds accounts of a real organisation: the demo must not touch it."""


def check_demo_database(session: Session) -> None:
    """Refuse a database whose users are not the demo's own (a production one, say)."""
    ours = {login.email for login in demo_logins()}
    other = session.scalar(select(User.email).where(User.email.not_in(ours)).order_by(User.id).limit(1))
    if other is not None:
        raise NotADemoDatabase(
            f"this database already holds users other than the demo's (such as {other}); the demo "
            "adds published passwords, so it only runs on its own database: point "
            "FEEDBACK_SLA_DATABASE_URL or FEEDBACK_SLA_INSTANCE_PATH at a fresh one"
        )


#: The address the demo serves on, kept in the settings table beside (not among) the organisation's
#: settings: no page or command lists it, and only a demo database holds it.
ADDRESS_KEY = "demo.address"


def address(host: str, port: int) -> str:
    """The demo's address for links: a wildcard host (every interface) is reached on loopback."""
    host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)  # noqa: S104
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def record_address(session: Session, url: str) -> None:
    """Keep the address the demo serves on, for the links of ``digest send`` (the caller commits)."""
    check_demo_database(session)
    session.merge(Setting(key=ADDRESS_KEY, value=url))


def recorded_address(session: Session) -> str | None:
    """The address the demo last recorded in this database; None in any other database."""
    row = session.get(Setting, ADDRESS_KEY)
    return row.value if row is not None else None


def reset(session: Session) -> None:
    """Delete the demo's data, every table's rows, so ``seed`` starts over (the caller commits)."""
    check_demo_database(session)
    for table in reversed(db.metadata.sorted_tables):
        session.execute(table.delete())


def seed(session: Session, now: dt.datetime) -> bool:
    """Seed the demo organisation unless it is there already; True if anything was added.

    NotADemoDatabase when the database holds other users.
    """
    check_demo_database(session)
    if find_by_email(session, ADMIN[0]) is not None:
        return False
    settings_service.update(session, {"holiday_calendar": HOLIDAY_CALENDAR})
    settings = settings_service.load(session)
    create_user(session, ADMIN[0], ADMIN[1], Role.ADMIN, ADMIN[2], DEMO_PASSPHRASE)
    managers = [create_user(session, e, n, Role.MANAGER, tz, DEMO_PASSPHRASE) for e, n, tz in MANAGERS]
    positions = [
        create_position(session, title, managers[m], tz, autopilot=title == AUTOPILOT_POSITION)
        for m, title, tz in POSITIONS
    ]
    for i in range(60):
        position = positions[i % len(positions)]
        name = f"{FIRST[i % len(FIRST)]} {LAST[(i * 7) % len(LAST)]}"
        email = f"{name.lower().replace(' ', '.').replace(chr(39), '')}{i}@example.com"
        _seed_candidate(session, i, position, name, email, now, settings)
    return True


def _seed_candidate(session, i, position, name, email, now, settings) -> None:
    """Spread candidates over every state: the index picks the story."""
    kind = i % 6
    days_ago = (i * 5) % 19  # 0..18 calendar days
    applied_at = now - dt.timedelta(days=days_ago + (4 if kind in (2, 3) else 0), hours=i % 7)
    stage = "applied" if kind in (0, 1) else PIPELINE[2 + i % 2]
    candidate = service.add_candidate(session, position, name, email, applied_at, settings, stage="applied")
    if stage != "applied":
        service.move_stage(session, candidate, stage, applied_at + dt.timedelta(days=1), position.manager)
    if kind in (2, 3):  # interviewed, decision owed
        service.interview_held(
            session,
            candidate,
            now - dt.timedelta(days=days_ago % 6, hours=2),
            settings,
            position.manager,
        )
    if kind == 3 and i % 4 == 3:  # candidate asked twice: escalated
        for hours in (30, 6):
            service.followed_up(session, candidate, now - dt.timedelta(hours=hours), settings)
    if kind == 4:  # already answered by phone, then the candidate asked again
        service.log_contact(
            session,
            candidate,
            ContactChannel.PHONE,
            applied_at + dt.timedelta(days=1),
            position.manager,
        )
        service.followed_up(session, candidate, now - dt.timedelta(days=days_ago % 3, hours=1), settings)
    if kind == 5 and days_ago > 3:  # a promise made on the phone
        service.add_note(
            session,
            candidate,
            "Strong portfolio; compare with the next two.",
            applied_at + dt.timedelta(hours=3),
            position.manager,
        )
        service.set_promise(
            session,
            candidate,
            (now + dt.timedelta(days=2)).date(),
            applied_at + dt.timedelta(days=1),
            settings,
            position.manager,
        )
