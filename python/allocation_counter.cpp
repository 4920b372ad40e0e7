#include "allocation_counter.h"

#include <atomic>

#include "malloc_hooks.h"

namespace yep {

__thread int64_t thread_net_bytes __attribute__((tls_model("initial-exec"))) = 0;
__thread int64_t thread_peak_bytes __attribute__((tls_model("initial-exec"))) = 0;

namespace {

size_t (*allocated_size)(const void*) = nullptr;
std::atomic<bool> installed{false};

void on_new(const void* ptr, size_t) {
  if (!ptr) return;
  const int64_t net = thread_net_bytes += static_cast<int64_t>(allocated_size(ptr));
  if (net > thread_peak_bytes) thread_peak_bytes = net;
}

void on_delete(const void* ptr) {
  if (ptr) thread_net_bytes -= static_cast<int64_t>(allocated_size(ptr));
}

}  // namespace

void allocation_counter_install() {
  const MallocHooks& t = require_malloc_hooks("yep cannot count the bytes each line allocates", "memory");
  if (installed.exchange(true)) return;
  allocated_size = t.allocated_size;
  t.add_new_hook(on_new);
  t.add_delete_hook(on_delete);
}

}  // namespace yep
