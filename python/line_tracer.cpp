#include "line_tracer.h"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <unordered_map>

#include "allocation_counter.h"
#include "line_calibration.h"
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
  const void* key;          // given by the hook (line_hook.h)
  size_t function;
  int line = -1;            // the line running now, -1 before the first
  bool counts_hit = false;  // the line was entered (not resumed inside)
  int64_t start_ns = 0;
  int64_t start_events = 0;  // this thread's event count when the line started
  int64_t start_net = 0;     // this thread's net bytes when the line started
  int64_t peak = 0;          // highest net seen during the line outside nested lines
  int64_t rss_before = 0;
  int64_t activation_peak = 0;  // highest net over the whole activation
};

constexpr int64_t kRssBytesTrigger = 256 << 10;
constexpr int64_t kRssTimeTrigger = 20'000'000;  // ns

inline int64_t now_ns() {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1'000'000'000LL + t.tv_nsec;
}

const long page_size = sysconf(_SC_PAGESIZE);

// RSS, re-read only when it can have changed (see the header).
struct Rss {
  int fd = -1;
  int64_t value = 0, at_net = 0, at_ns = 0;

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
  // Whether RSS must be read now (then `read` does it).
  bool stale(int64_t net, int64_t ns) const {
    return !counting_allocations || at_ns == 0 || std::llabs(net - at_net) >= kRssBytesTrigger ||
           ns - at_ns >= kRssTimeTrigger;
  }
  void read(int64_t net, int64_t ns) {
    value = read_now();
    at_net = net;
    at_ns = ns;
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

inline ThreadState& this_thread() {
  ThreadState* s = current_thread;
  if (__builtin_expect(s == nullptr, 0)) s = current_thread = &thread_state_owner.state;
  return *s;
}

LineRecord& record_of(size_t function, int line) {
  FunctionRecord& f = functions[function];
  const size_t at = static_cast<size_t>(std::max(0, line - f.first_line));
  if (__builtin_expect(at >= f.lines.size(), 0)) f.lines.resize(at + 1);
  return f.lines[at];
}

// A line boundary: the clock and the allocation counters, read once, and
// RSS when it can have changed. `ns` is when the boundary was reached (the
// end of the line before), `start_ns` when the next line starts: later when
// reading RSS took time, which then counts for neither line.
struct Boundary {
  int64_t ns, start_ns, net, peak, rss;
};

Boundary boundary(ThreadState& t) {
  Boundary b;
  b.ns = b.start_ns = now_ns();
  const ThreadAllocations a = thread_allocations();
  b.net = a.net;
  b.peak = a.peak;
  if (__builtin_expect(t.rss.stale(b.net, b.ns), 0)) {
    t.rss.read(b.net, b.ns);
    b.start_ns = now_ns();
  }
  b.rss = t.rss.value;
  return b;
}

void start_line(ThreadState& t, Activation& a, int line, bool counts_hit, const Boundary& b) {
  a.line = line;
  a.counts_hit = counts_hit;
  a.start_ns = b.start_ns;
  a.start_events = t.events;
  a.start_net = b.net;
  a.peak = b.net;
  reset_thread_peak();
  a.rss_before = b.rss;
}

// Ends a's current line.
void finish_line(ThreadState& t, Activation& a, const Boundary& b) {
  if (a.line < 0) return;
  LineRecord& r = record_of(a.function, a.line);
  const int64_t line_peak = std::max(a.peak, b.peak);
  a.activation_peak = std::max(a.activation_peak, line_peak);
  r.hits += a.counts_hit;
  r.clock_ns += b.ns - a.start_ns;
  r.events += t.events - a.start_events;
  r.net_bytes += b.net - a.start_net;
  r.peak_bytes = std::max(r.peak_bytes, line_peak - a.start_net);
  r.rss_max = std::max(r.rss_max, b.rss);
  r.rss_increment += b.rss - a.rss_before;
  a.line = -1;
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

bool enter(const void* key, PyObject* code, int line) {
  ThreadState& t = this_thread();
  t.events += 1;
  auto it = index_of.find(code);
  if (it == index_of.end()) return false;
  if (__builtin_expect(t.epoch != epoch, 0)) {
    t.stack.clear();
    t.epoch = epoch;
  }
  if (!t.stack.empty() && t.stack.back().line >= 0)  // the caller's line goes on around this call
    t.stack.back().peak = std::max(t.stack.back().peak, thread_allocations().peak);
  Activation a{key, it->second};
  a.activation_peak = thread_allocations().net;
  t.stack.push_back(a);
  if (line >= 0) start_line(t, t.stack.back(), line, false, boundary(t));
  return true;
}

void line(const void* key, int line) {
  ThreadState& t = this_thread();
  t.events += 1;
  if (__builtin_expect(t.stack.empty(), 0)) return;
  Activation& a = t.stack.back();
  if (__builtin_expect(a.key != key, 0)) return;
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
  if (!t.stack.empty() && t.stack.back().line >= 0) {
    // The call's peak counts toward the calling line's peak.
    t.stack.back().peak = std::max(t.stack.back().peak, call_peak);
    reset_thread_peak();
  }
}

void other() { this_thread().events += 1; }

}  // namespace line_events

size_t line_tracer_add(PyObject* code) {
  auto it = index_of.find(code);
  if (it != index_of.end()) return it->second;
  Py_INCREF(code);
  FunctionRecord f;
  f.code = code;
  f.first_line = reinterpret_cast<PyCodeObject*>(code)->co_firstlineno;
  f.lines.resize(static_cast<size_t>(std::max(0, last_line_of(code) - f.first_line) + 1));
  functions.push_back(std::move(f));
  index_of.emplace(code, functions.size() - 1);
  if (started) line_hook().watch(code);
  return functions.size() - 1;
}

void line_tracer_forget(PyObject* code) {
  auto it = index_of.find(code);
  if (it == index_of.end()) return;
  if (started) line_hook().unwatch(code);
  FunctionRecord& f = functions[it->second];
  index_of.erase(it);
  // The slot stays (an activation still running elsewhere may name its index).
  f.lines = {};
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
    if (calibrated) {
      start();
    } else {
      event_cost_ns = measure_line_event_cost(start);
      calibrated = true;
    }
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

const std::vector<FunctionRecord>& line_tracer_results() { return functions; }

int64_t line_time_ns(const LineRecord& r) {
  const double t = static_cast<double>(r.clock_ns) - event_cost_ns * static_cast<double>(r.events);
  return t > 0 ? static_cast<int64_t>(std::llround(t)) : 0;
}

void line_tracer_set_event_cost(double ns) {
  event_cost_ns = ns > 0 ? ns : 0;
  calibrated = true;
}

double line_tracer_event_cost() { return event_cost_ns; }

int64_t line_tracer_thread_events() { return this_thread().events; }

}  // namespace yep
