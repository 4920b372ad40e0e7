// Finding tcmalloc at run time. libtcmalloc only works as the process's
// allocator (LD_PRELOAD'ed or linked into the executable), so yep never
// links it: its C entry points are looked up with dlsym, and callers check
// first that tcmalloc really is the allocator (it owns what malloc returns).
#pragma once

#include <cstddef>
#include <string>

namespace yep {

struct Tcmalloc {
  int (*add_new_hook)(void (*)(const void*, size_t)) = nullptr;
  int (*add_delete_hook)(void (*)(const void*)) = nullptr;
  size_t (*allocated_size)(const void*) = nullptr;
  int (*numeric_property)(const char*, size_t*) = nullptr;
};

// Whether tcmalloc is this process's allocator.
bool tcmalloc_is_allocator();
// The libtcmalloc to LD_PRELOAD (found when yep was built).
std::string tcmalloc_library();
// tcmalloc's entry points; throws CaptureError, saying how to run under
// tcmalloc (`python -m yep <command>` or the LD_PRELOAD line), unless
// tcmalloc is the allocator. `command` is the yep sub-command to suggest.
const Tcmalloc& require_tcmalloc(const std::string& what, const std::string& command);

}  // namespace yep
