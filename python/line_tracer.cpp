#include "line_tracer.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <unordered_map>

#include "allocation_counter.h"
#include "line_calibration.h"
#include "line_clock.h"
#include "line_hook.h"

namespace yep {

namespace {

std::vector<FunctionRecord> functions;
std::unordered_map<PyObject*, size_t> index_of;  // code object -> functions index
bool started = false;
bool counting_allocations = true;  // see line_tracer_start
double event_cost_ns = 0;
bool calibrated = false;  // event_cost_ns is measured once per process
// Bumped at each start: activations a thread kept from an earlier run (it was
// inside a profiled function when the tracer stopped) are dropped at its next
// call event.
uint64_t epoch = 1;

// One running activation of a registered function in this thread.
struct Activation {
  const void* key;                 // given by the hook (line_hook.h)
  LineRecord* records = nullptr;   // the function's, by line - first_line (they never move)
  int first_line = 0, line_count = 0;
  LineRecord* running = nullptr;   // the running line's record, null before the first
  bool counts_hit = false;         // the running line was entered (not resumed inside)
  int64_t start_ticks = 0;
  int64_t start_events = 0;  // this thread's event count when the line started
  int64_t start_net = 0;     // this thread's net bytes when the line started
  int64_t peak = 0;          // highest net seen during the line outside nested lines
  int64_t rss_before = 0;
  int64_t activation_peak = 0;  // highest net over the whole activation
};

constexpr int64_t kRssBytesTrigger = 256 << 10;
constexpr double kRssTimeTriggerNs = 20e6;
int64_t rss_time_trigger = static_cast<int64_t>(kRssTimeTriggerNs);  // in clock ticks, set at start

const long page_size = sysconf(_SC_PAGESIZE);

// RSS, re-read only when it can have changed (see the header): past
// next_ticks, or with the thread's net bytes outside [low, high].
struct Rss {
  int fd = -1;
  int64_t value = 0, next_ticks = 0, low = 0, high = -1;

