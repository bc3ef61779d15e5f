"""Commands added by a later change; see mailer/cli/__init__.py COMMAND_MODULES."""
