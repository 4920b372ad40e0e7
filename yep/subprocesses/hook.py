"""Imported at the start of every interpreter while YEP_SUBPROCESSES is set
(by yep-subprocesses.pth, see yep.subprocesses): profiles this process as
one of a profiled program's tree. Never stops the interpreter's start: on
any error the program runs unprofiled, with one line saying why."""
import os
import sys

try:
    from . import start_in_new_interpreter

    start_in_new_interpreter()
except Exception as exc:  # noqa: BLE001 - the program must start whatever happens here
    print(f"yep: not profiling process {os.getpid()}: {exc}", file=sys.stderr)
