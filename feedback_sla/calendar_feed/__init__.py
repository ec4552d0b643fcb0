"""A private iCalendar feed per manager of the promised dates and deadlines of their open waits."""
