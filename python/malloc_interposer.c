/* yep's malloc interposer, libyepmalloc.so: preloaded (LD_PRELOAD) by
 * `python -m yep --heap`, `yep memory`, `yep mprof run --heap` and %mprun's
 * kernel, so that yep's heap hooks see every malloc, free, calloc,
 * realloc and aligned allocation of the program, and every anonymous
 * mmap, munmap and mremap it makes itself, while the program keeps its own
 * allocator: each call is forwarded to the next definition in the lookup
 * order (glibc's malloc, or an allocator the program preloads after yep),
 * so RSS, fragmentation and the allocator's own mmap behave as in an
 * unprofiled run. (glibc supports replacing malloc this way: its own
 * internal calls, strdup's and fopen's, go through these symbols too.)
 *
 * Nothing happens until yep's module adds hooks (yep_malloc_add_*_hook,
 * looked up with dlsym: python/malloc_hooks.cpp): until then a call costs
 * one load and a branch more than the allocator's. A hook runs inside the
 * call, on the calling thread; a malloc made by a hook itself reaches no
 * hook (a per-thread flag), so hooks may allocate. Delete and unmap hooks
 * run before the block is given back, so another thread cannot be handed
 * the same address and record it before the free is recorded.
 *
 * Plain C with no C++ runtime: the library is loaded before everything
 * else, and its initial-exec TLS is part of the static TLS block. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>

#define EXPORT __attribute__((visibility("default")))
#define MAX_HOOKS 4

typedef void (*new_hook)(const void*, size_t);
typedef void (*delete_hook)(const void*);
typedef int (*unmap_hook)(const void*, size_t); /* returns 1 when it knew the mapping */

static new_hook new_hooks[MAX_HOOKS];
static delete_hook delete_hooks[MAX_HOOKS];
static new_hook map_hooks[MAX_HOOKS];
static unmap_hook unmap_hooks[MAX_HOOKS];
static int any_hook; /* set once a hook is added: the fast path reads only this */
static __thread int in_hook __attribute__((tls_model("initial-exec")));

/* ---- the next allocator ---------------------------------------------------
 * Found with dlsym(RTLD_NEXT) on first use. dlsym may itself allocate (its
 * error buffer): those few blocks come from a static arena and are never
 * given back. */
static void* (*next_malloc)(size_t);
static void (*next_free)(void*);
static void* (*next_calloc)(size_t, size_t);
static void* (*next_realloc)(void*, size_t);
static void* (*next_memalign)(size_t, size_t);
static int (*next_posix_memalign)(void**, size_t, size_t);
static void* (*next_aligned_alloc)(size_t, size_t);
static void* (*next_valloc)(size_t);
static void* (*next_pvalloc)(size_t);
static size_t (*next_usable_size)(void*);
static void* (*next_mmap)(void*, size_t, int, int, int, off_t);
static int (*next_munmap)(void*, size_t);
static void* (*next_mremap)(void*, size_t, size_t, int, ...);
static struct mallinfo2 (*next_mallinfo2)(void);

static _Alignas(64) char arena[1 << 16];
static size_t arena_used;
static int resolving;

static int from_arena(const void* p) { return (const char*)p >= arena && (const char*)p < arena + sizeof arena; }

static void* arena_alloc(size_t size) {
  const size_t at = (arena_used + 15) & ~(size_t)15;
  if (size > sizeof arena - at) return NULL;
  arena_used = at + size;
  return arena + at; /* static storage: already zero */
}

#define FIND(var, name) var = (__typeof__(var))dlsym(RTLD_NEXT, name)

static void resolve(void) {
  resolving = 1;
  FIND(next_malloc, "malloc");
  FIND(next_free, "free");
  FIND(next_calloc, "calloc");
  FIND(next_realloc, "realloc");
  FIND(next_memalign, "memalign");
  FIND(next_posix_memalign, "posix_memalign");
  FIND(next_aligned_alloc, "aligned_alloc");
  FIND(next_valloc, "valloc");
  FIND(next_pvalloc, "pvalloc");
  FIND(next_usable_size, "malloc_usable_size");
  FIND(next_mmap, "mmap");
  FIND(next_munmap, "munmap");
  FIND(next_mremap, "mremap");
  FIND(next_mallinfo2, "mallinfo2");
  resolving = 0;
}

