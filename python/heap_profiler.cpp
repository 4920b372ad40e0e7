#include "heap_profiler.h"

#include "heap_recorder.h"
#include "malloc_hooks.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <string_view>
#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace yep {

namespace {

const MallocHooks& heap_hooks() {
  return require_malloc_hooks("the heap profiler would record nothing", "--heap");
}

const MallocHooks* hooked = nullptr;  // set before the stats hooks are added

std::string session_prefix;

std::string absolute(const std::string& path) {
  if (!path.empty() && path[0] == '/') return path;
  char cwd[4096];
  return ::getcwd(cwd, sizeof cwd) ? std::string(cwd) + "/" + path : path;
}

// Heap statistics kept by the malloc hooks.
std::atomic<int64_t> live{0}, peak{0}, allocations{0}, frees{0};
std::atomic<bool> hooks_installed{false};

void raise_peak(int64_t now) {
  int64_t seen = peak.load(std::memory_order_relaxed);
  while (now > seen && !peak.compare_exchange_weak(seen, now, std::memory_order_relaxed)) {
  }
}

// Each thread sums its mallocs and frees here and adds them to the totals
// above once its bytes reach +-kFlushBytes or after kFlushEvents calls:
// three locked adds on every malloc cost more than the rest of the sampled
// mode's hooks together (perf: 8 of its 15% over an unprofiled run). The
// totals and the peak are behind by less than kFlushBytes per thread; a
// thread's own heap_stats call adds its share first (exact for it); a
// thread that ends leaves its last share (under kFlushBytes) uncounted.
// Plain initial-exec TLS: no allocation, no destructor to register.
constexpr int64_t kFlushBytes = 16 << 10;
constexpr int64_t kFlushEvents = 256;
struct Pending {
  int64_t bytes, allocations, frees;
};
__attribute__((tls_model("initial-exec"))) thread_local Pending pending{0, 0, 0};

void flush_pending() {
  Pending p = pending;
  pending = Pending{0, 0, 0};
  allocations.fetch_add(p.allocations, std::memory_order_relaxed);
  frees.fetch_add(p.frees, std::memory_order_relaxed);
  raise_peak(live.fetch_add(p.bytes, std::memory_order_relaxed) + p.bytes);
}

void on_new(const void* ptr, size_t) {
  if (!ptr || heap_recorder_dumping()) return;  // the dump's own memory is not the program's
  pending.bytes += static_cast<int64_t>(hooked->allocated_size(ptr));
  if (++pending.allocations + pending.frees >= kFlushEvents || pending.bytes >= kFlushBytes) flush_pending();
}

void on_delete(const void* ptr) {
  if (!ptr || heap_recorder_dumping()) return;
  pending.bytes -= static_cast<int64_t>(hooked->allocated_size(ptr));
  if (pending.allocations + ++pending.frees >= kFlushEvents || pending.bytes <= -kFlushBytes) flush_pending();
}

void install_hooks(const MallocHooks& t) {
  if (hooks_installed.exchange(true)) return;
  hooked = &t;
  size_t current = 0;
  t.numeric_property("generic.current_allocated_bytes", &current);
  live.store(static_cast<int64_t>(current));
  peak.store(static_cast<int64_t>(current));
  t.add_new_hook(on_new);
  t.add_delete_hook(on_delete);
}

}  // namespace

bool heap_profiler_running() { return heap_recorder_running(); }

