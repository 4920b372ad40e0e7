// Native stacks, walked with each loaded object's own call frame
// information (unwind_table.h), for the mixed-stack sampler's SIGPROF
// handler and the heap recorder's malloc hooks.
//
// A walk takes no lock, allocates nothing and touches no thread-local
// storage: it cannot deadlock on the interrupted code (an earlier version
// used libunwind, whose per-thread cache lives in dynamically allocated TLS:
// its first touch after a dlopen could realloc inside the handler, over an
// interrupted malloc, and hang), and it needs no per-thread preparation, so
// every thread, Python's or not (OpenMP, BLAS), gets its whole stack.
//
// Objects are found with dl_iterate_phdr, never inside a handler: at
// native_unwinder_scan(), and again when a walk met code in no known object
// (native_unwinder_stale(); the sampler's drain thread rescans). An
// object's rows are built on first use, inside the walk if need be (pure
// computation over its mapped .eh_frame, memory from mmap). A walk stops
// at code it has no rows for: it never guesses.
//
// x86-64 only; elsewhere a walk returns the first pc alone.
#pragma once

#include <cstddef>
#include <cstdint>

#include "safe_reader.h"

namespace yep {

// Indexes the loaded objects (again: finds new ones). Not in a signal handler.
void native_unwinder_scan();
// Whether a walk met code outside every known object since the last scan.
bool native_unwinder_stale();

// The interrupted thread's stack from a signal handler's context (the third
// argument of an SA_SIGINFO handler): pcs[0] is the interrupted pc, the
// others return addresses. Returns how many.
int native_unwind_context(const void* ucontext, SafeReader& reader, uintptr_t* pcs, int max);

// The calling thread's stack, starting in this function's caller's caller
// frame... precisely: pcs[0] is inside native_unwind_here's caller. sps (may
// be null) get each frame's stack pointer: frame i's locals lie in
// [sps[i], sps[i + 1]). Reads memory directly: for the thread's own, live
// stack (malloc hooks, start-up checks). May scan (not in a signal handler).
int native_unwind_here(uintptr_t* pcs, uintptr_t* sps, int max);

// The entry and end addresses of the function (FDE) containing pc, from the
// unwind information; false if none covers it.
bool native_function_bounds(uintptr_t pc, uintptr_t* start, uintptr_t* end);

}  // namespace yep
