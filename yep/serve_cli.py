"""`yep serve script.py [args]`: run a program with the live view on
(yep/live_view.py); its URL goes to stderr, everything else is the program's."""
import sys

from ._errors import YepError
from .usage import Parser, UsageError, decimal, fail, whole_number


def main(argv):
    parser = Parser(prog="yep serve", description="Run a script (or -m module) with yep's live view: RSS and "
                     "Python objects over time, a census by type with sparklines, instances and referrers, "
                     "growth since a moment. The view's URL (loopback only, with a token) is printed on stderr.")
    parser.add_argument("--port", type=whole_number("--port", 0, 65535), default=0, help="port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--interval", type=decimal("--interval", 0.01, 3600), default=1.0,
                        help="seconds between censuses (default 1; longer when a census is slow)")
    parser.add_program_arguments()
    try:
        args = parser.parse_program_args(argv)
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
