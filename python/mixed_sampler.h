// The mixed Python + native stack sampler (python -m yep --mixed,
// yep.start(path, mixed=True)).
//
// A CPU-time timer (ITIMER_PROF) sends SIGPROF to the thread that is using
// the CPU (or, for wall-clock profiles, ITIMER_REAL sends SIGALRM). The handler, async-signal-safe (no allocation, no locks, no
// thread-local storage, no Python API), copies raw facts into a
// preallocated slot: the interrupted thread's whole native stack, walked
// from the signal's register context with the objects' unwind tables
// (native_unwinder.h), and its Python frames as code table indexes and
// instruction offsets (python_frames.h). Every thread gets both, Python's
// or not, with no preparation. A drain thread turns slots into merged
// stacks: every native frame of the eval loop (interpreter_code.h) gets
// the run of Python frames it was running just above it, leaf first;
// Python frames without a native eval frame left go at the root.
//
// The profile is a gperftools CPU profile whose stacks mix real pcs with
// stand-in addresses for Python frames and for the thread (at the root),
// explained by "# yep-python:" and "# yep-thread:" lines after the maps
// (cpu_profile_reader.h reads them). Like cpu_profiler.h, the header's
// period is the measured CPU time per sample and a "# yep:" record follows
// the maps.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "cpu_profiler.h"  // CaptureError, CpuProfileSummary

namespace yep {

// Starts a profile writing to path, and returns its id. The first one
// starts the sampler; one started while the sampler runs (a profile inside a
// profile) records from the same sampler, with its rate and timer, the
// samples of its own window.
// root_code: if not 0, the address of a code object whose root-most frame,
// and everything below it, is left out of stacks (the runner that executes
// the profiled script, so stacks start at the script's <module>).
// root_file: that code's file, in yep's package: a sample outside the
// script's run whose Python frames are all yep's (that folder) or runpy's,
// or the standard library's (stdlib_dir, and frozen modules) called by
// yep's, is yep's own work (starting, stopping), counted but not recorded.
// wall: sample wall-clock time (ITIMER_REAL, SIGALRM, the thread the kernel
// delivers it to) instead of CPU time.
// (root_code, root_file, frequency and wall are the first profile's.)
int mixed_sampler_start(const std::string& path, double frequency, uintptr_t root_code,
                        const std::string& root_file = "", bool wall = false, const std::string& stdlib_dir = "");
// thread_names: native thread id -> name, for the labels.
// Writes profile `id` and ends it; the last one stops the sampler.
CpuProfileSummary mixed_sampler_stop(int id, const std::map<uint64_t, std::string>& thread_names);
// Writes the whole profile so far (a complete file) while sampling goes on.
void mixed_sampler_flush(int id, const std::map<uint64_t, std::string>& thread_names);
// A profile that gathers only while active: pause writes what it has (a
// complete file), resume gathers on (yep.profile as a decorator, over calls).
void mixed_sampler_pause(int id, const std::map<uint64_t, std::string>& thread_names);
void mixed_sampler_resume(int id);
bool mixed_sampler_running();
// Whether some profile gathers now (not all paused).
bool mixed_sampler_recording();
// The program's samples the sampler has recorded since it started (for a
// progress line; the drain thread adds them every 20 ms).
uint64_t mixed_sampler_samples();
// The running sampler's rate and clock (requested_hz, wall_clock; samples 0).
CpuProfileSummary mixed_sampler_rate();

}  // namespace yep
