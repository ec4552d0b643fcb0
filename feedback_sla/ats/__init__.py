"""Applicant tracking systems: signed webhooks from Greenhouse, Lever, Ashby and Workable, entering
through the wait's door."""
