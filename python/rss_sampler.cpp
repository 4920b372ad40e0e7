#include "rss_sampler.h"

#include "cpu_profiler.h"  // CaptureError
#include "heap_recorder.h"  // HeapSampled
#include "own_threads.h"
#include "malloc_hooks.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <map>
#include <string>
#include <system_error>
#include <utility>

namespace yep {

namespace {

using Clock = std::chrono::steady_clock;

// Kernels without CONFIG_PROC_CHILDREN: how often /proc is scanned for the
// parent pids of every process (the scan reads one file per process).
constexpr auto kParentScanPeriod = std::chrono::milliseconds(50);
constexpr double kMaxSeconds = 1e6;  // longest interval or wait accepted

std::string proc_path(int pid, const char* file) { return "/proc/" + std::to_string(pid) + "/" + file; }

// An open /proc file, read whole from offset 0 each time.
class ProcFile {
 public:
  ProcFile() = default;
  ~ProcFile() { close(); }
  ProcFile(ProcFile&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  ProcFile& operator=(ProcFile&& o) noexcept {
    if (this != &o) {
      close();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }

  // Returns 0 or the errno of open().
  int open(const std::string& path) {
    close();
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    return fd_ < 0 ? errno : 0;
  }
  bool is_open() const { return fd_ >= 0; }

  // The whole file into buf (NUL-terminated, grown as needed); its length,
  // or -1 (errno set: ESRCH once the process is gone). /proc files are
  // seq_files: a read stops short of the buffer's end only at the end of the
  // file or before a record that does not fit, and no record of the files
  // read here is longer than kLongestRecord, so one pread is usually all.
  ssize_t read(std::vector<char>& buf) const {
    constexpr size_t kLongestRecord = 64;
    size_t used = 0;
    for (;;) {
      if (buf.size() < used + 2 * kLongestRecord) buf.resize(std::max<size_t>(1024, buf.size() * 2));
      const size_t room = buf.size() - used - 1;
      const ssize_t n = ::pread(fd_, buf.data() + used, room, static_cast<off_t>(used));
      if (n < 0) {
        if (errno == EINTR) continue;
        return -1;
      }
      used += static_cast<size_t>(n);
      if (n == 0 || static_cast<size_t>(n) + kLongestRecord < room) break;
    }
    buf[used] = '\0';
    return static_cast<ssize_t>(used);
  }

 private:
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  int fd_ = -1;
};

// A /proc directory kept open and listed again from its start each time.
class ProcDir {
 public:
  ProcDir() = default;
  ~ProcDir() {
    if (dir_) ::closedir(dir_);
  }
  ProcDir(ProcDir&& o) noexcept : dir_(std::exchange(o.dir_, nullptr)) {}
  ProcDir& operator=(ProcDir&&) = delete;

  bool open(const std::string& path) {
    if (!dir_) dir_ = ::opendir(path.c_str());
    return dir_ != nullptr;
  }
  // The entries whose names are numbers (pids, tids).
  void list_numbers(std::vector<int>& out) {
    ::rewinddir(dir_);
    while (const dirent* e = ::readdir(dir_)) {
      const char* s = e->d_name;
      int n = 0;
      for (; *s >= '0' && *s <= '9'; ++s) n = n * 10 + (*s - '0');
      if (!*s && s != e->d_name) out.push_back(n);
    }
  }

 private:
  DIR* dir_ = nullptr;
};

int64_t parse_int(const char*& p) {
  while (*p == ' ' || *p == '\t' || *p == '\n') ++p;
  int64_t n = 0;
  while (*p >= '0' && *p <= '9') n = n * 10 + (*p++ - '0');
  return n;
}

// Every number in a whitespace-separated list ("123 456 ").
void parse_pids(const char* p, std::vector<int>& out) {
  for (;;) {
    while (*p == ' ' || *p == '\n') ++p;
    if (*p < '0' || *p > '9') return;
    out.push_back(static_cast<int>(parse_int(p)));
  }
}

std::string errno_text(int err) { return std::strerror(err); }

int64_t realtime_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

}  // namespace

// The /proc side of the sampler: the process's open files, its descendants'
// open files, and the parsing. Used by one thread at a time. Files stay open
// between samples; a descendant's are closed when it is no longer found.
class RssSampler::Reader {
 public:
  Reader(int pid, MemoryMetric metric) : pid_(pid), metric_(metric), page_size_(::sysconf(_SC_PAGESIZE)) {
    if (metric == MemoryMetric::Heap) {
      if (pid != ::getpid())
        throw CaptureError("the native heap can be sampled in this process only, not in pid " + std::to_string(pid));
      heap_bytes_ = require_malloc_hooks("its native heap cannot be sampled", "mprof run --heap").numeric_property;
    }
    if (metric == MemoryMetric::HeapSampled) {
      if (pid != ::getpid())
        throw CaptureError("the native heap can be sampled in this process only, not in pid " + std::to_string(pid));
      if (heap_recorder_sample_mean() <= 0)
        throw CaptureError("the sampled heap profiler is not running: start it first (yep.heap_start(..., sample=...))");
    }
    std::string error;
    if (!open_process(pid, root_, &error)) throw CaptureError(error);
    struct stat st {};
    children_files_ =
        ::stat(("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children").c_str(), &st) == 0 ||
        ::stat(("/proc/self/task/" + std::to_string(::gettid()) + "/children").c_str(), &st) == 0;
  }

