"""A manager's private calendar feed, opened by the token in its URL: no login, no cookie."""

from feedback_sla.web.calendar.views import bp

__all__ = ["bp"]
