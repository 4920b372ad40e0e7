// yep._native: Python bindings only. Capture logic lives in cpu_profiler.*,
// reading and reporting in libyepconv (converters/). Errors of both become
// yep.YepError with their one-line message.
#include <pybind11/pybind11.h>

#include "cpu_profiler.h"
#include "profile_loader.h"
#include "text_writer.h"

namespace py = pybind11;

namespace {

py::dict summary_to_dict(const yep::CpuProfileSummary& s) {
  py::dict d;
  d["path"] = s.path;
  d["wall_clock"] = s.wall_clock;
  d["samples"] = s.samples;
  d["requested_hz"] = s.requested_hz;
  d["achieved_hz"] = s.achieved_hz;
  d["cpu_seconds"] = s.cpu_seconds;
  d["wall_seconds"] = s.wall_seconds;
  return d;
}

std::string report_text(const std::string& path, const std::string& sort, size_t nodecount) {
  yep::TextOptions options;
  if (sort == "flat") options.sort = yep::TextOptions::Sort::Flat;
  else if (sort == "cum") options.sort = yep::TextOptions::Sort::Cum;
  else throw yep::ProfileError("unknown sort '" + sort + "': use flat or cum");
  options.nodecount = nodecount;
  return yep::write_text(yep::load_profile(path), options);
}

}  // namespace

PYBIND11_MODULE(_native, m) {
  m.doc() = "yep's native core: gperftools capture and the profile converter";

  // Leaked on purpose: the exception class lives as long as the interpreter.
  static py::handle yep_error = py::object(py::module_::import("yep._errors").attr("YepError")).release();
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const yep::CaptureError& e) {
      PyErr_SetString(yep_error.ptr(), e.what());
    } catch (const yep::ProfileError& e) {
      PyErr_SetString(yep_error.ptr(), e.what());
    }
  });

  m.def("cpu_start", &yep::cpu_profiler_start, py::arg("path"), py::arg("frequency") = 0.0,
        "Start gperftools' CPU profiler writing to path (frequency <= 0: its default).");
  m.def("cpu_stop", [] { return summary_to_dict(yep::cpu_profiler_stop()); },
        "Stop the CPU profiler, finish the file and return what was measured.");
  m.def("cpu_release_after_fork", &yep::cpu_profiler_release_after_fork,
        "In a forked child: forget the parent's profile without writing to it.");
  m.def("cpu_flush", &yep::cpu_profiler_flush, "Flush samples gathered so far to the file.");
  m.def("cpu_running", &yep::cpu_profiler_running, "Whether the CPU profiler is running.");
  m.def("cpu_wall_clock", &yep::cpu_profiler_wall_clock,
        "Whether the profiler samples wall time (CPUPROFILE_REALTIME was set when loaded).");
  m.def("report_text", &report_text, py::arg("path"), py::arg("sort") = "flat", py::arg("nodecount") = 0,
        py::call_guard<py::gil_scoped_release>(), "Read and symbolize a profile and return the text report.");
}
