"""`yep serve script.py [args]`: run a program with the live view on
(yep/live_view.py); its URL goes to stderr, everything else is the program's.

With --heap-sample SIZE the program also runs under the sampled heap
profiler, as `python -m yep --heap-sample SIZE` runs it: yep restarts itself
with its malloc interposer preloaded (it must see the first malloc), starts
the profiler (PREFIX.0001.heap ..., PREFIX from -o, else the script's name),
and the view plots the profiler's estimate of the native heap in use (its
own figure: no malloc hooks are added) and offers a snapshot. The last
profile is written when the program ends, by returning, raising, os._exit,
an exec or SIGTERM (yep.run_ends), and stderr says which files were written."""
import os
import sys

from ._errors import UnsupportedInterpreter, YepError
from .arg_parser import Parser
from .usage import UsageError, decimal, fail, whole_number


def main(argv):
    parser = Parser(prog="yep serve", description="Run a script (or -m module) with yep's live view: RSS and "
                     "Python objects over time, a census by type with sparklines, instances and referrers, "
                     "growth since a moment. The view's URL (loopback only, with a token) is printed on stderr.")
    parser.add_argument("--port", type=whole_number("--port", 0, 65535), default=0, help="port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--interval", type=decimal("--interval", 0.01, 3600), default=1.0,
                        help="seconds between censuses (default 1; longer when a census is slow)")
    parser.add_argument("--heap-sample", metavar="SIZE",
                        help="also run the sampled heap profiler (one allocation recorded per SIZE allocated on "
                             "average, e.g. 512K): the view plots its estimate of the native heap in use and "
                             "can write a snapshot; profiles PREFIX.0001.heap ..., the last at the end")
    parser.add_argument("-o", "--outfile", metavar="PREFIX",
                        help="with --heap-sample: the heap profiles' prefix (default: the script's name)")
    parser.add_program_arguments()
    try:
        args = parser.parse_program_args(argv)
        if args.outfile is not None and args.heap_sample is None:
            raise UsageError("-o names the heap profiles of --heap-sample: give --heap-sample SIZE too "
                             "(see yep serve -h)")
    except UsageError as exc:
        return fail(str(exc))
    from . import heap_run, live_view, runner

    session = None
    try:
        target = runner.Target(script=args.script, module=args.module)
        if args.heap_sample is not None:
            session = _heap_session(argv, args, target)
        url = live_view.serve(port=args.port, interval=args.interval)
    except UnsupportedInterpreter as exc:  # as python -m yep --heap: the program runs on, unprofiled
        print(f"yep: {exc}", file=sys.stderr)
        if heap_run.in_restarted_process():
            heap_run.restore_environment()
        return _serve_unprofiled(args, target)
    except YepError as exc:
        return fail(str(exc))
    print(f"yep: live view of this run at {url}", file=sys.stderr, flush=True)
    if session is None:
        outcome = target.outcome_of_run(args.args)
        live_view.stop()
        runner.show_exception(outcome)
        return runner.finish(outcome)
    return _run_with_heap(session, target, args.args)


def _heap_session(argv, args, target):
    """Restarts this process with yep's malloc interposer (does not return)
    unless it is the restarted one; there, starts the sampled heap profiler
    and gives the program its environment back. Returns the session."""
    from . import heap_run
    from .heap_session import HeapSession, check_prefix

    sample = heap_run.parse_sample(args.heap_sample)
    if os.environ.get(heap_run.SEED_VARIABLE):
        heap_run.parse_seed(os.environ[heap_run.SEED_VARIABLE], heap_run.SEED_VARIABLE)
    prefix = args.outfile or target.name
    if not heap_run.in_restarted_process():
        check_prefix(prefix)
        heap_run.restart_with_hooks(["serve", *argv], {"heap_sample": sample})  # does not return
    session = HeapSession(prefix, None, sample=sample)
    session.start()  # (before the program's environment is put back, as python -m yep --heap)
    heap_run.restore_environment()
    return session


def _serve_unprofiled(args, target):
    """The live view without the heap profiler (it cannot run here)."""
    from . import live_view, runner

    try:
        url = live_view.serve(port=args.port, interval=args.interval)
    except YepError as exc:
        return fail(str(exc))
    print(f"yep: live view of this run at {url}", file=sys.stderr, flush=True)
    outcome = target.outcome_of_run(args.args)
    live_view.stop()
    runner.show_exception(outcome)
    return runner.finish(outcome)


def _run_with_heap(session, target, program_args):
    """Runs the program under the live view and a started heap session; at
    its end (any of yep.run_ends' ways too) stops the view, then the
    profiler (a last dump), and says which files were written."""
    from . import live_view, runner
    from .run_ends import RunEnds

    parent = os.getpid()

    def finish(outcome):
        # The view first: its sampler reads the profiler's figures.
        live_view.stop()
        try:
            _, _, written, measured = session.stop()
        except YepError as exc:
            runner.show_exception(outcome)
            return fail(str(exc))
        runner.show_exception(outcome)
        runner.say_written(written, measured)
        return 0

    ends = RunEnds(lambda: finish(None), session.running)
    ends.install()
    try:
        outcome = target.outcome_of_run(program_args)
    finally:
        ends.uninstall()
    if os.getpid() != parent or not session.running():  # a forked child; or finished already (os._exit)
        live_view.stop()
        runner.show_exception(outcome)
        return runner.finish(outcome)
    status = finish(outcome)
    return status if status else runner.finish(outcome)
