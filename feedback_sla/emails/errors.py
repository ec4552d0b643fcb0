"""The emails' domain error."""

from __future__ import annotations

from feedback_sla.errors import DomainError


class EmailError(DomainError):
    """An email that cannot be queued, undone or retried; the message says why."""
