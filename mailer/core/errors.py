"""Errors a user can act on; the CLI turns them into one sentence and an exit code."""


class MailerError(Exception):
    """Something the operator asked for could not be done (exit 1, 4xx on the web)."""


class NotFound(MailerError):
    """The thing named does not exist."""


class Conflict(MailerError):
    """The thing exists but is in a state that forbids the request."""


class ConfigError(ValueError):
    """A setting that cannot be used; the message is one sentence for an operator (exit 2)."""
