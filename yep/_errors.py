"""The one exception type yep raises for user mistakes and bad input."""


class YepError(Exception):
    """A problem the user can fix; the message is one line saying what to do."""
