"""Profiles of a process tree (``python -m yep --subprocesses``): every
Python process the program starts writes its own complete profile into
one folder, ``<pid>.prof`` (or ``<pid>.heap``) each, read back as one
profile whose samples carry a "process" label (``yep report FOLDER``).

This module is the mechanism, the same for every kind of profile; each
kind (``cpu``: CPU time, Python and native frames; ``heap``: the native
heap, --heap) is a module of this package with ``begin(settings, forked)``,
which starts this process's profile and returns its state, and
``end(state)``, which finishes it and writes its ``# yep-process:`` record
(append_record).

How the children are reached:

- forked children (os.fork, multiprocessing's fork start method, the
  workers a forkserver forks): an at-fork hook starts a fresh profile in the
  child, with the parent's settings;
- new interpreters (spawn, forkserver, subprocess running a Python,
  os.exec* of a Python): the parent exports YEP_SUBPROCESSES (the folder and
  the settings, JSON) and the ``yep-subprocesses.pth`` file installed beside
  the yep package imports yep.subprocesses.hook at every interpreter's start
  while it is set, which starts the profile before the program runs.

Each profile is finished when its process ends: at exit, through os._exit
(forked workers leave that way), before os.exec*, and on SIGTERM (a pool's
terminate()), by yep.run_ends. Its last line, "# yep-process:\\t<pid>\\t
<parent pid>\\t<run|fork>\\t<command line>", says whose it is; a file without
it belongs to a process still running or killed, and is skipped.

A fork made by subprocess to exec another program (preexec_fn) starts
nothing: the exec'd program, if a Python, is profiled as a new interpreter.
"""
import atexit
import json
import os
import shlex
import sys

from .._errors import YepError

ENV = "YEP_SUBPROCESSES"
SUFFIX = ".prof"
# The suffixes of the kinds' files. A process's profile is <pid><suffix>
# or <pid>-N<suffix>; other files of a kind (a heap profile's periodic
# dumps, <pid>.0001.heap) may sit beside them.
SUFFIXES = (SUFFIX, ".heap")
RECORD = "# yep-process:\t"
_TMP_SUFFIX = ".yep-tmp"  # yep.atomic_file's and the capture's temporary files
_STACKS_SUFFIX = ".stacks"  # a process's heap stacks, which its periodic dumps refer to


def prepare_folder(folder):
    """Makes the output folder of a run, without following a symlink. A
    folder left by an earlier run (only profiles: SUFFIXES) is emptied, and so is
    a profile file of that name replaced by the folder; anything else is
    refused (YepError)."""
    try:
        os.mkdir(folder)
        return
    except FileExistsError:
        pass
    except OSError as exc:
        raise YepError(f"cannot make the folder '{folder}' for the processes' profiles: {exc.strerror}") from None
    import stat

    st = os.lstat(folder)
    if stat.S_ISREG(st.st_mode) and _is_cpu_profile(folder):
        os.unlink(folder)
        return prepare_folder(folder)
    if not stat.S_ISDIR(st.st_mode):
        raise YepError(f"'{folder}' exists and is not a folder of profiles: name another with -o")
    entries = os.listdir(folder)
    ours = [e for e in entries if e.endswith((*SUFFIXES, _TMP_SUFFIX, _STACKS_SUFFIX))
            and stat.S_ISREG(os.lstat(os.path.join(folder, e)).st_mode)]
    if len(ours) != len(entries):
        raise YepError(f"'{folder}' holds other files than profiles: name another folder with -o")
    for entry in ours:
        os.unlink(os.path.join(folder, entry))


def _is_cpu_profile(path):
    with open(path, "rb") as f:
        return f.read(8) == bytes(8)


def reserve_file(folder, suffix=SUFFIX):
    """Creates this process's empty profile file in the folder, never an
    existing one nor through a symlink: <pid>.prof, or <pid>-N.prof when a
    process of that pid wrote one already (the same process before an
    exec); `suffix` for another kind's. Returns its path."""
    pid = os.getpid()
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    for n in range(1000):
        path = os.path.join(folder, f"{pid}{suffix}" if n == 0 else f"{pid}-{n}{suffix}")
        try:
            os.close(os.open(path, flags, 0o644))
            return path
        except FileExistsError:
            continue
        except OSError as exc:
            raise YepError(f"cannot create a profile in '{folder}': {exc.strerror}") from None
    raise YepError(f"cannot create a profile in '{folder}': every name for pid {pid} is taken")


