"""What every yep command line shares: a mistake is one `yep: error:` line on
stderr and exit status 2, never argparse's usage block or a traceback."""
import argparse
import sys


class UsageError(Exception):
    pass


class Parser(argparse.ArgumentParser):
    """argparse, but a mistake raises UsageError (for fail) instead of exiting."""

    def error(self, message):
        raise UsageError(f"{self.prog}: {message} (see {self.prog} -h)")


def fail(message):
    print(f"yep: error: {message}", file=sys.stderr)
    return 2
