#include "python_allocator_hook.h"

#include <Python.h>

#include "heap_sampler.h"

namespace yep {

__attribute__((tls_model("initial-exec"))) thread_local int python_allocator_depth = 0;

namespace {

void (*new_hook)(const void*, size_t) = nullptr;
void (*delete_hook)(const void*) = nullptr;

struct Domain {
  PyMemAllocatorDomain domain;
  PyMemAllocatorEx original;
  bool wrapped;
};
Domain domains[] = {{PYMEM_DOMAIN_MEM, {}, false}, {PYMEM_DOMAIN_OBJ, {}, false}};

// The original's call, marked as inside Python's allocator.
template <typename Call>
__attribute__((always_inline)) inline void* forward(Call call) {
  ++python_allocator_depth;
  void* p = call();
  --python_allocator_depth;
  return p;
}

// Inline: these run on every Python allocation and free.
__attribute__((always_inline)) inline void sampled(void* p, size_t size) {
  if (p && heap_sampler_take(size)) new_hook(p, size);
}

__attribute__((always_inline)) inline void seen_free(void* p) {
  if (p && heap_sampler_maybe_sampled(p)) delete_hook(p);
}

void* wrapped_malloc(void* ctx, size_t size) {
  const PyMemAllocatorEx& a = static_cast<Domain*>(ctx)->original;
  void* p = forward([&] { return a.malloc(a.ctx, size); });
  sampled(p, size);
  return p;
}

void* wrapped_calloc(void* ctx, size_t n, size_t size) {
  const PyMemAllocatorEx& a = static_cast<Domain*>(ctx)->original;
  void* p = forward([&] { return a.calloc(a.ctx, n, size); });
  sampled(p, n * size);  // pymalloc checked n * size for overflow
  return p;
}

void* wrapped_realloc(void* ctx, void* old, size_t size) {
  const PyMemAllocatorEx& a = static_cast<Domain*>(ctx)->original;
  seen_free(old);
  void* p = forward([&] { return a.realloc(a.ctx, old, size); });
  sampled(p, size);  // (a failed realloc leaves the old block unrecorded)
  return p;
}

void wrapped_free(void* ctx, void* p) {
  const PyMemAllocatorEx& a = static_cast<Domain*>(ctx)->original;
  seen_free(p);
  // (Not marked inside: a free that reaches malloc's hooks finds the block
  // already forgotten, at the cost of a filter load.)
  a.free(a.ctx, p);
}

bool goes_to_malloc(const PyMemAllocatorEx& a) {
  PyMemAllocatorEx raw;
  PyMem_GetAllocator(PYMEM_DOMAIN_RAW, &raw);
  return a.malloc == raw.malloc && a.ctx == raw.ctx;
}

}  // namespace

bool python_allocator_wrap(void (*on_sampled)(const void*, size_t), void (*on_delete)(const void*)) {
  new_hook = on_sampled;
  delete_hook = on_delete;
  bool any = false;
  for (Domain& d : domains) {
    if (d.wrapped) {
      any = true;
      continue;
    }
    PyMem_GetAllocator(d.domain, &d.original);
    if (goes_to_malloc(d.original)) continue;
    PyMemAllocatorEx wrapper{&d, wrapped_malloc, wrapped_calloc, wrapped_realloc, wrapped_free};
    PyMem_SetAllocator(d.domain, &wrapper);
    d.wrapped = any = true;
  }
  return any;
}

// A domain that another hook wrapped since (tracemalloc started after yep)
// stays wrapped: its hook calls through yep's wrapper, whose hooks record
// nothing once the recorder has stopped.
void python_allocator_unwrap() {
  for (Domain& d : domains) {
    if (!d.wrapped) continue;
    PyMemAllocatorEx now;
    PyMem_GetAllocator(d.domain, &now);
    if (now.malloc != wrapped_malloc || now.ctx != &d) continue;
    PyMem_SetAllocator(d.domain, &d.original);
    d.wrapped = false;
  }
}

}  // namespace yep
