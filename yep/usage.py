"""What every yep command line shares: a mistake is one `yep: error:` line on
stderr and exit status 2, never argparse's usage block or a traceback
(arg_parser.py: the commands' argparse)."""
import sys


class UsageError(Exception):
    pass


def did_you_mean(word, options):
    """': did you mean --X?' for the long option closest to a mistyped one, or ''."""
    import difflib

    if not word.startswith("-"):
        return ""
    close = difflib.get_close_matches(word, [o for o in options if o.startswith("--")], n=1, cutoff=0.6)
    return f": did you mean {close[0]}?" if close else ""


def is_decimal(text):
    """ASCII digits with at most one '.' among them: no sign, exponent, inf or nan."""
    whole, _, fraction = text.partition(".")
    return text.isascii() and (whole + fraction).isdigit()


MAX_INT = 2**31 - 1


def whole_number(option, minimum=0, maximum=MAX_INT):
    """A parser of an option's whole number (also an argparse type): ASCII
    digits only, from minimum to maximum, else one UsageError line."""
    def parse(text):
        text = str(text)
        if not (text.isascii() and text.isdigit() and len(text) <= 12 and minimum <= int(text) <= maximum):
            raise UsageError(f"{option} takes a whole number from {minimum} to {maximum}, not {text!r}")
        return int(text)

    return parse


def decimal(option, minimum, maximum):
    """As whole_number, for a decimal number (no exponent, inf or nan)."""
    def parse(text):
        text = str(text)
        if not (is_decimal(text) and len(text) <= 24 and minimum <= float(text) <= maximum):
            raise UsageError(f"{option} takes a number from {minimum:g} to {maximum:g}, not {text!r}")
        return float(text)

    return parse


def fail(message):
    print(f"yep: error: {message}", file=sys.stderr)
    return 2
