"""A heap profiling session of the running program, as `python -m yep
--heap`, `--heap-sample` and `yep serve --heap-sample` start and end it:
the profiler started on PREFIX (or, with --subprocesses, this process's
file in the folder PREFIX), and at the end the files written and the line
that says what they hold."""
import os

from ._errors import YepError


def check_prefix(prefix, what="heap profiles"):
    directory = os.path.dirname(os.path.abspath(prefix))
    if not os.access(directory, os.W_OK):
        raise YepError(f"cannot write {what} to '{prefix}': the directory {directory} "
                       f"{'is not writable' if os.path.isdir(directory) else 'does not exist'}")


class HeapSession:
    """yep's heap profiler, writing PREFIX.NNNN.heap; with
    --subprocesses, PREFIX is a folder and this process's profile one file
    in it, <pid>.heap (yep.subprocesses.heap)."""

    def __init__(self, prefix, mixed, subprocesses=False, pymalloc=False, sample=None):
        self.prefix, self.mixed, self.pymalloc, self.sample = prefix, mixed, pymalloc, sample
        self.folder = prefix if subprocesses else None

    def start(self):
        from . import heap

        if self.folder is None:
            heap.heap_start(self.prefix, self.mixed, sample=self.sample, _stop_at_exit=False)
            return
        from . import subprocesses
        from .api import python_frames
        from .subprocesses import heap as tree_heap

        mixed = python_frames(self.mixed)
        subprocesses.prepare_folder(self.folder)
        self.path = subprocesses.reserve_file(self.folder, tree_heap.SUFFIX)
        try:
            heap.heap_start(tree_heap.prefix_of(self.path), mixed, sample=self.sample, _stop_at_exit=False)
        except BaseException:
            os.unlink(self.path)
            raise
        # (before the program's environment is put back: its dump intervals)
        subprocesses.export(self.folder, "heap", **tree_heap.settings(mixed, self.pymalloc, heap.malloc_hooks_library(),
                                                                      self.sample))

    def running(self):
        from . import heap

        return heap.heap_is_running()

    def so_far(self):
        from . import heap

        # The recorder's own figures: heap_stats' hooks would cost every malloc more.
        stats = heap.heap_profiler_stats()
        about = "about " if self.sample else ""
        return (f"{about}{stats['inuse_bytes'] / 2**20:.1f} MiB of native heap in use, peak "
                f"{stats['peak_bytes'] / 2**20:.1f} MiB, {stats['allocated_bytes'] / 2**20:,.1f} MiB allocated so far")

    def stop(self):
        from . import heap

        if self.folder is not None:
            from .subprocesses import heap as tree_heap

            tree_heap.finish(self.path, forked=False)
            peak = heap.heap_profiler_stats()["peak_bytes"] / 2**20
            return self.folder, self.folder, [self.folder], (
                f"one heap profile per process; this one's peak {'about ' if self.sample else ''}{peak:.1f} MiB of "
                f"native heap in use (requested bytes)")
        files = [os.path.relpath(f) if not os.path.isabs(self.prefix) else f for f in heap.heap_stop()]
        # The recorder's peak: requested bytes, as the profile's tables count them.
        peak = heap.heap_profiler_stats()["peak_bytes"] / 2**20
        sampled = f" (sampled: one allocation per {size_words(self.sample)} on average)" if self.sample else ""
        # The exact mode's earlier dumps refer to the session's stacks file;
        # the last dump is complete on its own.
        stacks = files[-1].rsplit(".", 2)[0] + ".stacks"
        if len(files) > 1 and not self.sample and os.path.exists(stacks):
            earlier = "the first's" if len(files) == 2 else "the earlier ones'"
            sampled += f", {earlier} stacks in {stacks}"
        return files[-1], files[-1], files, (f"{len(files)} heap profile{'s' if len(files) > 1 else ''}{sampled}, "
                                             f"peak {'about ' if self.sample else ''}{peak:.1f} MiB of native heap "
                                             f"in use (requested bytes)")


def size_words(size):
    """512 KiB, 1 MiB, 1000 bytes: as the heap reader's comment says a sampling mean."""
    for unit, shift in (("MiB", 20), ("KiB", 10)):
        if size >= 1 << shift and size % (1 << shift) == 0:
            return f"{size >> shift} {unit}"
    return f"{size} byte{'s' if size != 1 else ''}"

