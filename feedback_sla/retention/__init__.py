"""Retention: candidates' personal data erased a set number of days after the final decision,
or on request."""
