"""Domain errors: views turn them into form errors, commands into ``click.ClickException``."""


class DomainError(Exception):
    """A request the domain refuses; the message is fit to show a user."""
