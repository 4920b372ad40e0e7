#include "malloc_hooks.h"

#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>

#include "cpu_profiler.h"  // CaptureError

namespace yep {

namespace {

template <typename F>
void find(F& f, const char* name) {
  f = reinterpret_cast<F>(dlsym(RTLD_DEFAULT, name));
}

// The interposer is found only when preloaded (dlsym's default scope holds
// the executable, the preloaded libraries and what they need; yep's module,
// loaded by Python with RTLD_LOCAL, is not in it).
MallocHooks interposer() {
  MallocHooks h;
  find(h.add_new_hook, "yep_malloc_add_new_hook");
  find(h.add_delete_hook, "yep_malloc_add_delete_hook");
  find(h.add_map_hook, "yep_malloc_add_map_hook");
  find(h.add_unmap_hook, "yep_malloc_add_unmap_hook");
  find(h.allocated_size, "yep_malloc_allocated_size");
  find(h.numeric_property, "yep_malloc_numeric_property");
  return h;
}

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

MallocHooks tcmalloc() {
  MallocHooks h;
  if (!tcmalloc_is_allocator()) return h;
  find(h.add_new_hook, "MallocHook_AddNewHook");
  find(h.add_delete_hook, "MallocHook_AddDeleteHook");
  find(h.allocated_size, "MallocExtension_GetAllocatedSize");
  find(h.numeric_property, "MallocExtension_GetNumericProperty");
  return h;
}

bool complete(const MallocHooks& h) {
  return h.add_new_hook && h.add_delete_hook && h.allocated_size && h.numeric_property;
}

const MallocHooks& hooks() {
  static const MallocHooks h = [] {
    MallocHooks found = interposer();
    return complete(found) ? found : tcmalloc();
  }();
  return h;
}

}  // namespace

bool malloc_hooks_available() { return complete(hooks()); }

// libyepmalloc.so beside yep's module (both are installed in the package's
// folder, in a wheel too: the interposer needs only libc).
std::string malloc_hooks_library() {
  static const std::string path = [] {
    Dl_info info{};
    if (dladdr(reinterpret_cast<void*>(&malloc_hooks_library), &info) && info.dli_fname) {
      const std::string module = info.dli_fname;
      const std::string dir = module.substr(0, module.rfind('/') + 1);
      if (::access((dir + "libyepmalloc.so").c_str(), R_OK) == 0) return dir + "libyepmalloc.so";
    }
    return std::string("libyepmalloc.so");
  }();
  return path;
}

const MallocHooks& require_malloc_hooks(const std::string& what, const std::string& command) {
  if (!malloc_hooks_available())
    throw CaptureError("yep's malloc hooks are not in this process, so " + what + "; run the program with `python -m yep " +
                       command + " script.py`, or start Python with LD_PRELOAD=" + malloc_hooks_library());
  return hooks();
}

}  // namespace yep
