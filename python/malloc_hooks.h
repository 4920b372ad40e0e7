// Where yep's malloc hooks come from: yep's interposer (libyepmalloc.so,
// python/malloc_interposer.c), which yep preloads and which forwards every
// call to the program's own allocator; or, when a program runs under
// tcmalloc that it preloaded itself, gperftools' MallocHook. Neither is
// linked: the entry points are looked up with dlsym at run time, and a
// caller that needs them gets a CaptureError saying how to run the program
// so that the interposer is preloaded.
#pragma once

#include <cstddef>
#include <string>

namespace yep {

struct MallocHooks {
  int (*add_new_hook)(void (*)(const void*, size_t)) = nullptr;
  int (*add_delete_hook)(void (*)(const void*)) = nullptr;
  // Anonymous mmap/munmap/mremap of the program: the interposer's only
  // (null under tcmalloc). The unmap hook returns whether it knew the mapping.
  int (*add_map_hook)(void (*)(const void*, size_t)) = nullptr;
  int (*add_unmap_hook)(int (*)(const void*, size_t)) = nullptr;
  // The allocator's size of a live block (usable size: at least what was asked).
  size_t (*allocated_size)(const void*) = nullptr;
  // "generic.current_allocated_bytes": bytes handed out and not given back.
  int (*numeric_property)(const char*, size_t*) = nullptr;
};

// Whether this process's mallocs reach hooks (the interposer is preloaded,
// or tcmalloc is the allocator).
bool malloc_hooks_available();
// The interposer to LD_PRELOAD: the installed package's own copy.
std::string malloc_hooks_library();
// The hooks; throws CaptureError, saying how to run the program with the
// interposer (`python -m yep <command>` or the LD_PRELOAD line), unless
// malloc_hooks_available(). `command` is the yep sub-command to suggest.
const MallocHooks& require_malloc_hooks(const std::string& what, const std::string& command);

}  // namespace yep
