#include "allocation_counter.h"

#include <atomic>

#include "tcmalloc.h"

namespace yep {

namespace {

__attribute__((tls_model("initial-exec"))) thread_local int64_t net = 0;
__attribute__((tls_model("initial-exec"))) thread_local int64_t peak = 0;
size_t (*allocated_size)(const void*) = nullptr;
std::atomic<bool> installed{false};

void on_new(const void* ptr, size_t) {
  if (!ptr) return;
  net += static_cast<int64_t>(allocated_size(ptr));
  if (net > peak) peak = net;
}

void on_delete(const void* ptr) {
  if (ptr) net -= static_cast<int64_t>(allocated_size(ptr));
}

}  // namespace

void allocation_counter_install() {
  const Tcmalloc& t = require_tcmalloc("yep cannot count the bytes each line allocates", "memory");
  if (installed.exchange(true)) return;
  allocated_size = t.allocated_size;
  t.add_new_hook(on_new);
  t.add_delete_hook(on_delete);
}

ThreadAllocations thread_allocations() { return {net, peak}; }

void reset_thread_peak() { peak = net; }

}  // namespace yep
