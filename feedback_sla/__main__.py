"""``python -m feedback_sla`` runs the ``feedback-sla`` command."""

from .cli import main

main()
