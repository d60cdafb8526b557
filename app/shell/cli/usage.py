"""The one error every command reports the same way: one line on stderr, exit 2.

A leaf module, so each command can raise it without importing the parser.
"""


class UsageError(Exception):
    """A configuration problem: one line on stderr, exit 2."""
