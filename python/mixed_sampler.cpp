#include "mixed_sampler.h"
#include "signal_owner.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <new>
#include <thread>
#include <unordered_map>
#include <vector>

#include "profile_file.h"
#include "native_unwinder.h"
#include "own_threads.h"
#include "interpreter_code.h"
#include "python_frames.h"
#include "safe_reader.h"
#include "stack_merge.h"

namespace yep {

namespace {

constexpr int kMaxNative = 128;
constexpr int kMaxPython = 256;
constexpr int kMaxMerged = 254;  // the deepest record gperftools' format allows
constexpr size_t kSlots = 2048;
// Stand-in addresses: far outside any canonical x86-64 user address.
constexpr uint64_t kPythonBase = 0x1000000000000000ull;
constexpr uint64_t kThreadBase = 0x2000000000000000ull;

struct Slot {
  std::atomic<uint32_t> state;  // 0 free, 1 being written, 2 ready
  uint32_t native_depth, python_depth;
  uint64_t thread_id;
  uintptr_t pcs[kMaxNative];
  PyFrameRecord python[kMaxPython];
};

// The sampler: one timer, signal handler and drain thread, however many
// profiles (windows) record from it.
struct Session {
  bool running = false;
  bool ticking = false;  // the timer is armed (some window records)
  pid_t owner = 0;
  double requested_hz = 0;
  struct sigaction saved_action {};
  itimerval saved_timer{};
  const InterpreterCode* interpreter = nullptr;
  uintptr_t root_code = 0;
  std::string yep_dir;  // the root code's folder, with its final '/' ("" when none)
  std::string stdlib_dir;  // the standard library's folder, with its final '/' ("" when not given)
  bool wall = false;  // wall-clock time (ITIMER_REAL, SIGALRM), not CPU time
  std::string replaced_by;  // who replaced the handler (signal_owner.h), once seen
  std::thread drain;
  int signal() const { return wall ? SIGALRM : SIGPROF; }
  int timer() const { return wall ? ITIMER_REAL : ITIMER_PROF; }
};
// Never destroyed: a program that leaves by exit() from C while sampling
// (Python's atexit does not run then) would otherwise abort in the drain
// thread's destructor, and the drain thread would read a destroyed session.
Session& session = *new Session();

Slot* slots = nullptr;
std::atomic<bool> sampling{false};
std::atomic<int> in_handler{0};
std::atomic<uint64_t> next_slot{0}, dropped{0};
// yep's own drain thread: its samples are counted, never recorded (a
// profiler does not show itself), so the period still spreads the CPU time
// over every sample taken.
std::atomic<long> drain_tid{0};
std::atomic<uint64_t> own_samples{0};
std::atomic<uint64_t> program_samples{0};  // recorded since the sampler started, in any profile
std::atomic<bool> drain_stop{false};

// Drained data (drain thread and stop only).
struct VectorHash {
  size_t operator()(const std::vector<uint64_t>& v) const {
    uint64_t h = 1469598103934665603ull;
    for (uint64_t x : v) { h ^= x; h *= 1099511628211ull; h ^= h >> 29; }
    return static_cast<size_t>(h);
  }
};
std::unordered_map<std::vector<uint64_t>, size_t, VectorHash> stack_index;  // stack -> its index
std::vector<std::vector<uint64_t>> stack_order;  // by index
std::vector<uint64_t> counts;                    // samples of each stack since the sampler started

// A profile file recording from the sampler: yep.start() while another
// profile runs opens one more (nested profiles), and a decorator pauses its
// own between calls. Its figures are what the sampler gathered while it was
// active: the counts then, minus the counts at each resume.
struct Window {
  std::string path, file;
  bool active = false;
  std::vector<uint64_t> base, gathered;  // by stack index
  uint64_t own_base = 0, own_gathered = 0, dropped_base = 0, dropped_gathered = 0;
  ProfileClock clock;                       // at the last resume
  double cpu_seconds = 0, wall_seconds = 0;  // active before the last resume
  double start_unix = 0;
};
std::map<int, Window> windows;
int next_window = 0;
std::map<std::pair<uint32_t, int>, uint64_t> python_ids;  // (code, line) -> stand-in
std::vector<std::pair<uint32_t, int>> python_frames_seen;
std::map<uint64_t, uint64_t> thread_ids;  // native id -> stand-in
std::vector<uint64_t> threads_seen;
std::vector<std::string> kernel_names;  // of threads_seen, read when first seen
std::unordered_map<uint32_t, CodeInfo> code_infos;

void on_signal(int, siginfo_t*, void* context) {
  const int saved_errno = errno;
  in_handler.fetch_add(1, std::memory_order_acq_rel);
  const long tid = syscall(SYS_gettid);
  if (sampling.load(std::memory_order_acquire) && tid == drain_tid.load(std::memory_order_relaxed)) {
    own_samples.fetch_add(1, std::memory_order_relaxed);
  } else if (sampling.load(std::memory_order_acquire)) {
    // Claim the next slot in order, unless the drain has not emptied it yet.
    Slot* claimed = nullptr;
    for (uint64_t k = next_slot.load(std::memory_order_acquire);;) {
      Slot& candidate = slots[k % kSlots];
      if (candidate.state.load(std::memory_order_acquire) != 0) {
        // Taken: by a handler that claimed k since we read it (try the next
        // slot), or by a sample the drain has not read yet (the ring is full).
        const uint64_t now = next_slot.load(std::memory_order_acquire);
        if (now != k) {
          k = now;
          continue;
        }
        break;
      }
      if (next_slot.compare_exchange_weak(k, k + 1, std::memory_order_acq_rel)) {
        candidate.state.store(1, std::memory_order_release);
        claimed = &candidate;
        break;
      }
    }
    if (!claimed) {
      dropped.fetch_add(1, std::memory_order_relaxed);
    } else {
      Slot& slot = *claimed;
      SafeReader reader;
      int depth = native_unwind_context(context, reader, slot.pcs, kMaxNative);
      if (depth == 0) slot.pcs[depth++] = 0;
      slot.native_depth = static_cast<uint32_t>(depth);
      uint64_t thread_id = 0;
      slot.python_depth = static_cast<uint32_t>(read_python_frames(reader, slot.python, kMaxPython, &thread_id));
      slot.thread_id = thread_id ? thread_id : static_cast<uint64_t>(tid);
      slot.state.store(2, std::memory_order_release);
    }
  }
  in_handler.fetch_sub(1, std::memory_order_acq_rel);
  errno = saved_errno;
}

const CodeInfo& code_info(uint32_t code) {
  auto info = code_infos.find(code);
  if (info == code_infos.end()) info = code_infos.emplace(code, code_table().info(code)).first;
  return info->second;
}

uint64_t python_stand_in(uint32_t code, int lasti) {
  const int line = python_line(code_info(code), lasti);
  auto [it, inserted] = python_ids.try_emplace({code, line}, kPythonBase + 2 * python_frames_seen.size());
  if (inserted) python_frames_seen.push_back({code, line});
  return it->second;
}

// The kernel's name of a thread, for those Python did not name (OpenMP's
// and BLAS's workers), "" once it has ended.
std::string native_thread_name(uint64_t tid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/self/task/%llu/comm", static_cast<unsigned long long>(tid));
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  char name[64];
  const ssize_t n = ::read(fd, name, sizeof name - 1);
  ::close(fd);
  if (n <= 0) return "";
  std::string out(name, static_cast<size_t>(n));
  while (!out.empty() && (out.back() == '\n' || out.back() == '\0')) out.pop_back();
  return out;
}

uint64_t thread_stand_in(uint64_t native_id) {
  auto [it, inserted] = thread_ids.try_emplace(native_id, kThreadBase + 2 * threads_seen.size());
  if (inserted) {
    threads_seen.push_back(native_id);
    kernel_names.push_back(native_thread_name(native_id));  // now: the thread may end before the stop
  }
  return it->second;
}

// The code object behind a Python frame's stand-in, nullptr for other frames.
const CodeInfo* stand_in_code(uint64_t frame) {
  if (frame < kPythonBase || frame >= kThreadBase) return nullptr;
  return &code_info(python_frames_seen[(frame - kPythonBase) / 2].first);
}

bool starts_with(const std::string& s, const std::string& prefix) {
  return !prefix.empty() && s.compare(0, prefix.size(), prefix) == 0;
}

// The standard library's own modules (not the packages installed in it).
bool is_stdlib_file(const std::string& file) {
  if (file.rfind("<frozen ", 0) == 0) return true;
  return starts_with(file, session.stdlib_dir) && file.find("/site-packages/") == std::string::npos &&
         file.find("/dist-packages/") == std::string::npos;
}

// Whether a stack is yep's own work outside the script's run (the CLI
// starting or stopping the profile): it has Python frames, all of them yep's
// or runpy's, or the standard library's called by yep's (signal.getsignal's
// enum code as yep's stop puts the program's handlers back). A thread of
// the program always has one of its own.
bool outside_the_run(const std::vector<uint64_t>& stack) {
  bool python = false, under_yep = false;
  for (auto it = stack.rbegin(); it != stack.rend(); ++it) {  // from the root
    const CodeInfo* code = stand_in_code(*it);
    if (!code) continue;
    python = true;
    if (starts_with(code->filename, session.yep_dir)) {
      under_yep = true;
      continue;
    }
    if (is_runpy_file(code->filename) || (under_yep && is_stdlib_file(code->filename))) continue;
    return false;
  }
  return python;
}

bool is_native(uint64_t frame) { return frame < kPythonBase; }

// One slot -> one merged stack, leaf first, thread at the root. False when
// the sample is yep's own (outside_the_run, or in yep's runner or runpy's
// Python code): counted as yep's own, as the drain's samples are.
bool merge(const Slot& slot, std::vector<uint64_t>& out) {
  out.clear();
  merge_stacks(
      slot.pcs, static_cast<int>(slot.native_depth), slot.python,
      static_cast<int>(slot.python_depth), session.interpreter->eval, [&](uintptr_t pc) { out.push_back(pc); },
      [&](const PyFrameRecord& f) { out.push_back(python_stand_in(f.code, f.lasti)); });
  if (session.root_code) {
    const size_t whole = out.size();
    const size_t kept = depth_above_root(
        out.data(), out.size(),
        [](uint64_t frame) {
          const CodeInfo* code = stand_in_code(frame);
          return code && code->address == session.root_code;
        },
        [](uint64_t frame) {
          const CodeInfo* code = stand_in_code(frame);
          return code && is_runpy_file(code->filename);
        },
        [](uint64_t frame) { return frame >= kPythonBase; },
        [](uint64_t frame) { return is_native(frame) && session.interpreter->eval.contains(frame - 1); });
    if (kept == whole && outside_the_run(out)) return false;
    if (kept == 0) return false;  // in yep's runner or runpy's Python code
    // Python frames cut from a root run by the same eval call (the root a
    // function the program calls directly) keep the eval frame running them.
    const auto native = std::find_if(out.begin(), out.end(), is_native);
    if (native != out.end() && static_cast<size_t>(native - out.begin()) >= kept) {
      out[kept] = *native;
      out.resize(kept + 1);
    } else {
      out.resize(kept);
    }
  }
  // Every record keeps a native pc (one written as 0 first, google-pprof
  // reads as the end of the data): cut to the deepest a record may be, a
  // stack of Python frames only (deep recursion) ends in the native frame
  // that runs them.
  const auto native = std::find_if(out.begin(), out.end(), is_native);
  if (native == out.end()) return false;
  if (out.size() > kMaxMerged - 1) {
    if (native - out.begin() >= kMaxMerged - 1) out[kMaxMerged - 2] = *native;
    out.resize(kMaxMerged - 1);
  }
  out.push_back(thread_stand_in(slot.thread_id));
  return true;
}

// Slots are claimed in order (next_slot): the drain reads the ones claimed
// since its last pass, and stops at one still being written.
uint64_t drained_to = 0;
uint64_t max_backlog = 0;  // most samples seen waiting for the drain (in the profile's record)

// The drain thread and a flush take turns on the merged stacks.
std::mutex drain_mutex;

void drain_once() {
  std::lock_guard<std::mutex> guard(drain_mutex);
  const uint64_t end = next_slot.load(std::memory_order_acquire);
  max_backlog = std::max(max_backlog, end - drained_to);
  uint64_t k = drained_to;
  std::vector<uint64_t> merged;
  for (; k < end; ++k) {
    Slot& slot = slots[k % kSlots];
    if (slot.state.load(std::memory_order_acquire) != 2) break;
    const bool program = merge(slot, merged);
    slot.state.store(0, std::memory_order_release);
    if (!program) {
      own_samples.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    auto [it, inserted] = stack_index.try_emplace(merged, stack_order.size());
    if (inserted) {
      stack_order.push_back(merged);
      counts.push_back(0);
    }
    ++counts[it->second];
    program_samples.fetch_add(1, std::memory_order_relaxed);
  }
  drained_to = k;
}

void check_handler();

void drain_loop() {
  pthread_setname_np(pthread_self(), "yep-drain");
  drain_tid = syscall(SYS_gettid);
  while (!drain_stop.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    drain_once();
    native_unwinder_scan();  // objects loaded since (cheap when none was: glibc counts them)
    check_handler();
  }
}

std::string one_line(std::string s) {
  for (char& c : s)
    if (c == '\n' || c == '\t' || c == '\r') c = ' ';
  return s;
}

// What a window gathered: samples of each stack, yep's own samples (its
// threads' among them: the live view's census, see own_threads.h), dropped
// samples, and its time.
struct Gathered {
  std::vector<uint64_t> counts;
  uint64_t own = 0, dropped = 0;
  CpuProfileSummary summary;
};

void note_replaced_handler();

Gathered gathered(const Window& w) {
  note_replaced_handler();
  Gathered g;
  g.summary.timer_handler_replaced_by = session.replaced_by;
  g.counts = w.gathered;
  g.counts.resize(counts.size(), 0);
  g.own = w.own_gathered;
  g.dropped = w.dropped_gathered;
  CpuProfileSummary& s = g.summary;
  s.path = w.path;
  s.wall_clock = session.wall;
  s.requested_hz = session.requested_hz;
  if (w.active) {
    for (size_t i = 0; i < counts.size(); ++i) g.counts[i] += counts[i] - (i < w.base.size() ? w.base[i] : 0);
    g.own += own_samples.load() - w.own_base;
    g.dropped += dropped.load() - w.dropped_base;
    w.clock.measure(s);
  }
  s.cpu_seconds += w.cpu_seconds;
  s.wall_seconds += w.wall_seconds;
  auto yeps = [&](const std::vector<uint64_t>& stack) {  // merge() puts the thread at the root
    return is_own_thread(threads_seen[(stack.back() - kThreadBase) / 2]);
  };
  for (size_t i = 0; i < g.counts.size(); ++i) {
    if (g.counts[i] && yeps(stack_order[i])) {
      g.own += g.counts[i];
      g.counts[i] = 0;
    }
    s.samples += static_cast<int64_t>(g.counts[i]);
  }
  const double measured = s.wall_clock ? s.wall_seconds : s.cpu_seconds;
  const double taken = static_cast<double>(s.samples + static_cast<int64_t>(g.own));
  if (taken > 0 && measured > 0) s.achieved_hz = taken / measured;
  return g;
}

void write_profile(const Window& w, const Gathered& g, const std::map<uint64_t, std::string>& thread_names) {
  const CpuProfileSummary& s = g.summary;
  MappedString bytes;  // outside malloc (mapped_allocator.h)
  auto word = [&](uint64_t v) {
    uintptr_t u = static_cast<uintptr_t>(v);
    bytes.append(reinterpret_cast<const char*>(&u), sizeof u);
  };
  const double measured = s.wall_clock ? s.wall_seconds : s.cpu_seconds;
  const uint64_t taken = static_cast<uint64_t>(s.samples) + g.own;
  uint64_t period_us = s.requested_hz > 0 ? static_cast<uint64_t>(std::llround(1e6 / s.requested_hz)) : 10000;
  // Scaled to the time measured, unless the samples stopped midway (the
  // program took the timer signal's handler): then each is the asked period.
  if (taken > 0 && measured > 0 && s.timer_handler_replaced_by.empty()) period_us = static_cast<uint64_t>(std::llround(measured * 1e6 / taken));
  if (period_us == 0) period_us = 1;
  for (uint64_t v : {uint64_t(0), uint64_t(3), uint64_t(0), period_us, uint64_t(0)}) word(v);
  // Stacks stay native (what gperftools' readers expect); their Python
  // frames and threads go in "# yep-stack:" lines after the maps.
  MappedString annotations;
  std::vector<uint64_t> native;
  BuiltinNames builtins(*session.interpreter);
  size_t record = 0;
  for (size_t i = 0; i < stack_order.size(); ++i) {
    if (g.counts[i] == 0) continue;
    const std::vector<uint64_t>& stack = stack_order[i];
    const uint64_t thread = stack.back();
    annotations += split_mixed_stack(
        record++, stack.data(), stack.size() - 1, static_cast<long long>((thread - kThreadBase) / 2),
        *session.interpreter,
        [](uint64_t frame) {
          return frame >= kPythonBase && frame < kThreadBase ? static_cast<long long>((frame - kPythonBase) / 2) : -1;
        },
        native);
    builtins.add(native.data(), native.size());
    word(g.counts[i]);
    word(native.size());
    for (uint64_t pc : native) word(pc);
  }
  for (uint64_t v : {uint64_t(0), uint64_t(1), uint64_t(0)}) word(v);
  bytes += read_self_maps();
  if (!bytes.empty() && bytes.back() != '\n') bytes += '\n';
  char extra[128];
  std::snprintf(extra, sizeof extra, " mixed=1 dropped=%llu max_backlog=%llu own_samples=%llu",
                static_cast<unsigned long long>(g.dropped), static_cast<unsigned long long>(max_backlog),
                static_cast<unsigned long long>(g.own));
  bytes += cpu_profile_record(s, w.start_unix, extra);
  bytes += read_self_build_ids();
  for (size_t i = 0; i < python_frames_seen.size(); ++i) {
    const auto& [code, line] = python_frames_seen[i];
    bytes += python_stand_in_line(i, line, code_infos[code]);
  }
  char key[32];
  for (size_t i = 0; i < threads_seen.size(); ++i) {
    auto name = thread_names.find(threads_seen[i]);
    std::snprintf(key, sizeof key, "%zx", i);
    bytes += "# yep-thread:\t" + std::string(key) + "\t" + std::to_string(threads_seen[i]) + "\t" +
             one_line(name == thread_names.end() ? kernel_names[i] : name->second) + "\n";
  }
  bytes += annotations;
  bytes += builtins.lines();
  write_atomically(w.file, bytes, "the profile");
}

std::string absolute(const std::string& path) {
  if (!path.empty() && path[0] == '/') return path;
  char cwd[4096];
  if (!::getcwd(cwd, sizeof cwd)) return path;
  return std::string(cwd) + "/" + path;
}

// The timer runs while some window records.
long period_us() { return std::lround(1e6 / session.requested_hz); }

// Whether the timer is still the one set_ticking armed (the program may
// have armed its own with its handler).
bool timer_is_ours() {
  itimerval now{};
  getitimer(session.timer(), &now);
  return now.it_interval.tv_sec * 1000000L + now.it_interval.tv_usec == period_us();
}

bool handler_is_ours() {
  struct sigaction action {};
  sigaction(session.signal(), nullptr, &action);
  return (action.sa_flags & SA_SIGINFO) && action.sa_sigaction == on_signal;
}

// Remembers who replaced yep's handler, the first time it is seen replaced.
void note_replaced_handler() {
  if (session.running && session.replaced_by.empty() && !handler_is_ours())
    session.replaced_by = signal_handler_owner(session.signal());
}

// Arms or disarms yep's timer. Once the program replaced yep's handler,
// the timer is left as it is: the program's ticks (or yep's, which now
// reach the program's handler, as they would if yep stopped) are its own.
// Run by the drain thread: once the program replaced yep's handler, yep's
// timer stops within a drain pass, so the program's handler does not get
// yep's ticks (it gets those of a timer it armed itself).
void check_handler() {
  std::lock_guard<std::mutex> guard(drain_mutex);
  if (!session.ticking || !session.replaced_by.empty() || handler_is_ours()) return;
  note_replaced_handler();
  if (timer_is_ours()) {
    itimerval off{};
    setitimer(session.timer(), &off, nullptr);
  }
}

void set_ticking(bool on) {
  if (on == session.ticking) return;
  note_replaced_handler();
  if (session.replaced_by.empty() || (!on && timer_is_ours())) {
    itimerval timer{};
    if (on) {
      timer.it_interval.tv_sec = period_us() / 1000000;
      timer.it_interval.tv_usec = period_us() % 1000000;
      timer.it_value = timer.it_interval;
    }
    setitimer(session.timer(), &timer, nullptr);
  }
  sampling = on;
  session.ticking = on;
}

// Both with the drain's data up to date (drain_once) and its mutex held.
void activate(Window& w) {
  w.base = counts;
  w.own_base = own_samples.load();
  w.dropped_base = dropped.load();
  w.clock = ProfileClock::start();
  w.active = true;
  set_ticking(true);
}

// Adds what the window gathered since its last resume to its own figures.
void deactivate(Window& w) {
  CpuProfileSummary s;
  w.clock.measure(s);
  w.cpu_seconds += s.cpu_seconds;
  w.wall_seconds += s.wall_seconds;
  w.gathered.resize(counts.size(), 0);
  for (size_t i = 0; i < counts.size(); ++i) w.gathered[i] += counts[i] - (i < w.base.size() ? w.base[i] : 0);
  w.own_gathered += own_samples.load() - w.own_base;
  w.dropped_gathered += dropped.load() - w.dropped_base;
  w.active = false;
  if (std::none_of(windows.begin(), windows.end(), [](const auto& e) { return e.second.active; })) set_ticking(false);
}

Window& window(int id) {
  auto it = windows.find(id);
  if (it == windows.end()) throw CaptureError("no such profile is running");
  return it->second;
}

void check_owner() {
  if (session.owner != ::getpid())
    throw CaptureError("the CPU profile belongs to the parent process (pid " + std::to_string(session.owner) +
                       "), which writes it; a forked child is not profiled");
}

// In a forked child the sampler is the parent's: its drain thread does not
// exist here (destroying the joinable std::thread would abort the child at
// exit), its mutex may have been held by that thread, and the profile file
// is the parent's to write. The child forgets all of it; it may start a
// profile of its own. (Interval timers are not inherited across fork.)
// A fork waits for the drain thread's pass to end (it holds drain_mutex
// while it changes the merged stacks' tables): a child gets consistent
// tables, which a profile of its own clears and reuses (--subprocesses).
bool locked_for_fork = false;

void before_fork() {
  if (!session.running) return;
  drain_mutex.lock();
  locked_for_fork = true;
}

void after_fork_in_parent() {
  if (!locked_for_fork) return;
  locked_for_fork = false;
  drain_mutex.unlock();
}

void after_fork_in_child() {
  locked_for_fork = false;
  if (!session.running) return;
  sampling = false;
  new (&session.drain) std::thread();  // the parent's thread: dropped, never joined
  new (&drain_mutex) std::mutex();
  in_handler = 0;
  struct sigaction restored = session.saved_action;
  if (!(restored.sa_flags & SA_SIGINFO) && restored.sa_handler == SIG_DFL) restored.sa_handler = SIG_IGN;
  sigaction(session.signal(), &restored, nullptr);
  session.running = false;
  session.ticking = false;
  windows.clear();
}

}  // namespace

bool mixed_sampler_running() { return session.running; }

bool mixed_sampler_recording() { return session.running && session.ticking; }

uint64_t mixed_sampler_samples() { return program_samples.load(std::memory_order_relaxed); }

CpuProfileSummary mixed_sampler_rate() {
  CpuProfileSummary s;
  s.requested_hz = session.requested_hz;
  s.wall_clock = session.wall;
  return s;
}

namespace {

// Starts the sampler: its handler, drain thread and tables, timer off.
void start_sampler(double frequency, uintptr_t root_code, const std::string& root_file, bool wall) {
  if (cpu_profiler_running())
    throw CaptureError("the CPU profiler is already running; call yep.stop() before starting it again");
  if (const char* why = python_frames_unsupported_reason()) throw CaptureError(why);
  if (frequency <= 0) frequency = 100;
  if (frequency < 1 || frequency > 4000)
    throw CaptureError("frequency must be between 1 and 4000 Hz, not " + std::to_string(frequency));
  if (!timer_signal_is_free(wall ? SIGALRM : SIGPROF))
    throw CaptureError(std::string("another ") + (wall ? "SIGALRM" : "SIGPROF") +
                       " handler is installed (another profiler, or the program's own timer?); stop it first");
  if (!code_table().init()) throw CaptureError("cannot map memory for the mixed-stack sampler");
  if (!slots) {
    void* p = mmap(nullptr, kSlots * sizeof(Slot), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw CaptureError("cannot map memory for the mixed-stack sampler");
    slots = static_cast<Slot*>(p);
  }
  SafeReader::init();
  native_unwinder_scan();
  static const bool fork_handler = ::pthread_atfork(before_fork, after_fork_in_parent, after_fork_in_child) == 0;
  (void)fork_handler;
  session.wall = wall;
  session.owner = ::getpid();
  session.requested_hz = frequency;
  session.replaced_by.clear();
  session.interpreter = &interpreter_code();
  session.root_code = root_code;
  session.yep_dir = root_file.substr(0, root_file.rfind('/') + 1);
  stack_index.clear();
  stack_order.clear();
  counts.clear();
  python_ids.clear();
  python_frames_seen.clear();
  thread_ids.clear();
  threads_seen.clear();
  kernel_names.clear();
  code_infos.clear();
  dropped = 0;
  own_samples = 0;
  program_samples = 0;
  drain_tid = 0;
  // Every slot free: a forked child's copy of the ring holds its parent's
  // samples not yet drained, which would block the ring from its start.
  // (Only those in use are written: the others' pages stay shared.)
  for (size_t i = 0; i < kSlots; ++i)
    if (slots[i].state.load(std::memory_order_relaxed) != 0) slots[i].state.store(0, std::memory_order_relaxed);
  next_slot = 0;
  drained_to = 0;
  max_backlog = 0;
  drain_stop = false;
  {
    // The drain thread takes none of the program's signals (it inherits
    // this mask): a SIGTERM delivered to it would not wake Python's main
    // thread, which alone runs the handler (a pool worker waiting on its
    // queue then never ends). The timer's and the faults stay open.
    sigset_t program_signals, saved;
    sigfillset(&program_signals);
    for (int sig : {SIGPROF, SIGALRM, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP}) sigdelset(&program_signals, sig);
    pthread_sigmask(SIG_BLOCK, &program_signals, &saved);
    session.drain = std::thread(drain_loop);
    pthread_sigmask(SIG_SETMASK, &saved, nullptr);
  }

  struct sigaction action {};
  action.sa_sigaction = on_signal;
  action.sa_flags = SA_SIGINFO | SA_RESTART;
  sigemptyset(&action.sa_mask);
  sigaction(session.signal(), &action, &session.saved_action);
  getitimer(session.timer(), &session.saved_timer);
  session.ticking = false;
  session.running = true;
}

// Stops the sampler once no window is left: the timer and handler as they
// were, the drain thread joined. A handler the program installed over
// yep's stays, and so does a timer it armed itself.
void stop_sampler() {
  bool ours, replaced;
  {
    std::lock_guard<std::mutex> guard(drain_mutex);  // the drain thread's check_handler
    ours = timer_is_ours();
    set_ticking(false);
    replaced = !session.replaced_by.empty();
  }
  if (!replaced || ours) setitimer(session.timer(), &session.saved_timer, nullptr);
  while (in_handler.load() != 0) std::this_thread::yield();
  // A signal still in flight must not meet SIG_DFL, which ends the process.
  struct sigaction restored = session.saved_action;
  if (!(restored.sa_flags & SA_SIGINFO) && restored.sa_handler == SIG_DFL) restored.sa_handler = SIG_IGN;
  if (!replaced) sigaction(session.signal(), &restored, nullptr);
  drain_stop = true;
  session.drain.join();
  session.running = false;
}

}  // namespace

int mixed_sampler_start(const std::string& path, double frequency, uintptr_t root_code, const std::string& root_file,
                        bool wall, const std::string& stdlib_dir) {
  if (path.empty()) throw CaptureError("no profile path given");
  if (session.running) check_owner();
  check_writable(path);
  const bool started = !session.running;
  if (started) {
    start_sampler(frequency, root_code, root_file, wall);
    session.stdlib_dir = stdlib_dir.empty() || stdlib_dir.back() == '/' ? stdlib_dir : stdlib_dir + "/";
  }
  drain_once();
  std::lock_guard<std::mutex> guard(drain_mutex);
  Window& w = windows[next_window];
  w.path = path;
  w.file = absolute(path);
  w.start_unix = ProfileClock::start().unix_seconds();
  activate(w);
  return next_window++;
}

void mixed_sampler_pause(int id, const std::map<uint64_t, std::string>& thread_names) {
  check_owner();
  drain_once();
  std::lock_guard<std::mutex> guard(drain_mutex);
  Window& w = window(id);
  if (!w.active) return;
  deactivate(w);
  write_profile(w, gathered(w), thread_names);
}

void mixed_sampler_resume(int id) {
  check_owner();
  drain_once();
  std::lock_guard<std::mutex> guard(drain_mutex);
  Window& w = window(id);
  if (!w.active) activate(w);
}

void mixed_sampler_flush(int id, const std::map<uint64_t, std::string>& thread_names) {
  check_owner();
  drain_once();
  // The drain thread waits while the stacks are written out.
  std::lock_guard<std::mutex> guard(drain_mutex);
  const Window& w = window(id);
  write_profile(w, gathered(w), thread_names);
}

CpuProfileSummary mixed_sampler_stop(int id, const std::map<uint64_t, std::string>& thread_names) {
  check_owner();
  window(id);  // exists
  std::unique_lock<std::mutex> guard(drain_mutex, std::defer_lock);
  if (windows.size() == 1) {
    // The last window: the sampler stops first, so every sample is drained.
    stop_sampler();
    drain_once();
    guard.lock();
  } else {
    drain_once();
    guard.lock();
  }
  Window& w = window(id);
  if (w.active) deactivate(w);
  const Gathered g = gathered(w);
  const Window closed = std::move(w);
  windows.erase(id);
  write_profile(closed, g, thread_names);
  return g.summary;
}

}  // namespace yep
