#include "line_tracer.h"

#include <fcntl.h>
#include <frameobject.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <unordered_map>

#include "allocation_counter.h"

namespace yep {

namespace {

std::vector<FunctionRecord> functions;
std::unordered_map<PyObject*, size_t> index_of;  // code object -> functions index

// One running activation of a registered function in this thread.
struct Activation {
  PyFrameObject* frame;
  size_t function;
  int line = -1;          // the line running now, -1 before the first
  int64_t start_ns = 0;
  int64_t start_net = 0;  // this thread's net bytes when the line started
  int64_t peak = 0;       // highest net seen during the line outside nested lines
  int64_t rss_before = 0;
  int64_t activation_peak = 0;  // highest net over the whole activation
};

constexpr int64_t kRssBytesTrigger = 256 << 10;
constexpr int64_t kRssTimeTrigger = 20'000'000;  // ns

int64_t now_ns() {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1'000'000'000LL + t.tv_nsec;
}

const long page_size = sysconf(_SC_PAGESIZE);
bool counting_allocations = true;  // see line_tracer_install_thread

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
  int64_t get(int64_t net, int64_t ns) {
    if (!counting_allocations || at_ns == 0 || std::llabs(net - at_net) >= kRssBytesTrigger ||
        ns - at_ns >= kRssTimeTrigger) {
      value = read_now();
      at_net = net;
      at_ns = ns;
    }
    return value;
  }
};
// This thread's activations and RSS reader. Events reach them through an
// initial-exec thread_local pointer: one %fs-relative load (the module's TLS
// is static anyway, for the allocation counters), where general-dynamic
// thread_locals, and the init guard of one with a destructor, each cost a
// __tls_get_addr call, several per line event. The state is owned by an
// ordinary thread_local and destroyed at thread exit, as before.
struct ThreadState {
  std::vector<Activation> stack;
  Rss rss;
};
__attribute__((tls_model("initial-exec"))) thread_local ThreadState* current_thread = nullptr;
struct ThreadStateOwner {
  ThreadState state;
  ~ThreadStateOwner() { current_thread = nullptr; }
};
thread_local ThreadStateOwner thread_state_owner;

ThreadState& this_thread() {
  ThreadState* s = current_thread;
  if (__builtin_expect(s == nullptr, 0)) s = current_thread = &thread_state_owner.state;
  return *s;
}

LineRecord& record_of(size_t function, int line) {
  FunctionRecord& f = functions[function];
  const size_t at = static_cast<size_t>(std::max(0, line - f.first_line));
  if (at >= f.lines.size()) f.lines.resize(at + 1);
  return f.lines[at];
}

void start_line(Rss& rss, Activation& a, int line) {
  const ThreadAllocations now = thread_allocations();
  a.line = line;
  a.start_net = now.net;
  a.peak = now.net;
  reset_thread_peak();
  a.start_ns = now_ns();
  a.rss_before = rss.get(now.net, a.start_ns);
}

// Ends a's current line.
void finish_line(Rss& rss, Activation& a) {
  if (a.line < 0) return;
  const int64_t end = now_ns();
  const ThreadAllocations now = thread_allocations();
  const int64_t rss_after = rss.get(now.net, end);
  LineRecord& r = record_of(a.function, a.line);
  const int64_t line_peak = std::max(a.peak, now.peak);
  const int64_t extra = line_peak - a.start_net;
  a.activation_peak = std::max(a.activation_peak, line_peak);
  r.hits += 1;
  r.time_ns += end - a.start_ns;
  r.net_bytes += now.net - a.start_net;
  r.peak_bytes = std::max(r.peak_bytes, extra);
  r.rss_max = std::max(r.rss_max, rss_after);
  r.rss_increment += rss_after - a.rss_before;
  a.line = -1;
}

int trace(PyObject*, PyFrameObject* frame, int what, PyObject*) {
  ThreadState& t = this_thread();
  std::vector<Activation>& stack = t.stack;
  switch (what) {
    case PyTrace_CALL: {
      PyCodeObject* code = PyFrame_GetCode(frame);
      auto it = index_of.find(reinterpret_cast<PyObject*>(code));
      Py_DECREF(code);
      if (it == index_of.end()) {
        // Not profiled: no line events for this frame. (The attribute name
        // is made once: PyObject_SetAttrString would build and intern it on
        // every call of every unprofiled function.)
        static PyObject* const f_trace_lines = PyUnicode_InternFromString("f_trace_lines");
        if (f_trace_lines == nullptr ||
            PyObject_SetAttr(reinterpret_cast<PyObject*>(frame), f_trace_lines, Py_False) < 0)
          PyErr_Clear();
        return 0;
      }
      if (!stack.empty() && stack.back().line >= 0)  // the caller's line goes on around this call
        stack.back().peak = std::max(stack.back().peak, thread_allocations().peak);
      Activation a{frame, it->second};
      a.activation_peak = thread_allocations().net;
      stack.push_back(a);
      return 0;
    }
    case PyTrace_LINE: {
      if (stack.empty() || stack.back().frame != frame) return 0;
      Activation& a = stack.back();
      finish_line(t.rss, a);
      start_line(t.rss, a, PyFrame_GetLineNumber(frame));
      return 0;
    }
    case PyTrace_RETURN: {  // also on yield, and when an exception leaves
      if (stack.empty() || stack.back().frame != frame) return 0;
      finish_line(t.rss, stack.back());
      const int64_t call_peak = stack.back().activation_peak;
      stack.pop_back();
      if (!stack.empty() && stack.back().line >= 0) {
        // The call's peak counts toward the calling line's peak.
        stack.back().peak = std::max(stack.back().peak, call_peak);
        reset_thread_peak();
      }
      return 0;
    }
    default:
      return 0;
  }
}

}  // namespace

size_t line_tracer_add(PyObject* code) {
  auto it = index_of.find(code);
  if (it != index_of.end()) return it->second;
  Py_INCREF(code);
  FunctionRecord f;
  f.code = code;
  f.first_line = reinterpret_cast<PyCodeObject*>(code)->co_firstlineno;
  functions.push_back(std::move(f));
  index_of.emplace(code, functions.size() - 1);
  return functions.size() - 1;
}

void line_tracer_forget(PyObject* code) {
  auto it = index_of.find(code);
  if (it == index_of.end()) return;
  FunctionRecord& f = functions[it->second];
  index_of.erase(it);
  // The slot stays (an activation still running elsewhere may name its index).
  f.lines = {};
  f.code = nullptr;
  Py_DECREF(code);
}

void line_tracer_install_thread(bool count_allocations) {
  if (count_allocations) allocation_counter_install();
  counting_allocations = count_allocations;
  PyEval_SetTrace(trace, nullptr);
}

void line_tracer_uninstall_thread() { PyEval_SetTrace(nullptr, nullptr); }

void line_tracer_finish_thread() {
  ThreadState& t = this_thread();
  std::vector<Activation>& stack = t.stack;
  while (!stack.empty()) {
    finish_line(t.rss, stack.back());
    stack.pop_back();
  }
}

const std::vector<FunctionRecord>& line_tracer_results() { return functions; }

}  // namespace yep
