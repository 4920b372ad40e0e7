// Bindings of the line tracer: register code objects, start and stop the
// hook, read the results.
#include <pybind11/pybind11.h>

#include "line_tracer.h"

namespace py = pybind11;

void bind_line_tracer(py::module_& m) {
  m.def("line_tracer_add", [](py::object code) {
    if (!PyCode_Check(code.ptr())) throw py::type_error("expected a code object");
    return py::reinterpret_steal<py::object>(yep::line_tracer_add(code.ptr()));
  }, py::arg("code"), "Profile this code object line by line; returns the code object the function must run "
     "(itself, or a copy that reports its lines).");
  m.def("line_tracer_registered", [](py::object code) {
    return py::reinterpret_borrow<py::object>(yep::line_tracer_registered(code.ptr()));
  }, py::arg("code"), "The registered code object a code object to run was made for (else itself).");
  m.def("line_tracer_forget", [](py::object code) { yep::line_tracer_forget(code.ptr()); }, py::arg("code"),
        "Stop profiling this code object and drop its figures.");
  m.def("line_tracer_start", &yep::line_tracer_start, py::arg("count_allocations") = true,
        "Start tracing (the first time, measure the tracer's cost per event); count_allocations adds the "
        "allocation hooks (needs yep's malloc interposer preloaded).");
  m.def("line_tracer_per_thread", &yep::line_tracer_per_thread,
        "Whether each new thread must call line_tracer_install_thread to be traced.");
  m.def("line_tracer_hook_name", &yep::line_tracer_hook_name, "How the tracer gets its events.");
  m.def("line_tracer_install_thread", &yep::line_tracer_install_thread,
        "Trace the calling thread too (hooks that are per thread).");
  m.def("line_tracer_stop", &yep::line_tracer_stop, "Stop tracing; the figures stay.");
  m.def("line_tracer_started", &yep::line_tracer_started, "Whether the tracer is started.");
  m.def("line_tracer_finish_thread", &yep::line_tracer_finish_thread,
        "Count the lines still running in the calling thread.");
  m.def("line_tracer_event_cost", &yep::line_tracer_event_cost,
        "The tracer's own cost per event in ns, taken out of the line times.");
  m.def("line_tracer_set_event_cost", &yep::line_tracer_set_event_cost, py::arg("ns"),
        "Set the tracer's cost per event (instead of measuring it at the first start).");
  m.def("line_tracer_after_fork", &yep::line_tracer_after_fork,
        "In a forked child: drop the parent's figures and read this process's own RSS from now on.");
  m.def("line_tracer_results", [] {
    py::list out;
    for (const yep::FunctionRecord& f : yep::line_tracer_results()) {
      if (!f.code) continue;  // forgotten
      py::dict lines;
      for (size_t i = 0; i < f.lines.size(); ++i) {
        const yep::LineRecord& r = f.lines[i];
        if (r.hits || r.clock_ticks)
          lines[py::int_(f.first_line + static_cast<int>(i))] = py::make_tuple(
              r.hits, yep::line_time_ns(r), r.net_bytes, r.peak_bytes, r.rss_max, r.rss_increment);
      }
      out.append(py::make_tuple(py::reinterpret_borrow<py::object>(f.code), lines));
    }
    return out;
  }, "[(code, {line: (hits, time_ns, net_bytes, peak_bytes, rss_max, rss_increment)})] per function "
     "still registered; time_ns without the tracer's own cost.");
}