#define READY(fn) (fn || (resolve(), fn))

/* ---- hooks ---------------------------------------------------------------- */

static void run_new(new_hook* hooks, const void* p, size_t size) {
  if (!p || in_hook) return;
  in_hook = 1;
  for (int i = 0; i < MAX_HOOKS; ++i) {
    new_hook h = __atomic_load_n(&hooks[i], __ATOMIC_ACQUIRE);
    if (h) h(p, size);
  }
  in_hook = 0;
}

static void run_delete(const void* p) {
  if (!p || in_hook) return;
  in_hook = 1;
  for (int i = 0; i < MAX_HOOKS; ++i) {
    delete_hook h = __atomic_load_n(&delete_hooks[i], __ATOMIC_ACQUIRE);
    if (h) h(p);
  }
  in_hook = 0;
}

/* Whether any unmap hook knew the mapping. */
static int run_unmap(const void* p, size_t length) {
  if (!p || in_hook) return 0;
  in_hook = 1;
  int known = 0;
  for (int i = 0; i < MAX_HOOKS; ++i) {
    unmap_hook h = __atomic_load_n(&unmap_hooks[i], __ATOMIC_ACQUIRE);
    if (h) known |= h(p, length);
  }
  in_hook = 0;
  return known;
}

static inline int hooked(void) { return __atomic_load_n(&any_hook, __ATOMIC_RELAXED); }

static int add(void** hooks, void* hook) {
  if (!hook) return 0;
  for (int i = 0; i < MAX_HOOKS; ++i) {
    void* empty = NULL;
    if (__atomic_compare_exchange_n(&hooks[i], &empty, hook, 0, __ATOMIC_RELEASE, __ATOMIC_RELAXED)) {
      __atomic_store_n(&any_hook, 1, __ATOMIC_RELEASE);
      return 1;
    }
  }
  return 0;
}

/* The interface yep's module looks up (same shapes as gperftools' MallocHook
 * and MallocExtension). Each returns 1 on success, 0 when full. */
EXPORT int yep_malloc_add_new_hook(new_hook h) { return add((void**)new_hooks, (void*)h); }
EXPORT int yep_malloc_add_delete_hook(delete_hook h) { return add((void**)delete_hooks, (void*)h); }
/* Anonymous mappings made by the program: (address, length) after a
 * successful mmap, and before munmap (length as given; the hook says
 * whether it knew the mapping, so that mremap carries only those on). */
EXPORT int yep_malloc_add_map_hook(new_hook h) { return add((void**)map_hooks, (void*)h); }
EXPORT int yep_malloc_add_unmap_hook(unmap_hook h) { return add((void**)unmap_hooks, (void*)h); }
/* The allocator's size of a live block (malloc_usable_size). */
EXPORT size_t yep_malloc_allocated_size(const void* p) {
  if (!p || from_arena(p) || !READY(next_usable_size)) return 0;
  return next_usable_size((void*)p);
}
/* "generic.current_allocated_bytes": the bytes the allocator has handed out
 * and not taken back (glibc's mallinfo2: in-use chunks plus mmap'ed ones). */
EXPORT int yep_malloc_numeric_property(const char* name, size_t* value) {
  if (!name || !value || strcmp(name, "generic.current_allocated_bytes") != 0 || !READY(next_mallinfo2)) return 0;
  const struct mallinfo2 m = next_mallinfo2();
  *value = m.uordblks + m.hblkhd;
  return 1;
}

/* ---- the malloc family ---------------------------------------------------- */

EXPORT void* malloc(size_t size) {
  if (!READY(next_malloc)) return resolving ? arena_alloc(size) : NULL;
  void* p = next_malloc(size);
  if (hooked()) run_new(new_hooks, p, size);
  return p;
}

EXPORT void free(void* p) {
  if (!p || from_arena(p)) return;
  if (hooked()) run_delete(p);
  if (READY(next_free)) next_free(p);
}

