"""yep.memory_usage on real processes: this one while a function allocates,
children started with subprocess, and memory_profiler's memory_usage on the
same work for comparison (skipped when memory_profiler is not installed)."""
import glob
import io
import multiprocessing
import os
import subprocess
import sys
import time

import pytest

import yep

MIB = 2 ** 20
# A child that holds 100 MiB, says so, and sleeps for argv[1] seconds.
CHILD = ("import sys, time\n"
         "block = bytearray(100 * 2**20)\n"
         "print('ready', flush=True)\n"
         "time.sleep(float(sys.argv[1]))\n")


def hold_200_mib():
    block = bytearray(200 * MIB)  # bytearray(n) writes its n zero bytes: all of it is resident
    time.sleep(0.3)
    del block
    time.sleep(0.05)
    return "done"


def short_temporary():
    time.sleep(0.03)
    block = bytearray(100 * MIB)
    time.sleep(0.05)
    del block
    time.sleep(0.03)


def baseline():
    return yep.memory_usage(-1)[0]


def sampler_threads(settle=1.0):
    """Names of this process's threads that are yep's RSS sampler, after
    waiting up to `settle` seconds for an ended one to leave /proc."""
    deadline = time.monotonic() + settle
    while True:
        names = live_sampler_threads()
        if not names or time.monotonic() > deadline:
            return names
        time.sleep(0.01)


def live_sampler_threads():
    names = []
    for comm in glob.glob("/proc/self/task/*/comm"):
        try:
            with open(comm) as f:
                if f.read().strip() == "yep-rss":
                    names.append(comm)
        except OSError:
            pass
    return names


@pytest.fixture
def child():
    """start(seconds) -> a Popen of CHILD that already holds its 100 MiB."""
    started = []

    def start(seconds=30.0):
        proc = subprocess.Popen([sys.executable, "-c", CHILD, str(seconds)], stdout=subprocess.PIPE, text=True)
        started.append(proc)
        assert proc.stdout.readline().strip() == "ready"
        return proc

    yield start
    for proc in started:
        proc.kill()
        proc.wait()
        proc.stdout.close()


@pytest.fixture
def memory_profiler():
    return pytest.importorskip("memory_profiler")


# --- a function in this process ---------------------------------------------

def test_function_peak_and_timestamps():
    base = baseline()
    before = time.time()
    samples = yep.memory_usage((hold_200_mib, (), {}), interval=0.01, timestamps=True)
    after = time.time()
    sizes = [size for size, _ in samples]
    times = [when for _, when in samples]
    expected = base + 200
    assert abs(max(sizes) - expected) <= 0.05 * expected, (base, max(sizes))
    assert len(samples) >= 20  # 0.35 s at 10 ms
    assert all(b > a for a, b in zip(times, times[1:]))
    assert before <= times[0] and times[-1] <= after
    # The sample before the call and the one after it: the block is not there.
    assert sizes[0] < base + 20 and sizes[-1] < base + 20


def test_max_usage_and_retval():
    base = baseline()
    peak = yep.memory_usage(hold_200_mib, interval=0.01, max_usage=True)
    assert isinstance(peak, float)
    assert abs(peak - (base + 200)) <= 0.05 * (base + 200)
    peak, when = yep.memory_usage(hold_200_mib, interval=0.01, max_usage=True, timestamps=True)
    assert peak > base + 150 and abs(when - time.time()) < 5
    samples, returned = yep.memory_usage((hold_200_mib,), interval=0.01, retval=True)
    assert returned == "done" and max(samples) > base + 150
    peak, returned = yep.memory_usage(hold_200_mib, interval=0.01, max_usage=True, retval=True)
    assert returned == "done" and peak > base + 150


def test_arguments_reach_the_function():
    def add(a, b, scale=1):
        return (a + b) * scale

    assert yep.memory_usage((add, (1, 2), {"scale": 10}), retval=True)[1] == 30
    assert yep.memory_usage([add, [1, 2]], retval=True)[1] == 3


def test_a_call_shorter_than_the_interval_has_two_samples():
    start = time.perf_counter()
    samples = yep.memory_usage(lambda: None, interval=10)
    assert len(samples) == 2
    assert time.perf_counter() - start < 2  # stopping wakes the sampler up


