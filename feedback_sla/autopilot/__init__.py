"""Autopilot: status updates queued before a deadline passes, for positions that have it on."""