  // The process's memory; false once it has exited.
  bool read_root(int64_t* bytes) { return read(root_, bytes); }

  // Each live descendant's memory, depth first.
  void read_descendants(std::vector<ChildMemory>& out) {
    find_descendants();
    for (int pid : order_) {
      auto it = descendants_.find(pid);
      if (it == descendants_.end()) continue;
      int64_t bytes = 0;
      if (read(it->second, &bytes))
        out.push_back({pid, bytes});
      else
        descendants_.erase(it);  // exited; a new process with this pid gets new files
    }
  }

 private:
  struct Process {
    ProcFile statm;
    ProcFile rollup;                    // smaps_rollup, for PSS and USS
    ProcDir tasks;                      // /proc/<pid>/task
    std::map<int, ProcFile> children;   // tid -> /proc/<pid>/task/<tid>/children
    uint64_t found = 0;                 // the last search that found it
  };

  bool open_process(int pid, Process& p, std::string* error) {
    const std::string statm = proc_path(pid, "statm");
    if (int err = p.statm.open(statm)) {
      if (error)
        *error = err == ENOENT ? "no process with pid " + std::to_string(pid)
                               : "cannot read " + statm + ": " + errno_text(err);
      return false;
    }
    if (metric_ == MemoryMetric::Rss || metric_ == MemoryMetric::Heap || metric_ == MemoryMetric::HeapSampled)
      return true;
    const std::string rollup = proc_path(pid, "smaps_rollup");
    if (int err = p.rollup.open(rollup)) {
      if (error) {
        if (err == ENOENT)
          *error = "this kernel has no " + rollup + " (Linux 4.14 or later), which PSS and USS need; measure RSS";
        else if (err == EACCES || err == EPERM)
          *error = "cannot read " + rollup + ": " + errno_text(err) +
                   " (PSS and USS need the right to trace the process); measure RSS";
        else
          *error = "cannot read " + rollup + ": " + errno_text(err);
      }
      return false;
    }
    return true;
  }

  bool read(Process& p, int64_t* bytes) {
    if (p.statm.read(buffer_) <= 0) return false;  // ESRCH once reaped
    const char* s = buffer_.data();
    const int64_t size = parse_int(s);
    const int64_t resident = parse_int(s);
    if (size == 0) return false;  // a zombie, or exiting: its memory is gone
    if (metric_ == MemoryMetric::Heap) {
      size_t allocated = 0;
      heap_bytes_("generic.current_allocated_bytes", &allocated);
      *bytes = static_cast<int64_t>(allocated);
      return true;
    }
    if (metric_ == MemoryMetric::HeapSampled) {
      *bytes = std::max<int64_t>(heap_recorder_inuse_bytes(), 0);  // 0 once the profiler stopped
      return true;
    }
    if (metric_ == MemoryMetric::Rss) {
      *bytes = resident * page_size_;
      return true;
    }
    if (p.rollup.read(buffer_) <= 0) return false;
    int64_t pss = 0, uss = 0;
    for (const char* line = buffer_.data(); *line;) {
      const char* end = std::strchr(line, '\n');
      if (std::strncmp(line, "Pss:", 4) == 0) {
        const char* v = line + 4;
        pss = parse_int(v) * 1024;
      } else if (std::strncmp(line, "Private_", 8) == 0) {  // Private_Clean, _Dirty, _Hugetlb
        const char* v = std::strchr(line, ':');
        if (v && (!end || v < end)) uss += parse_int(++v) * 1024;
      }
      if (!end) break;
      line = end + 1;
    }
    *bytes = metric_ == MemoryMetric::Pss ? pss : uss;
    return true;
  }

