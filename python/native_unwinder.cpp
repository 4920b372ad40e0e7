#include "native_unwinder.h"

#define UNW_LOCAL_ONLY
#include <dlfcn.h>
#include <libunwind.h>

namespace yep {

namespace {

struct Libunwind {
  int (*backtrace)(void**, int) = nullptr;
  int (*set_caching_policy)(unw_addr_space_t, unw_caching_policy_t) = nullptr;
  unw_addr_space_t* local_addr_space = nullptr;
};
Libunwind libunwind;

#define YEP_SYMBOL_NAME(x) YEP_SYMBOL_NAME2(x)
#define YEP_SYMBOL_NAME2(x) #x

}  // namespace

const char* native_unwinder_library() { return YEP_LIBUNWIND_LIBRARY; }

bool native_unwinder_load() {
  if (libunwind.backtrace) return true;
  void* handle = dlopen(YEP_LIBUNWIND_LIBRARY, RTLD_NOW | RTLD_LOCAL);
  if (!handle) return false;
  Libunwind found;
  found.backtrace = reinterpret_cast<int (*)(void**, int)>(dlsym(handle, "unw_backtrace"));
  found.set_caching_policy = reinterpret_cast<int (*)(unw_addr_space_t, unw_caching_policy_t)>(
      dlsym(handle, YEP_SYMBOL_NAME(unw_set_caching_policy)));
  found.local_addr_space = reinterpret_cast<unw_addr_space_t*>(dlsym(handle, YEP_SYMBOL_NAME(unw_local_addr_space)));
  if (!found.backtrace || !found.set_caching_policy || !found.local_addr_space) return false;
  found.set_caching_policy(*found.local_addr_space, UNW_CACHE_PER_THREAD);
  libunwind = found;
  return true;
}

int native_backtrace(void** pcs, int max) { return libunwind.backtrace(pcs, max); }

}  // namespace yep
