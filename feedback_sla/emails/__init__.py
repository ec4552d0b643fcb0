"""Candidate emails: templates, the outbox they are queued in, and the worker that delivers them."""
