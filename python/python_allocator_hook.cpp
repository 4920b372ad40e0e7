#include "python_allocator_hook.h"

#include <Python.h>
#include <dlfcn.h>

#include <cstring>

#include "heap_sampler.h"

namespace yep {

__thread int python_allocator_depth __attribute__((tls_model("initial-exec"))) = 0;

namespace {

void (*new_hook)(const void*, size_t) = nullptr;
void (*delete_hook)(const void*) = nullptr;

struct Domain {
  PyMemAllocatorDomain domain;
  PyMemAllocatorEx original;
  bool wrapped;
};
Domain domains[] = {{PYMEM_DOMAIN_MEM, {}, false}, {PYMEM_DOMAIN_OBJ, {}, false}};

// Under pymalloc itself (no debug hooks, which make each request larger;
// no other allocator), see the header: small requests go unmarked, sampled
// ones are served outside the pools, and frees are not wrapped.
constexpr size_t kPymallocLargest = 512;  // pymalloc's SMALL_REQUEST_THRESHOLD
bool plain = false;
PyObjectArenaAllocator original_arena{};
bool arena_wrapped = false;

// The original's call, marked as inside Python's allocator.
template <typename Call>
__attribute__((always_inline)) inline void* forward(Call call) {
  ++python_allocator_depth;
  void* p = call();
  --python_allocator_depth;
  return p;
}

// Inline: these run on every Python allocation.
__attribute__((always_inline)) inline void sampled(void* p, size_t size) {
  if (p && heap_sampler_take(size)) new_hook(p, size);
}

__attribute__((always_inline)) inline void seen_free(void* p) {
  if (p && heap_sampler_maybe_sampled(p)) delete_hook(p);
}

__attribute__((always_inline)) inline bool small(size_t size) { return plain && size - 1 < kPymallocLargest; }

// The rarer paths, out of line so that the common ones need no stack frame.
__attribute__((noinline)) void* marked_malloc(const PyMemAllocatorEx& a, size_t size) {
  void* p = forward([&] { return a.malloc(a.ctx, size); });
  sampled(p, size);
  return p;
}

__attribute__((noinline)) void* marked_calloc(const PyMemAllocatorEx& a, size_t n, size_t size) {
  void* p = forward([&] { return a.calloc(a.ctx, n, size); });
  sampled(p, n * size);  // pymalloc checked n * size for overflow
  return p;
}

// A small request whose countdown ran out: the sampler decides. A sampled
// one is asked of pymalloc as a request one byte too big for its pools, so
// pymalloc serves it from malloc (and counts it as its own); its free, which
// pymalloc hands on to free(), reaches the recorder through malloc's hooks.
__attribute__((noinline, cold)) void* small_malloc_at_zero(const PyMemAllocatorEx& a, size_t size) {
  if (!heap_sampler_slow(size)) return a.malloc(a.ctx, size);
  void* p = forward([&] { return a.malloc(a.ctx, kPymallocLargest + 1); });
  if (p) new_hook(p, size);
  return p;
}

__attribute__((noinline, cold)) void* small_calloc_at_zero(const PyMemAllocatorEx& a, size_t n, size_t size) {
  if (!heap_sampler_slow(n * size)) return a.calloc(a.ctx, n, size);
  void* p = forward([&] { return a.calloc(a.ctx, 1, kPymallocLargest + 1); });
  if (p) new_hook(p, n * size);
  return p;
}

__attribute__((noinline, cold)) void forget_then_free(const PyMemAllocatorEx& a, void* p) {
  delete_hook(p);
  a.free(a.ctx, p);
}

// One set of wrappers per domain (D: its index in domains), so that each
// finds its original without the context pointer, which stays the
// original's own: the original free can then stand in the wrapper as it is.
template <int D>
void* wrapped_malloc(void*, size_t size) {
  const PyMemAllocatorEx& a = domains[D].original;
  if (!small(size)) return marked_malloc(a, size);
  if (heap_sampler_passes(size)) return a.malloc(a.ctx, size);
  return small_malloc_at_zero(a, size);
}

template <int D>
void* wrapped_calloc(void*, size_t n, size_t size) {
  const PyMemAllocatorEx& a = domains[D].original;
  size_t bytes;
  if (__builtin_mul_overflow(n, size, &bytes) || !small(bytes)) return marked_calloc(a, n, size);
  if (heap_sampler_passes(bytes)) return a.calloc(a.ctx, n, size);
  return small_calloc_at_zero(a, n, size);
}

// (A failed realloc leaves the old block unrecorded.)
template <int D>
void* wrapped_realloc(void*, void* old, size_t size) {
  const PyMemAllocatorEx& a = domains[D].original;
  seen_free(old);
  if (small(size)) {
    // A sampled block must lie outside the pools, as in small_malloc_at_zero.
    const bool take = heap_sampler_take(size);
    void* p = forward([&] { return a.realloc(a.ctx, old, take ? kPymallocLargest + 1 : size); });
    if (p && take) new_hook(p, size);
    return p;
  }
  void* p = forward([&] { return a.realloc(a.ctx, old, size); });
  sampled(p, size);
  return p;
}

// Only when the domain is not plain pymalloc. (Not marked inside: a free
// that reaches malloc's hooks finds the block already forgotten, at the cost
// of a filter load.)
template <int D>
void wrapped_free(void*, void* p) {
  const PyMemAllocatorEx& a = domains[D].original;
  if (p && heap_sampler_maybe_sampled(p)) return forget_then_free(a, p);
  a.free(a.ctx, p);
}

template <int D>
PyMemAllocatorEx wrapper_of(const PyMemAllocatorEx& original) {
  return {original.ctx, wrapped_malloc<D>, wrapped_calloc<D>, wrapped_realloc<D>,
          plain ? original.free : wrapped_free<D>};
}
static_assert(sizeof domains / sizeof domains[0] == 2, "wrapper_of<0> and <1>");

void* wrapped_arena_alloc(void*, size_t size) {
  return forward([&] { return original_arena.alloc(original_arena.ctx, size); });
}

void wrapped_arena_free(void*, void* p, size_t size) {
  forward([&] {
    original_arena.free(original_arena.ctx, p, size);
    return nullptr;
  });
}

bool goes_to_malloc(const PyMemAllocatorEx& a) {
  PyMemAllocatorEx raw;
  PyMem_GetAllocator(PYMEM_DOMAIN_RAW, &raw);
  return a.malloc == raw.malloc && a.ctx == raw.ctx;
}

// Whether Python's allocators are pymalloc's own, unhooked (its name for
// them, asked before yep wraps them; not every build exports the question).
bool plain_pymalloc() {
  using Name = const char* (*)();
  const auto name = reinterpret_cast<Name>(dlsym(RTLD_DEFAULT, "_PyMem_GetCurrentAllocatorName"));
  const char* current = name ? name() : nullptr;
  return current && std::strcmp(current, "pymalloc") == 0;
}

}  // namespace

bool python_allocator_wrap(void (*on_sampled)(const void*, size_t), void (*on_delete)(const void*)) {
  new_hook = on_sampled;
  delete_hook = on_delete;
  if (!domains[0].wrapped && !domains[1].wrapped) {
    plain = plain_pymalloc();
    if (plain && !arena_wrapped) {
      PyObject_GetArenaAllocator(&original_arena);
      PyObjectArenaAllocator wrapper{nullptr, wrapped_arena_alloc, wrapped_arena_free};
      PyObject_SetArenaAllocator(&wrapper);
      arena_wrapped = true;
    }
  }
  bool any = false;
  for (int i = 0; i < 2; ++i) {
    Domain& d = domains[i];
    if (d.wrapped) {
      any = true;
      continue;
    }
    PyMem_GetAllocator(d.domain, &d.original);
    if (goes_to_malloc(d.original)) continue;
    PyMemAllocatorEx wrapper = i == 0 ? wrapper_of<0>(d.original) : wrapper_of<1>(d.original);
    PyMem_SetAllocator(d.domain, &wrapper);
    d.wrapped = any = true;
  }
  return any;
}

// A domain that another hook wrapped since (tracemalloc started after yep)
// stays wrapped: its hook calls through yep's wrapper, whose hooks record
// nothing once the recorder has stopped; so does the arena allocator while
// a domain does (its small requests still need the arenas marked).
void python_allocator_unwrap() {
  bool kept = false;
  for (int i = 0; i < 2; ++i) {
    Domain& d = domains[i];
    if (!d.wrapped) continue;
    PyMemAllocatorEx now;
    PyMem_GetAllocator(d.domain, &now);
    if (now.malloc != (i == 0 ? wrapped_malloc<0> : wrapped_malloc<1>)) {
      kept = true;
      continue;
    }
    PyMem_SetAllocator(d.domain, &d.original);
    d.wrapped = false;
  }
  if (arena_wrapped && !kept) {
    PyObjectArenaAllocator now;
    PyObject_GetArenaAllocator(&now);
    if (now.alloc == wrapped_arena_alloc) {
      PyObject_SetArenaAllocator(&original_arena);
      arena_wrapped = false;
    }
  }
}

}  // namespace yep
