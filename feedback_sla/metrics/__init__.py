"""The metrics page: response-time figures and charts for a period, per manager or position."""

# Whoever loads the rollup's tables keeps them: the listener on the session's flushes comes along.
from feedback_sla.metrics import rollup as _rollup  # noqa: F401