namespace {

// gperftools' environment variables for periodic dumps, read at start.
int64_t env_number(const char* name, int64_t fallback) {
  const char* value = std::getenv(name);
  if (!value || !*value) return fallback;
  char* end = nullptr;
  long long n = std::strtoll(value, &end, 10);
  return end && *end == '\0' && n >= 0 ? n : fallback;
}

// Whether a file is one this user's yep wrote: a regular file (not a
// link) owned by this user, starting with `magic` ("heap profile:" for a
// dump). Another user's files in a shared folder are never counted, nor deleted.
bool own_file(const char* path, std::string_view magic) {
  struct stat st {};
  if (::lstat(path, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != ::geteuid()) return false;
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) return false;
  char head[32] = {};
  const bool ours = magic.size() <= sizeof head &&
                    ::read(fd, head, magic.size()) == static_cast<ssize_t>(magic.size()) &&
                    std::memcmp(head, magic.data(), magic.size()) == 0;
  ::close(fd);
  return ours;
}

std::vector<std::string> dumps_on_disk(const std::string& prefix) {
  std::vector<std::string> out;
  glob_t g{};
  if (glob((prefix + ".[0-9][0-9][0-9][0-9]*.heap").c_str(), 0, nullptr, &g) == 0)
    for (size_t i = 0; i < g.gl_pathc; ++i)
      if (own_file(g.gl_pathv[i], "heap profile:")) out.push_back(g.gl_pathv[i]);
  globfree(&g);
  // Numbered order (10000 after 9999).
  std::sort(out.begin(), out.end(), [](const std::string& a, const std::string& b) {
    return a.size() != b.size() ? a.size() < b.size() : a < b;
  });
  return out;
}

}  // namespace

void heap_profiler_start(const std::string& prefix, const HeapMixed& mixed, const HeapSampling& sampling) {
  const MallocHooks& t = heap_hooks();
  if (heap_recorder_running())
    throw CaptureError("the heap profiler is already running (prefix '" + session_prefix +
                       "'); call yep.heap_stop() first");
  if (prefix.empty()) throw CaptureError("no heap profile prefix given");
  const std::string full = absolute(prefix);
  const std::string dir = full.substr(0, full.rfind('/') + 1);
  if (::access(dir.c_str(), W_OK) != 0)
    throw CaptureError("cannot write heap profiles to '" + prefix + "': " + std::strerror(errno) +
                       "; choose a prefix in a writable directory");
  // Like gperftools: a new session replaces the old one's numbered files
  // (only this user's heap dumps: dumps_on_disk).
  for (const std::string& old : dumps_on_disk(full)) ::unlink(old.c_str());
  if (own_file((full + ".stacks").c_str(), "yep heap stacks")) ::unlink((full + ".stacks").c_str());
  HeapDumpIntervals intervals;
  // By volume only when asked in the sampled mode: it is meant to stay on,
  // and a server churning 4 GiB a minute wrote 4 dumps a second.
  intervals.allocated_bytes =
      env_number("HEAP_PROFILE_ALLOCATION_INTERVAL", sampling.mean > 0 ? 0 : intervals.allocated_bytes);
  intervals.inuse_bytes = env_number("HEAP_PROFILE_INUSE_INTERVAL", intervals.inuse_bytes);
  intervals.seconds = env_number("HEAP_PROFILE_TIME_INTERVAL", intervals.seconds);
  session_prefix = full;
  heap_recorder_start(t, full, intervals, mixed, sampling);
}

std::string heap_profiler_dump(const std::string& reason) {
  heap_hooks();
  (void)reason;  // gperftools logs it; the file format has no place for it
  return heap_recorder_dump();
}

std::vector<std::string> heap_profiler_stop() {
  heap_hooks();
  if (!heap_recorder_running())
    throw CaptureError("the heap profiler is not running; call yep.heap_start() first");
  heap_recorder_dump(/*last=*/true);
  heap_recorder_stop();
  return dumps_on_disk(session_prefix);
}

HeapStats heap_stats(bool reset_peak) {
  install_hooks(heap_hooks());
  flush_pending();  // this thread's share (another's is behind by less than kFlushBytes)
  HeapStats s;
  s.live_bytes = live.load();
  s.peak_bytes = std::max(peak.load(), s.live_bytes);
  s.allocations = allocations.load();
  s.frees = frees.load();
  if (reset_peak) peak.store(s.live_bytes);
  return s;
}

}  // namespace yep
