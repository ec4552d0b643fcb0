"""The candidate's verdict: an anonymous survey once their process ends, and its figures, shown
only for groups of at least the organisation's floor of answers."""