  // Updates order_ (the descendants, depth first), opening the files of new
  // ones and closing those of the ones no longer found.
  void find_descendants() {
    if (!children_files_) {
      const auto now = Clock::now();
      if (scanned_ && now - last_scan_ < kParentScanPeriod) return;  // keep order_
      scanned_ = true;
      last_scan_ = now;
    }
    ++search_;
    order_.clear();
    if (children_files_) {
      walk_children_files(pid_, root_);
    } else {
      std::multimap<int, int> children_of;
      scan_parents(children_of);
      walk_parent_map(children_of, pid_);
    }
    for (auto it = descendants_.begin(); it != descendants_.end();)
      it = it->second.found == search_ ? std::next(it) : descendants_.erase(it);
  }

  // The descendant `pid` as found by this search; null if it was already
  // found (pids are unique, but the kernel's lists are read at different
  // moments) or cannot be read (exited, or not ours).
  Process* visit(int pid) {
    if (pid == pid_) return nullptr;
    auto [it, inserted] = descendants_.try_emplace(pid);
    if (inserted && !open_process(pid, it->second, nullptr)) {
      descendants_.erase(it);
      return nullptr;
    }
    if (it->second.found == search_) return nullptr;
    it->second.found = search_;
    order_.push_back(pid);
    return &it->second;
  }

  // Depth first through /proc/<pid>/task/<tid>/children (a child belongs to
  // the thread that forked it); children in the kernel's order.
  void walk_children_files(int pid, Process& p) {
    const std::string task = "/proc/" + std::to_string(pid) + "/task";
    if (!p.tasks.open(task)) return;
    std::vector<int> tids, children;
    p.tasks.list_numbers(tids);
    std::sort(tids.begin(), tids.end());
    for (auto it = p.children.begin(); it != p.children.end();)  // threads that ended
      it = std::binary_search(tids.begin(), tids.end(), it->first) ? std::next(it) : p.children.erase(it);
    for (int tid : tids) {
      auto [it, inserted] = p.children.try_emplace(tid);
      if (inserted && it->second.open(task + "/" + std::to_string(tid) + "/children") != 0) {
        p.children.erase(it);
        continue;
      }
      if (it->second.read(buffer_) >= 0) parse_pids(buffer_.data(), children);
    }
    for (int child : children)
      if (Process* c = visit(child)) walk_children_files(child, *c);
  }

  // Kernels without children files: every process's parent, from /proc/<n>/stat.
  void scan_parents(std::multimap<int, int>& children_of) {
    ProcDir proc;
    if (!proc.open("/proc")) return;
    std::vector<int> pids;
    proc.list_numbers(pids);
    for (int pid : pids) {
      ProcFile stat;
      if (stat.open(proc_path(pid, "stat")) != 0 || stat.read(buffer_) <= 0) continue;
      const char* close = std::strrchr(buffer_.data(), ')');  // the command may hold spaces and ')'
      if (!close || close[1] != ' ' || !close[2] || close[3] != ' ') continue;
      const char* p = close + 4;
      children_of.emplace(static_cast<int>(parse_int(p)), pid);
    }
  }

  // Depth first, children in pid order.
  void walk_parent_map(const std::multimap<int, int>& children_of, int pid) {
    const auto range = children_of.equal_range(pid);
    for (auto it = range.first; it != range.second; ++it)
      if (visit(it->second)) walk_parent_map(children_of, it->second);
  }

  int pid_;
  MemoryMetric metric_;
  int (*heap_bytes_)(const char*, size_t*) = nullptr;  // the allocator's current bytes, for Heap
  int64_t page_size_;
  Process root_;
  bool children_files_ = false;
  bool scanned_ = false;
  Clock::time_point last_scan_;
  uint64_t search_ = 0;
  std::map<int, Process> descendants_;
  std::vector<int> order_;
  std::vector<char> buffer_;
};

RssSampler::RssSampler(const RssSamplerOptions& options) : options_(options) {
  if (!(options_.interval > 0) || !(options_.interval <= kMaxSeconds)) {
    char given[32];
    std::snprintf(given, sizeof given, "%g", options_.interval);
    throw CaptureError(std::string("interval must be more than 0 seconds (and at most 1e6), not ") + given);
  }
  if (options_.pid < 0) throw CaptureError("no process with pid " + std::to_string(options_.pid));
  if (options_.max_samples < 0) throw CaptureError("max_samples must be 0 (no limit) or more");
  if (options_.pid == 0) options_.pid = ::getpid();
  if ((options_.metric == MemoryMetric::Heap || options_.metric == MemoryMetric::HeapSampled) &&
      (options_.include_children || options_.per_child))
    throw CaptureError("the native heap is this process's own: it cannot include its children");
  reader_ = std::make_unique<Reader>(options_.pid, options_.metric);
}

RssSampler::~RssSampler() { stop(false); }

void RssSampler::start() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (started_) throw CaptureError("this RSS sampler was already started; make a new one");
    started_ = true;
  }
  owner_pid_ = ::getpid();
  start_time_ = Clock::now();
  const bool alive = sample();
  if (!alive || (options_.max_samples > 0 && samples_taken() >= options_.max_samples)) {
    std::lock_guard<std::mutex> lock(mutex_);
    finished_flag_ = true;
    return;
  }
  // The thread inherits this mask: no signal is ever delivered to it.
  sigset_t all, old;
  ::sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &old);
  try {
    thread_ = std::make_unique<std::thread>([this] { run(); });
  } catch (const std::system_error& e) {
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
    std::lock_guard<std::mutex> lock(mutex_);
    finished_flag_ = true;
    throw CaptureError(std::string("cannot start the RSS sampling thread: ") + e.what());
  }
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  ::pthread_setname_np(thread_->native_handle(), "yep-rss");
}

