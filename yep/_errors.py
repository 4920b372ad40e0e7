"""The one exception type yep raises for user mistakes and bad input."""


class YepError(Exception):
    """A problem the user can fix; the message is one line saying what to do."""


class UnsupportedInterpreter(YepError):
    """This interpreter's frames cannot be read safely (its published layout
    contradicts the one yep was built for): yep refuses rather than guess."""
