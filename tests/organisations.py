"""An organisation with known response times, shared by the report and the metrics page tests."""

from __future__ import annotations

from feedback_sla.models import ContactChannel
from feedback_sla.settings import service as settings_service
from feedback_sla.waits import service

from .factories import PositionFactory, UserFactory
from .helpers import berlin, ny


def answering_org(session) -> dict:
    """Maria answers in 1, 2, 2, 4 and 7 business days and has two waits open: Fay, overdue since
    Monday 9 November, and Gil, on track. Jonas answers in 0 and (in October) 5 business days;
    Ivan's wait is overdue and escalated by two follow-ups.

    Applications get 5 business days; US holidays (Veterans Day, Wednesday 11 November). Returns
    the settings, the managers and the positions; the caller commits.
    """
    settings_service.store(session, "holiday_calendar", "US")
    settings = settings_service.load(session)
    maria = UserFactory(email="maria@example.com", name="Maria Lopez", time_zone="America/New_York")
    jonas = UserFactory(email="jonas@example.com", name="Jonas Berg", time_zone="Europe/Berlin")
    backend = PositionFactory(title="Backend Engineer", manager=maria, time_zone="America/New_York")
    designer = PositionFactory(title="Product Designer", manager=maria, time_zone="America/New_York")
    analyst = PositionFactory(title="Data Analyst", manager=jonas, time_zone="Europe/Berlin")

    def applicant(position, name, applied_at):
        email = f"{name.lower()}@example.com"
        return service.add_candidate(session, position, name, email, applied_at, settings)

    monday = ny(2026, 11, 2, 9)  # due Monday 9 November, 18:00
    for name, answered_at in (
        ("Ana", ny(2026, 11, 3, 10)),  # 1 business day
        ("Ben", ny(2026, 11, 4, 10)),  # 2
        ("Cara", ny(2026, 11, 4, 15)),  # 2
        ("Dan", ny(2026, 11, 6, 10)),  # 4
        ("Eve", ny(2026, 11, 12, 10)),  # 7: the holiday is skipped; late
    ):
        candidate = applicant(backend, name, monday)
        service.log_contact(session, candidate, ContactChannel.PHONE, answered_at, maria)
    applicant(backend, "Fay", monday)  # open, overdue since Monday
    applicant(designer, "Gil", ny(2026, 11, 12, 9))  # open, on track (due Thursday 19)

    hana = applicant(analyst, "Hana", berlin(2026, 11, 2, 9))
    service.log_contact(session, hana, ContactChannel.MEETING, berlin(2026, 11, 2, 15), jonas)  # 0
    ivan = applicant(analyst, "Ivan", berlin(2026, 11, 2, 10))  # open, overdue and escalated
    service.followed_up(session, ivan, berlin(2026, 11, 10, 9), settings)
    service.followed_up(session, ivan, berlin(2026, 11, 12, 9), settings)
    # October: answered on the deadline's day, 5 business days after applying.
    jade = applicant(analyst, "Jade", berlin(2026, 10, 13, 9))
    service.log_contact(session, jade, ContactChannel.PHONE, berlin(2026, 10, 20, 17), jonas)
    return {
        "settings": settings,
        "maria": maria,
        "jonas": jonas,
        "backend": backend,
        "designer": designer,
        "analyst": analyst,
    }