void RssSampler::run() {
  mark_own_thread();
  struct Unmark {
    ~Unmark() { unmark_own_thread(); }
  } unmark;
  const auto period = std::max<Clock::duration>(
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options_.interval)),
      Clock::duration(1));
  auto next = start_time_ + period;
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    wake_.wait_until(lock, next, [this] { return stop_requested_; });
    if (stop_requested_) {
      if (last_sample_) {
        lock.unlock();
        sample();
        lock.lock();
      }
      return;
    }
    lock.unlock();
    const bool alive = sample();
    lock.lock();
    if (!alive || (options_.max_samples > 0 && taken_ >= options_.max_samples)) {
      finished_flag_ = true;
      finished_.notify_all();
      return;
    }
    // Keep to the schedule; skip the ticks that already passed.
    next += period;
    const auto now = Clock::now();
    if (next <= now) next += period * ((now - next) / period + 1);
  }
}

bool RssSampler::sample() {
  int64_t bytes = 0;
  if (!reader_->read_root(&bytes)) {
    std::lock_guard<std::mutex> lock(mutex_);
    exited_ = true;
    return false;
  }
  const int64_t when = realtime_ns();
  std::vector<ChildMemory> children;
  if (options_.include_children || options_.per_child) {
    reader_->read_descendants(children);
    if (options_.include_children)
      for (const ChildMemory& c : children) bytes += c.bytes;
    if (!options_.per_child) children.clear();
  }
  record(when, bytes, std::move(children));
  return true;
}

void RssSampler::record(int64_t unix_ns, int64_t bytes, std::vector<ChildMemory>&& children) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++taken_;
  if (options_.max_only) {
    if (!samples_.empty() && bytes <= samples_.front().bytes) return;
    samples_.clear();
    children_.clear();
  }
  samples_.push_back({unix_ns, bytes});
  if (options_.per_child) children_.push_back(std::move(children));
}

bool RssSampler::wait(double seconds) {
  if (!(seconds >= 0)) seconds = 0;
  seconds = std::min(seconds, kMaxSeconds);
  std::unique_lock<std::mutex> lock(mutex_);
  if (!started_) return false;
  return finished_.wait_for(lock, std::chrono::duration<double>(seconds), [this] { return finished_flag_; });
}

void RssSampler::stop(bool last_sample) {
  if (!thread_) return;
  if (::getpid() != owner_pid_) {
    // A forked child: the sampling thread stayed in the parent, and its
    // mutex may have been held at the fork. Leave both alone.
    thread_.release();
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_requested_ = true;
    last_sample_ = last_sample && !finished_flag_;
  }
  wake_.notify_all();
  thread_->join();
  thread_.reset();
  std::lock_guard<std::mutex> lock(mutex_);
  finished_flag_ = true;
  finished_.notify_all();
}

MemorySamples RssSampler::take() {
  MemorySamples out;
  if (owner_pid_ != 0 && ::getpid() != owner_pid_) return out;  // a forked child (see stop)
  std::lock_guard<std::mutex> lock(mutex_);
  out.samples.assign(samples_.begin(), samples_.end());
  if (options_.max_only) {  // the maximum stays, to compare later samples with
    out.children.assign(children_.begin(), children_.end());
    return out;
  }
  out.children.assign(std::make_move_iterator(children_.begin()), std::make_move_iterator(children_.end()));
  samples_.clear();
  children_.clear();
  return out;
}

int64_t RssSampler::samples_taken() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return taken_;
}

bool RssSampler::process_exited() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return exited_;
}

}  // namespace yep