def test_short_temporary_is_caught_at_1ms():
    samples = yep.memory_usage(short_temporary, interval=0.001)
    assert max(samples) - samples[0] >= 95, (samples[0], max(samples))
    assert len(samples) >= 20


def test_exceptions_pass_through_and_the_sampler_ends():
    def boom():
        raise ValueError("from the profiled function")

    with pytest.raises(ValueError, match="from the profiled function"):
        yep.memory_usage(boom, interval=0.001)
    assert sampler_threads() == []


# --- other processes --------------------------------------------------------

def test_popen_with_timeout(child):
    proc = child()
    samples = yep.memory_usage(proc, interval=0.05, timeout=0.5)
    assert len(samples) == 10  # round(timeout / interval), as memory_profiler takes
    assert all(100 <= size < 150 for size in samples), samples
    assert proc.poll() is None


def test_popen_until_it_exits(child):
    proc = child(seconds=0.5)
    start = time.perf_counter()
    samples = yep.memory_usage(proc, interval=0.05)
    assert time.perf_counter() - start < 5
    assert proc.poll() is not None
    assert len(samples) >= 3 and max(samples) >= 100


def test_pid(child):
    proc = child()
    one = yep.memory_usage(proc.pid)
    assert len(one) == 1 and one[0] >= 100
    assert len(yep.memory_usage(str(proc.pid), interval=0.1, timeout=0.3)) == 3
    assert yep.memory_usage(proc.pid, interval=0.05, timeout=0.2, max_usage=True) >= 100


def test_include_children_sums_them(child):
    proc = child()
    own = baseline()
    child_size = yep.memory_usage(proc.pid)[0]  # (a Popen would be sampled until it exits)
    total = yep.memory_usage(-1, interval=0.05, timeout=0.3, include_children=True)
    assert len(total) == 6
    assert all(abs(size - (own + child_size)) < 5 for size in total), (own, child_size, total)
    # A function's samples include the children too.
    assert min(yep.memory_usage(lambda: time.sleep(0.1), interval=0.01, include_children=True)) > own + 95


def test_multiprocess_lists_each_child(child):
    first, second = child(), child()
    own = baseline()  # this process (the test runner: its size depends on what ran before)
    samples = yep.memory_usage(-1, interval=0.05, timeout=0.3, multiprocess=True)
    assert len(samples) == 6
    for sample in samples:
        assert len(sample) == 3  # this process, then each child
        assert abs(sample[0] - own) < 20 and all(size >= 100 for size in sample[1:])
    stamped = yep.memory_usage(-1, interval=0.05, timeout=0.1, multiprocess=True, timestamps=True)
    size, when = stamped[0][0]
    assert abs(size - own) < 20 and abs(when - time.time()) < 5 and stamped[0][1] >= 100
    del first, second


def test_stream_writes_mprof_records(child):
    proc = child()
    stream = io.StringIO()
    assert yep.memory_usage(-1, interval=0.05, timeout=0.2, multiprocess=True, stream=stream) is None
    lines = stream.getvalue().splitlines()
    mem = [line.split() for line in lines if line.startswith("MEM ")]
    chld = [line.split() for line in lines if line.startswith("CHLD ")]
    assert len(mem) == 4 and len(chld) == 4
    assert all(int(pid) == proc.pid and float(size) >= 100 for _, pid, size, _ in chld)
    assert all(abs(float(when) - time.time()) < 5 for _, _, when in mem)


def test_pss_and_uss(child):
    rss = baseline()
    pss = yep.memory_usage(-1, backend="psutil_pss")[0]
    uss = yep.memory_usage(-1, backend="psutil_uss")[0]
    assert 0 < uss <= pss <= rss + 1
    proc = child()
    assert yep.memory_usage(proc.pid, backend="psutil_uss")[0] >= 100


def test_pss_and_uss_agree_with_psutil(child):
    psutil = pytest.importorskip("psutil")
    proc = child()
    for pid in (os.getpid(), proc.pid):
        info = psutil.Process(pid).memory_full_info()
        pss = yep.memory_usage(pid, backend="psutil_pss")[0]
        uss = yep.memory_usage(pid, backend="psutil_uss")[0]
        assert abs(uss - info.uss / MIB) < 2 and abs(pss - info.pss / MIB) < 2, (pid, uss, pss, info)


# --- mistakes ---------------------------------------------------------------