  int64_t read_now() {
    if (fd < 0) fd = ::open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    char buf[128];
    ssize_t n = fd < 0 ? -1 : ::pread(fd, buf, sizeof buf - 1, 0);
    if (n <= 0) return value;
    buf[n] = '\0';
    char* p = buf;
    std::strtoll(p, &p, 10);  // total program size
    return std::strtoll(p, nullptr, 10) * page_size;
  }
  void reopen() {  // after a fork: /proc/self was the parent when it was opened
    if (fd >= 0) ::close(fd);
    fd = -1;
    value = read_now();
    next_ticks = 0;
  }
  bool stale(int64_t net, int64_t ticks) const { return ticks >= next_ticks || net < low || net > high; }
  void read(int64_t net, int64_t ticks) {
    value = read_now();
    if (counting_allocations) {
      next_ticks = ticks + rss_time_trigger;
      low = net - kRssBytesTrigger + 1;
      high = net + kRssBytesTrigger - 1;
    } else {  // the only memory figure: read after every line
      next_ticks = 0;
    }
  }
};

// This thread's activations, event count and RSS reader. Events reach them
// through an initial-exec thread_local pointer: one %fs-relative load (the
// module's TLS is static anyway, for the allocation counters), where
// general-dynamic thread_locals, and the init guard of one with a
// destructor, each cost a __tls_get_addr call. The state is owned by an
// ordinary thread_local and destroyed at thread exit.
struct ThreadState {
  std::vector<Activation> stack;
  Rss rss;
  int64_t events = 0;
  uint64_t epoch = 0;
};
__attribute__((tls_model("initial-exec"))) thread_local ThreadState* current_thread = nullptr;
struct ThreadStateOwner {
  ThreadState state;
  ~ThreadStateOwner() { current_thread = nullptr; }
};
thread_local ThreadStateOwner thread_state_owner;

__attribute__((noinline)) ThreadState& first_event_of_thread() {
  return *(current_thread = &thread_state_owner.state);
}

inline ThreadState& this_thread() {
  ThreadState* s = current_thread;
  return __builtin_expect(s != nullptr, 1) ? *s : first_event_of_thread();
}

// A line boundary: the clock and the allocation counters, read once, and
// RSS when it can have changed. `ticks` is when the boundary was reached
// (the end of the line before), `start_ticks` when the next line starts:
// later when reading RSS took time, which then counts for neither line.
struct Boundary {
  int64_t ticks, start_ticks, net, peak, rss;
};

__attribute__((noinline)) void read_rss(ThreadState& t, Boundary& b) {
  t.rss.read(b.net, b.ticks);
  b.start_ticks = line_clock_ticks();
}

__attribute__((always_inline)) inline Boundary boundary(ThreadState& t) {
  Boundary b;
  b.ticks = b.start_ticks = line_clock_ticks();
  const ThreadAllocations a = thread_allocations();
  b.net = a.net;
  b.peak = a.peak;
  if (__builtin_expect(t.rss.stale(b.net, b.ticks), 0)) read_rss(t, b);
  b.rss = t.rss.value;
  return b;
}

__attribute__((always_inline)) inline void start_line(ThreadState& t, Activation& a, int line, bool counts_hit,
                                                      const Boundary& b) {
  const unsigned at = static_cast<unsigned>(line - a.first_line);
  a.running = __builtin_expect(at < static_cast<unsigned>(a.line_count), 1) ? a.records + at : nullptr;
  a.counts_hit = counts_hit;
  a.start_ticks = b.start_ticks;
  a.start_events = t.events;
  a.start_net = b.net;
  a.peak = b.net;
  reset_thread_peak();
  a.rss_before = b.rss;
}

// Ends a's running line.
__attribute__((always_inline)) inline void finish_line(ThreadState& t, Activation& a, const Boundary& b) {
  LineRecord* r = a.running;
  if (!r) return;
  const int64_t line_peak = std::max(a.peak, b.peak);
  a.activation_peak = std::max(a.activation_peak, line_peak);
  r->hits += a.counts_hit;
  r->clock_ticks += b.ticks - a.start_ticks;
  r->events += t.events - a.start_events;
  r->net_bytes += b.net - a.start_net;
  r->peak_bytes = std::max(r->peak_bytes, line_peak - a.start_net);
  r->rss_max = std::max(r->rss_max, b.rss);
  r->rss_increment += b.rss - a.rss_before;
  a.running = nullptr;
}

// The highest line number of a code object's line table (0 if none).
int last_line_of(PyObject* code) {
  int last = 0;
  PyObject* lines = PyObject_CallMethod(code, "co_lines", nullptr);
  PyObject* it = lines ? PyObject_GetIter(lines) : nullptr;
  Py_XDECREF(lines);
  if (it) {
    while (PyObject* entry = PyIter_Next(it)) {
      PyObject* line = PyTuple_Check(entry) && PyTuple_GET_SIZE(entry) == 3 ? PyTuple_GET_ITEM(entry, 2) : nullptr;
      if (line && PyLong_Check(line)) last = std::max(last, static_cast<int>(PyLong_AsLong(line)));
      Py_DECREF(entry);
    }
    Py_DECREF(it);
  }
  PyErr_Clear();
  return last;
}

std::vector<PyObject*> registered_codes() {
  std::vector<PyObject*> codes;
  for (const FunctionRecord& f : functions)
    if (f.code) codes.push_back(f.code);
  return codes;
}

}  // namespace

namespace line_events {

bool enter(const void* key, PyObject* code, int line, bool entered) {
  ThreadState& t = this_thread();
  t.events += 1;
  auto it = index_of.find(code);
  if (it == index_of.end()) return false;
  if (__builtin_expect(t.epoch != epoch, 0)) {
    t.stack.clear();
    t.epoch = epoch;
  }
  if (!t.stack.empty() && t.stack.back().running)  // the caller's line goes on around this call
    t.stack.back().peak = std::max(t.stack.back().peak, thread_allocations().peak);
  FunctionRecord& f = functions[it->second];
  Activation a{key, f.lines.data(), f.first_line, static_cast<int>(f.lines.size())};
  a.activation_peak = thread_allocations().net;
  t.stack.push_back(a);
  if (line >= 0) start_line(t, t.stack.back(), line, entered, boundary(t));
  return true;
}

__attribute__((flatten)) void line(const void* key, int line) {
  ThreadState& t = this_thread();
  t.events += 1;
  if (__builtin_expect(t.stack.empty(), 0)) return;
  Activation& a = t.stack.back();
  if (__builtin_expect(a.key != key, 0)) return;
  // The line it is in already: a jump back within the line, which the trace
  // function reports and sys.monitoring and the probes do not; not a new
  // occurrence under any hook.
  if (__builtin_expect(a.running != nullptr && a.running - a.records == line - a.first_line, 0)) return;
  const Boundary b = boundary(t);
  finish_line(t, a, b);
  start_line(t, a, line, true, b);
}

void leave(const void* key) {
  ThreadState& t = this_thread();
  t.events += 1;
  if (t.stack.empty() || t.stack.back().key != key) return;
  finish_line(t, t.stack.back(), boundary(t));
  const int64_t call_peak = t.stack.back().activation_peak;
  t.stack.pop_back();
  if (!t.stack.empty() && t.stack.back().running) {
    // The call's peak counts toward the calling line's peak.
    t.stack.back().peak = std::max(t.stack.back().peak, call_peak);
    reset_thread_peak();
  }
}

void other() { this_thread().events += 1; }

}  // namespace line_events

PyObject* line_tracer_add(PyObject* code) {
  LineHook& hook = line_hook();
  code = hook.registered_code(code);  // a code to run made earlier: its own
  if (index_of.find(code) == index_of.end()) {
    Py_INCREF(code);
    FunctionRecord f;
    f.code = code;
    f.first_line = reinterpret_cast<PyCodeObject*>(code)->co_firstlineno;
    f.lines.resize(static_cast<size_t>(std::max(0, last_line_of(code) - f.first_line) + 1));
    functions.push_back(std::move(f));
    index_of.emplace(code, functions.size() - 1);
    if (started) hook.watch(code);
  }
  return hook.code_to_run(code);
}

PyObject* line_tracer_registered(PyObject* code) { return line_hook().registered_code(code); }

void line_tracer_forget(PyObject* code) {
  auto it = index_of.find(code);
  if (it == index_of.end()) return;
  if (started) line_hook().unwatch(code);
  line_hook().release(code);
  FunctionRecord& f = functions[it->second];
  index_of.erase(it);
  // The slot and its lines stay (an activation still running elsewhere may
  // be writing to them); the results leave it out.
  f.code = nullptr;
  Py_DECREF(code);
}

void line_tracer_start(bool count_allocations) {
  if (count_allocations) allocation_counter_install();
  counting_allocations = count_allocations;
  LineHook& hook = line_hook();
  if (!started) {
    auto start = [&hook] {
      hook.start(registered_codes());
      hook.install_thread();
      started = true;
      epoch += 1;
    };
    line_clock_init();
    if (calibrated) {
      start();
    } else {
      const double ticks = measure_line_event_cost(start);
      event_cost_ns = ticks * line_clock_ns_per_tick();  // a few ms after line_clock_init: precise enough
      calibrated = true;
    }
    rss_time_trigger = static_cast<int64_t>(kRssTimeTriggerNs / line_clock_ns_per_tick());
  }
  hook.install_thread();
}

bool line_tracer_per_thread() { return line_hook().per_thread(); }

const char* line_tracer_hook_name() { return line_hook().name(); }

void line_tracer_install_thread() {
  if (started) line_hook().install_thread();
}

void line_tracer_stop() {
  if (!started) return;
  started = false;
  line_hook().stop(registered_codes());
}

bool line_tracer_started() { return started; }

void line_tracer_finish_thread() {
  ThreadState& t = this_thread();
  if (t.epoch != epoch) return;  // its activations are an earlier run's
  while (!t.stack.empty()) {
    finish_line(t, t.stack.back(), boundary(t));
    t.stack.pop_back();
  }
}

void line_tracer_after_fork() {
  for (FunctionRecord& f : functions)
    for (LineRecord& r : f.lines) r = LineRecord{};
  ThreadState& t = this_thread();
  t.rss.reopen();
  for (Activation& a : t.stack) {
    a.counts_hit = false;
    a.rss_before = t.rss.value;
  }
}

const std::vector<FunctionRecord>& line_tracer_results() { return functions; }

int64_t line_time_ns(const LineRecord& r) {
  const double t = static_cast<double>(r.clock_ticks) * line_clock_ns_per_tick() -
                   event_cost_ns * static_cast<double>(r.events);
  return t > 0 ? static_cast<int64_t>(std::llround(t)) : 0;
}

void line_tracer_set_event_cost(double ns) {
  event_cost_ns = ns > 0 ? ns : 0;
  calibrated = true;
}

double line_tracer_event_cost() { return event_cost_ns; }

int64_t line_tracer_thread_events() { return this_thread().events; }

}  // namespace yep