def command_line():
    """This interpreter's command line, as one line."""
    argv = getattr(sys, "orig_argv", None) or [sys.executable, *sys.argv]
    return shlex.join(argv).replace("\n", "\\n").replace("\t", " ")


def append_record(path, forked):
    """Ends a finished profile with the line saying whose it is."""
    with open(path, "a") as f:
        f.write(f"{RECORD}{os.getpid()}\t{os.getppid()}\t{'fork' if forked else 'run'}\t{command_line()}\n")


def profile_files(folder):
    """The complete profiles in a run's folder, and the unfinished ones."""
    try:
        names = sorted(n for n in os.listdir(folder) if _is_process_profile(n))
    except OSError as exc:
        raise YepError(f"cannot read the folder '{folder}': {exc.strerror}") from None
    complete, unfinished = [], []
    for name in names:
        path = os.path.join(folder, name)
        (complete if _finished(path) else unfinished).append(path)
    return complete, unfinished


def _is_process_profile(name):
    """<pid><suffix> or <pid>-N<suffix>, of one of the kinds."""
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            pid, _, n = name[:-len(suffix)].partition("-")
            return pid.isdigit() and (not n or n.isdigit())
    return False


def _finished(path):
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 65536))
            tail = f.read()
    except OSError:
        return False
    at = tail.rfind(b"\n" + RECORD.encode())
    return at >= 0 and tail.endswith(b"\n") and tail.find(b"\n", at + 1) == len(tail) - 1


# --- the parent: what children inherit -------------------------------------


def export(folder, kind, **settings):
    """Sets what every new interpreter below this one reads at its start
    (the folder, the kind of profile and its settings, JSON-serializable),
    and profiles this process's forked children."""
    os.environ[ENV] = json.dumps({"folder": os.path.abspath(folder), "kind": kind, **settings})
    follow_forks()


def unexport():
    """Ends following: processes started from now on are not profiled."""
    os.environ.pop(ENV, None)


def exported_folder():
    try:
        return _settings()["folder"]
    except (ValueError, KeyError, TypeError):
        return os.environ.get(ENV)


_following = False


def follow_forks():
    global _following
    if not _following:
        os.register_at_fork(after_in_child=_forked)
        _following = True


def _settings():
    return json.loads(os.environ[ENV])


def _forked():
    if ENV not in os.environ:  # the program took it out: its children are its own business
        return
    caller = sys._getframe(1)
    if caller.f_code.co_name == "_execute_child" and caller.f_code.co_filename.endswith("subprocess.py"):
        return  # subprocess's child, about to exec: see the module's docstring
    try:
        ChildProfile(_settings(), forked=True).start()
    except Exception as exc:  # the child runs on, unprofiled
        print(f"yep: not profiling forked process {os.getpid()}: {exc}", file=sys.stderr)


def start_in_new_interpreter():
    """yep.subprocesses.hook: this interpreter was started below a profiled one."""
    ChildProfile(_settings(), forked=False).start()
    follow_forks()


# --- a child: its own profile, finished however it ends ----------------------


class ChildProfile:
    """This process's profile, of the kind its settings name, finished
    however the process ends."""

    def __init__(self, settings, forked):
        self.settings, self.forked = settings, forked
        self.state = None

    def start(self):
        import importlib

        from ..run_ends import RunEnds

        self.kind = importlib.import_module(f"{__name__}.{self.settings.get('kind', 'cpu')}")
        self.state = self.kind.begin(self.settings, self.forked)
        self.owner = os.getpid()
        self.ends = RunEnds(self.finish, lambda: self.state is not None)
        self.ends.install()
        atexit.register(self.ends.finish_now)

    def finish(self):
        if self.state is None or os.getpid() != self.owner:
            return
        state, self.state = self.state, None
        try:
            self.kind.end(state)
        except Exception as exc:
            print(f"yep: cannot finish the profile of process {os.getpid()}: {exc}", file=sys.stderr)
