#include "tcmalloc.h"

#include <dlfcn.h>

#include <cstdlib>

#include "cpu_profiler.h"  // CaptureError

#ifndef YEP_TCMALLOC_LIBRARY
#define YEP_TCMALLOC_LIBRARY "libtcmalloc.so.4"
#endif

namespace yep {

namespace {

template <typename F>
void find(F& f, const char* name) {
  f = reinterpret_cast<F>(dlsym(RTLD_DEFAULT, name));
}

const Tcmalloc& entry_points() {
  static const Tcmalloc t = [] {
    Tcmalloc t;
    find(t.add_new_hook, "MallocHook_AddNewHook");
    find(t.add_delete_hook, "MallocHook_AddDeleteHook");
    find(t.allocated_size, "MallocExtension_GetAllocatedSize");
    find(t.numeric_property, "MallocExtension_GetNumericProperty");
    return t;
  }();
  return t;
}

}  // namespace

// Asks tcmalloc whether it owns a block malloc just returned. (Comparing
// dlsym(RTLD_DEFAULT, "malloc") with tc_malloc is wrong for non-PIE
// executables such as Debian's /usr/bin/python3.X: there the lookup finds
// the executable's own PLT stub for malloc, whatever the allocator.)
bool tcmalloc_is_allocator() {
  using Ownership = int (*)(const void*);
  const auto owns = reinterpret_cast<Ownership>(dlsym(RTLD_DEFAULT, "MallocExtension_GetOwnership"));
  if (!owns) return false;
  void* block = std::malloc(64);
  const bool owned = block && owns(block) == 1;  // MallocExtension_kOwned
  std::free(block);
  return owned;
}

std::string tcmalloc_library() { return YEP_TCMALLOC_LIBRARY; }

const Tcmalloc& require_tcmalloc(const std::string& what, const std::string& command) {
  const Tcmalloc& t = entry_points();
  if (!tcmalloc_is_allocator() || !t.add_new_hook || !t.add_delete_hook || !t.allocated_size ||
      !t.numeric_property)
    throw CaptureError("tcmalloc is not this process's allocator, so " + what +
                       "; run the program with `python -m yep " + command +
                       " script.py`, or start Python with LD_PRELOAD=" + tcmalloc_library());
  return t;
}

}  // namespace yep