def test_no_such_process():
    with open("/proc/sys/kernel/pid_max") as f:
        missing = int(f.read()) + 1
    with pytest.raises(yep.YepError, match=f"no process with pid {missing}"):
        yep.memory_usage(missing)


def test_process_that_already_ended_gives_no_samples():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    assert yep.memory_usage(proc, interval=0.01) == []


@pytest.mark.parametrize("interval", [0, -0.5])
def test_interval_must_be_positive(interval):
    with pytest.raises(yep.YepError, match="interval must be more than 0"):
        yep.memory_usage(-1, interval=interval)
    with pytest.raises(yep.YepError, match="interval must be more than 0"):
        yep.memory_usage(lambda: None, interval=interval)


@pytest.mark.parametrize("proc, message", [
    ("ls -l", "proc must be"),
    ((1, 2), "proc as a tuple must be"),
    (0, "no process with pid 0"),
    (None, "proc must be"),
])
def test_bad_proc(proc, message):
    with pytest.raises(yep.YepError, match=message):
        yep.memory_usage(proc)


def test_heap_backend_needs_the_interposer_and_this_process(child):
    # The test process runs without yep's interposer (tests with it: test_mprof_run.py).
    with pytest.raises(yep.YepError, match=r"yep's malloc hooks are not in this process.*LD_PRELOAD="):
        yep.memory_usage(-1, backend="heap")
    with pytest.raises(yep.YepError, match="in this process only"):
        yep.memory_usage(child().pid, backend="heap")


@pytest.mark.parametrize("backend", ["tracemalloc", "nope"])
def test_bad_backend(backend):
    with pytest.raises(yep.YepError, match="backend"):
        yep.memory_usage(-1, backend=backend)


# --- memory_profiler, side by side -------------------------------------------

def test_peak_agrees_with_memory_profiler(memory_profiler, capsys):
    theirs = memory_profiler.memory_usage((hold_200_mib, (), {}), interval=0.01, max_usage=True)
    ours = yep.memory_usage((hold_200_mib, (), {}), interval=0.01, max_usage=True)
    for sampler in multiprocessing.active_children():  # memory_profiler's waits only 0.05 s for its own
        sampler.join()
    with capsys.disabled():
        print(f"\npeak of a 200 MiB block: memory_profiler {theirs:.2f} MiB, yep {ours:.2f} MiB")
    assert abs(ours - theirs) < 5


def test_shapes_agree_with_memory_profiler(memory_profiler, child):
    proc = child()
    for kwargs in [dict(), dict(timestamps=True), dict(multiprocess=True), dict(include_children=True)]:
        theirs = memory_profiler.memory_usage(-1, interval=0.05, timeout=0.2, **kwargs)
        ours = yep.memory_usage(-1, interval=0.05, timeout=0.2, **kwargs)
        assert len(ours) == len(theirs), kwargs
        for a, b in zip(ours, theirs):
            assert type(a) is type(b), kwargs
            if kwargs.get("multiprocess"):
                assert len(a) == len(b) and all(abs(x - y) < 5 for x, y in zip(a, b)), (a, b)
            elif kwargs.get("timestamps"):
                assert abs(a[0] - b[0]) < 5 and abs(a[1] - b[1]) < 5
            else:
                assert abs(a - b) < 5, (kwargs, a, b)
    assert len(yep.memory_usage(proc.pid)) == len(memory_profiler.memory_usage(proc.pid)) == 1
    ours = yep.memory_usage(proc, interval=0.05, timeout=0.2)
    theirs = memory_profiler.memory_usage(proc, interval=0.05, timeout=0.2)
    assert len(ours) == len(theirs) and abs(max(ours) - max(theirs)) < 5


# --- cost ---------------------------------------------------------------------

def test_cost_of_sampling_every_millisecond(child, capsys):
    for label, kwargs in [("this process", {}), ("with a child", {"include_children": True})]:
        if kwargs:
            child()
        cpu, wall = time.process_time(), time.perf_counter()
        samples = yep.memory_usage(-1, interval=0.001, timeout=1, **kwargs)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        with capsys.disabled():
            print(f"\n1 ms sampling for 1 s, {label}: {len(samples)} samples in {wall:.3f} s, "
                  f"{cpu * 1e3:.1f} ms of CPU ({cpu / len(samples) * 1e6:.1f} us a sample)")
        assert len(samples) == 1000
