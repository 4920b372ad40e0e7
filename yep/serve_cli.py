"""`yep serve script.py [args]`: run a program with the live view on
(yep/live_view.py); its URL goes to stderr, everything else is the program's."""
import argparse
import sys

from ._errors import YepError
from .usage import Parser, UsageError, fail


def main(argv):
    parser = Parser(prog="yep serve", description="Run a script (or -m module) with yep's live view: RSS and "
                     "Python objects over time, a census by type with sparklines, instances and referrers, "
                     "growth since a moment. The view's URL (loopback only, with a token) is printed on stderr.")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--interval", type=float, default=1.0,
                        help="seconds between censuses (default 1; longer when a census is slow)")
    parser.add_argument("-m", dest="module", help="run a library module as a script")
    parser.add_argument("script", nargs="?", help="the script to run")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="its arguments")
    try:
        args = parser.parse_args(argv)
        if args.module and args.script:
            args.args.insert(0, args.script)
            args.script = None
        if not args.module and not args.script:
            raise UsageError("no script or -m module to run")
    except UsageError as exc:
        return fail(str(exc))
    from . import live_view, runner

    try:
        target = runner.Target(script=args.script, module=args.module)
        url = live_view.serve(port=args.port, interval=args.interval)
    except YepError as exc:
        return fail(str(exc))
    print(f"yep: live view of this run at {url}", file=sys.stderr, flush=True)
    outcome = target.outcome_of_run(args.args)
    live_view.stop()
    runner.show_exception(outcome)
    return runner.finish(outcome)