EXPORT void* calloc(size_t n, size_t size) {
  if (!READY(next_calloc)) {
    if (!resolving || (size && n > SIZE_MAX / size)) return NULL;
    return arena_alloc(n * size);
  }
  void* p = next_calloc(n, size);
  if (hooked()) run_new(new_hooks, p, n * size);
  return p;
}

EXPORT void* realloc(void* old, size_t size) {
  if (old && from_arena(old)) { /* a block of the start-up arena: copy it out */
    void* p = malloc(size);
    if (p) memcpy(p, old, size < (size_t)(arena + sizeof arena - (char*)old) ? size : (size_t)(arena + sizeof arena - (char*)old));
    return p;
  }
  if (!READY(next_realloc)) return NULL;
  if (old && hooked()) run_delete(old);
  void* p = next_realloc(old, size);
  if (hooked()) {
    if (p) run_new(new_hooks, p, size);
    else if (old && size) run_new(new_hooks, old, next_usable_size ? next_usable_size(old) : 0); /* failed: still there */
  }
  return p;
}

EXPORT void* memalign(size_t alignment, size_t size) {
  if (!READY(next_memalign)) return NULL;
  void* p = next_memalign(alignment, size);
  if (hooked()) run_new(new_hooks, p, size);
  return p;
}

EXPORT int posix_memalign(void** out, size_t alignment, size_t size) {
  if (!READY(next_posix_memalign)) return ENOMEM;
  const int rc = next_posix_memalign(out, alignment, size);
  if (rc == 0 && hooked()) run_new(new_hooks, *out, size);
  return rc;
}

EXPORT void* aligned_alloc(size_t alignment, size_t size) {
  if (!READY(next_aligned_alloc)) return NULL;
  void* p = next_aligned_alloc(alignment, size);
  if (hooked()) run_new(new_hooks, p, size);
  return p;
}

EXPORT void* valloc(size_t size) {
  if (!READY(next_valloc)) return NULL;
  void* p = next_valloc(size);
  if (hooked()) run_new(new_hooks, p, size);
  return p;
}

EXPORT void* pvalloc(size_t size) {
  if (!READY(next_pvalloc)) return NULL;
  void* p = next_pvalloc(size);
  if (hooked()) run_new(new_hooks, p, size);
  return p;
}

/* ---- anonymous mappings ----------------------------------------------------
 * Only the program's own calls pass here: glibc's malloc and the loader map
 * memory through internal calls. */

EXPORT void* mmap(void* addr, size_t length, int prot, int flags, int fd, off_t offset) {
  if (!READY(next_mmap)) {
    errno = ENOSYS;
    return MAP_FAILED;
  }
  void* p = next_mmap(addr, length, prot, flags, fd, offset);
  if (p != MAP_FAILED && (flags & MAP_ANONYMOUS) && hooked()) run_new(map_hooks, p, length);
  return p;
}

EXPORT void* mmap64(void* addr, size_t length, int prot, int flags, int fd, off_t offset)
    __attribute__((alias("mmap")));

EXPORT int munmap(void* addr, size_t length) {
  if (!READY(next_munmap)) {
    errno = ENOSYS;
    return -1;
  }
  if (hooked()) run_unmap(addr, length);
  return next_munmap(addr, length);
}

/* A recorded mapping that moves or changes size: for the hooks the old one
 * is unmapped and a new one mapped (the kernel keeps the contents). */
EXPORT void* mremap(void* old, size_t old_size, size_t new_size, int flags, ...) {
  void* new_address = NULL;
  if (flags & MREMAP_FIXED) {
    va_list args;
    va_start(args, flags);
    new_address = va_arg(args, void*);
    va_end(args);
  }
  if (!READY(next_mremap)) {
    errno = ENOSYS;
    return MAP_FAILED;
  }
  const int known = hooked() && run_unmap(old, old_size);
  void* p = next_mremap(old, old_size, new_size, flags, new_address);
  if (known) run_new(map_hooks, p != MAP_FAILED ? p : old, p != MAP_FAILED ? new_size : old_size);
  return p;
}
