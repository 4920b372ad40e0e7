// Python's own allocator in the sampled heap mode. Without PYTHONMALLOC=
// malloc, Python's objects come from pymalloc, which takes 256 KiB-1 MiB
// arenas from mmap and cuts them up: malloc's hooks never see an object.
// Forcing every object through malloc (what the exact mode does) costs
// glibc's malloc on each of them, more than the whole sampled mode's
// budget. So the sampled mode keeps pymalloc and wraps Python's "mem" and
// "object" allocator domains (PyMem_SetAllocator, as the C API allows for
// hooks): the wrapper forwards each call to pymalloc, and the blocks the
// sampler picks (heap_sampler.h: its countdown, inline here) go to the
// recorder, as do the frees of blocks its filter may have seen.
//
// While a wrapped call runs, the thread is "inside Python's allocator": a
// malloc pymalloc makes for a big object, or the mmap of a new arena, is
// the wrapped call's own and must not be recorded a second time.
//
// Under pymalloc itself (no debug hooks, no other allocator: most runs), the
// common calls cost a few instructions more than pymalloc's own:
// - a request of 1 to 512 bytes never reaches malloc (the arena allocator,
//   wrapped too, marks the mmaps of new arenas), so it is sampled before the
//   call, and an unsampled one goes on to pymalloc as a tail call, unmarked;
// - a sampled one is served outside pymalloc's pools (pymalloc is asked for
//   513 bytes, which it takes from malloc and counts as its own), so that
// - frees need no wrapper at all: pymalloc hands the free of a block outside
//   its pools on to free(), whose hooks find the sampled ones.
// Elsewhere every call is marked and every free goes through the filter.
#pragma once

#include <cstddef>

namespace yep {

// Wraps the two domains unless they already go to malloc (PYTHONMALLOC=
// malloc: then malloc's hooks see every object). on_sampled gets the
// blocks the sampler picked; on_delete the frees the sampler's filter may
// have seen. Needs the GIL. Returns whether it wrapped. Idempotent.
bool python_allocator_wrap(void (*on_sampled)(const void*, size_t), void (*on_delete)(const void*));
// Puts the domains' own allocators back (blocks allocated through the wrapper
// are freed by them directly). Needs the GIL.
void python_allocator_unwrap();

extern __thread int python_allocator_depth __attribute__((tls_model("initial-exec")));
inline bool inside_python_allocator() { return python_allocator_depth != 0; }

}  // namespace yep
