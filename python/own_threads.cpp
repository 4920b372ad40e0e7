#include "own_threads.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <mutex>
#include <set>

namespace yep {

namespace {

std::mutex mutex;
std::set<uint64_t> own;

uint64_t this_thread() { return static_cast<uint64_t>(syscall(SYS_gettid)); }

}  // namespace

void mark_own_thread() {
  std::lock_guard<std::mutex> guard(mutex);
  own.insert(this_thread());
}

void unmark_own_thread() {
  std::lock_guard<std::mutex> guard(mutex);
  own.erase(this_thread());
}

bool is_own_thread(uint64_t tid) {
  std::lock_guard<std::mutex> guard(mutex);
  return own.count(tid) != 0;
}

}  // namespace yep
