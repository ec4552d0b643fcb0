"""Candidate emails: composing them from templates, the outbox they are queued in, and the transport
that carries them (``feedback_sla.worker`` runs the delivery loop)."""
