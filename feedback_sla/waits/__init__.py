"""The wait: one response clock per candidate who is owed an answer, and the door every signal
about a candidate enters through (``waits.service``)."""
