// Bindings of the line tracer: register code objects, install the trace
// function per thread, read the results.
#include <pybind11/pybind11.h>

#include "line_tracer.h"

namespace py = pybind11;

void bind_line_tracer(py::module_& m) {
  m.def("line_tracer_add", [](py::object code) {
    if (!PyCode_Check(code.ptr())) throw py::type_error("expected a code object");
    return yep::line_tracer_add(code.ptr());
  }, py::arg("code"), "Profile this code object line by line.");
  m.def("line_tracer_forget", [](py::object code) { yep::line_tracer_forget(code.ptr()); }, py::arg("code"),
        "Stop profiling this code object and drop its figures.");
  m.def("line_tracer_install_thread", &yep::line_tracer_install_thread, py::arg("count_allocations") = true,
        "Trace the calling thread; count_allocations adds the allocation hooks (needs tcmalloc).");
  m.def("line_tracer_uninstall_thread", &yep::line_tracer_uninstall_thread, "Stop tracing the calling thread.");
  m.def("line_tracer_finish_thread", &yep::line_tracer_finish_thread,
        "Count the lines still running in the calling thread.");
  m.def("line_tracer_results", [] {
    py::list out;
    for (const yep::FunctionRecord& f : yep::line_tracer_results()) {
      if (!f.code) continue;  // forgotten
      py::dict lines;
      for (size_t i = 0; i < f.lines.size(); ++i) {
        const yep::LineRecord& r = f.lines[i];
        if (r.hits)
          lines[py::int_(f.first_line + static_cast<int>(i))] =
              py::make_tuple(r.hits, r.time_ns, r.net_bytes, r.peak_bytes, r.rss_max, r.rss_increment);
      }
      out.append(py::make_tuple(py::reinterpret_borrow<py::object>(f.code), lines));
    }
    return out;
  }, "[(code, {line: (hits, time_ns, net_bytes, peak_bytes, rss_max, rss_increment)})] per function "
     "still registered.");
}
