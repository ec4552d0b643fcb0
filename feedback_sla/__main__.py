"""``python -m feedback_sla`` runs the ``feedback-sla`` command."""

from feedback_sla.cli import main

main()
