#include "tcmalloc.h"

#include <dirent.h>
#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <regex>

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

// The package's own copy first. A wheel carries tcmalloc as auditwheel
// grafted it (yep_profiler.libs/libtcmalloc-<hash>.so...), because the stub
// yep/_tcmalloc_anchor*.so links it; the stub's dynamic strings name the
// grafted file. Then the copy yep was built against; then the loader's own
// search for the system's.
std::string tcmalloc_library() {
  static const std::string path = [] {
    Dl_info info{};
    if (dladdr(reinterpret_cast<void*>(&tcmalloc_library), &info) && info.dli_fname) {
      const std::string module = info.dli_fname;
      const std::string dir = module.substr(0, module.rfind('/') + 1);
      const std::string parent = dir.size() > 1 ? dir.substr(0, dir.rfind('/', dir.size() - 2) + 1) : dir;
      if (DIR* d = ::opendir(dir.empty() ? "." : dir.c_str())) {
        std::string found;
        while (dirent* e = ::readdir(d)) {
          const std::string name = e->d_name;
          if (name.rfind("_tcmalloc_anchor", 0) != 0 || name.size() < 3 || name.substr(name.size() - 3) != ".so")
            continue;
          std::ifstream anchor(dir + name, std::ios::binary);
          std::string bytes(1 << 20, '\0');  // the dynamic strings are near the start of a small file
          anchor.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
          bytes.resize(static_cast<size_t>(anchor.gcount()));
          static const std::regex needed("libtcmalloc[-A-Za-z0-9_.]*\\.so[0-9.]*");
          for (std::sregex_iterator m(bytes.begin(), bytes.end(), needed), end; m != end && found.empty(); ++m)
            for (const std::string& libs : {parent + "yep_profiler.libs/", parent + "yep.libs/", dir})
              if (::access((libs + m->str()).c_str(), R_OK) == 0) {
                found = libs + m->str();
                break;
              }
        }
        ::closedir(d);
        if (!found.empty()) return found;
      }
    }
    if (::access(YEP_TCMALLOC_LIBRARY, R_OK) == 0) return std::string(YEP_TCMALLOC_LIBRARY);
    return std::string("libtcmalloc.so.4");
  }();
  return path;
}

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
