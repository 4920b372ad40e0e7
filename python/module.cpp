// yep._native: Python bindings only. Capture logic lives in cpu_profiler.*,
// reading and reporting in libyepconv (converters/). Errors of both become
// yep.YepError with their one-line message.
#include <malloc.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "output_file.h"
#include "c_exit_hook.h"
#include "cpu_profiler.h"
#include "heap_profiler.h"
#include "interpreter_code.h"
#include "mixed_sampler.h"
#include "own_threads.h"
#include "profile_diff.h"
#include "profile_loader.h"
#include "python_frames.h"
#include "sigterm_relay.h"
#include "report.h"

namespace py = pybind11;

void bind_rss_sampler(py::module_& m);   // rss_sampler_bindings.cpp
void bind_line_tracer(py::module_& m);   // line_tracer_bindings.cpp
void bind_census(py::module_& m);        // census_bindings.cpp

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
  d["timer_handler_replaced_by"] = s.timer_handler_replaced_by;
  return d;
}

yep::TextOptions::Sort parse_sort(const std::string& sort) {
  if (sort == "flat") return yep::TextOptions::Sort::Flat;
  if (sort == "cum") return yep::TextOptions::Sort::Cum;
  throw yep::ProfileError("unknown sort '" + sort + "': use flat or cum");
}

py::bytes render(const yep::Profile& profile, const std::string& format, const std::string& sort, size_t nodecount,
                 int sample_index, const std::string& focus, const std::string& ignore, bool lines,
                 const std::string& list, const std::string& title, bool interpreter, bool threads,
                 bool processes, bool object_addresses, double nodefraction, double edgefraction) {
  yep::ReportOptions o;
  o.format = format;
  o.sort = parse_sort(sort);
  o.nodecount = nodecount;
  o.sample_index = sample_index;
  o.focus = focus;
  o.ignore = ignore;
  o.lines = lines;
  o.list = list;
  o.title = title;
  o.interpreter = interpreter;
  o.threads = threads;
  o.processes = processes;
  o.object_addresses = object_addresses;
  o.nodefraction = nodefraction;
  o.edgefraction = edgefraction;
  std::string out;
  {
    py::gil_scoped_release release;
    out = yep::render(profile, o);
  }
  return py::bytes(out);
}

int64_t total(const yep::Profile& profile, int sample_index) {
  const size_t vi = profile.value_index(sample_index);
  int64_t sum = 0;
  for (const yep::Sample& s : profile.samples) sum += s.values[vi];
  return sum;
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
    } catch (const yep::OutputError& e) {
      PyErr_SetString(yep_error.ptr(), e.what());
    }
  });

  // yep/atomic_file.py: every Python writer's output file (output_file.h).
  py::class_<yep::OutputFile>(m, "OutputFile")
      .def(py::init<const std::string&>(), py::arg("path"))
      .def_property_readonly("fd", &yep::OutputFile::fd)
      .def_property_readonly("temporary", &yep::OutputFile::temporary)
      .def("commit", &yep::OutputFile::commit)
      .def("abandon", &yep::OutputFile::abandon);

  bind_rss_sampler(m);
  bind_line_tracer(m);
  bind_census(m);

  m.def("cpu_start", &yep::cpu_profiler_start, py::arg("path"), py::arg("frequency") = 0.0,
        "Start gperftools' CPU profiler writing to path (frequency <= 0: its default).");
  m.def("cpu_stop", [] { return summary_to_dict(yep::cpu_profiler_stop()); },
        "Stop the CPU profiler, finish the file and return what was measured.");
  m.def("sigterm_relay_install", &yep::sigterm_relay_install,
        "Put the SIGTERM relay in front of Python's SIGTERM handler (sigterm_relay.h).");
  m.def("sigterm_relay_handled", &yep::sigterm_relay_handled, "The Python SIGTERM handler runs: stop repeating.");
  m.def("c_exit_hook_set", [](py::object finish) { yep::c_exit_hook_set(finish.ptr()); }, py::arg("finish"),
        "Call finish() (None: nothing) if the process leaves by exit() from C (c_exit_hook.h).");
  m.def("cpu_release_after_fork", &yep::cpu_profiler_release_after_fork,
        "In a forked child: forget the parent's profile without writing to it.");
  m.def("cpu_flush", &yep::cpu_profiler_flush, "Flush samples gathered so far to the file.");
  m.def("cpu_running", &yep::cpu_profiler_running, "Whether the CPU profiler is running.");
  m.def("cpu_samples", &yep::cpu_profiler_samples, "Samples gperftools' CPU profiler has gathered so far.");
  m.def("cpu_profile_path", &yep::cpu_profiler_path,
        "The file the running CPU profiler writes to ('' when none is running).");
  m.def("mixed_start", [](const std::string& path, double frequency, py::object root_code, bool wall,
                          const std::string& stdlib) {
          const bool none = root_code.is_none();
          return yep::mixed_sampler_start(path, frequency, none ? 0 : reinterpret_cast<uintptr_t>(root_code.ptr()),
                                          none ? "" : root_code.attr("co_filename").cast<std::string>(), wall, stdlib);
        }, py::arg("path"), py::arg("frequency") = 0.0, py::arg("root_code") = py::none(), py::arg("wall") = false,
        py::arg("stdlib") = "",
        "Start a mixed Python + native stack profile writing to path and return its id; the first starts the "
        "sampler (frequency <= 0: 100 Hz; stacks start above the root-most frame of root_code, a code object "
        "kept alive by the caller; wall: wall-clock time instead of CPU time), later ones share it.");
  m.def("interpreter_code", [] {
          const yep::InterpreterCode& code = yep::interpreter_code();
          auto ranges = [](const yep::CodeRanges& r) {
            py::list out;
            for (int i = 0; i < r.count; ++i) out.append(py::make_tuple(r.ranges[i].start, r.ranges[i].end));
            return out;
          };
          py::dict d;
          d["eval"] = ranges(code.eval);
          d["object"] = ranges(code.object);
          d["builtins"] = code.builtins.size();
          return d;
        },
        "Where the interpreter's eval loop and code are (address ranges), and how many builtins' C "
        "functions were found: what mixed stacks are merged and hidden by.");
  m.def("mixed_support", [] {
          const char* reason = yep::python_frames_unsupported_reason();
          const char* status = !reason ? "ok" : yep::python_frames_layout_known() ? "mismatch" : "no layout";
          return py::make_tuple(status, reason ? reason : "");
        },
        "Whether this Python's frames can be read: ('ok', ''), ('no layout', why) for a version this build "
        "does not know, ('mismatch', why) when the running interpreter contradicts the layout built in.");
  m.def("mixed_stop", [](int id, const std::map<uint64_t, std::string>& names) {
          return summary_to_dict(yep::mixed_sampler_stop(id, names));
        }, py::arg("id"), py::arg("thread_names"),
        "End mixed profile id: write its file and return what was measured; the last one stops the sampler.");
  m.def("mixed_flush", &yep::mixed_sampler_flush, py::arg("id"), py::arg("thread_names"),
        "Write mixed profile id so far to its file; sampling goes on.");
  m.def("mixed_pause", &yep::mixed_sampler_pause, py::arg("id"), py::arg("thread_names"),
        "Stop gathering into mixed profile id and write its file; mixed_resume gathers on.");
  m.def("mixed_resume", &yep::mixed_sampler_resume, py::arg("id"), "Gather into mixed profile id again.");
  m.def("mixed_running", &yep::mixed_sampler_running, "Whether the mixed sampler is running.");
  m.def("mixed_samples", &yep::mixed_sampler_samples, "The program's samples recorded since the sampler started.");
  m.def("mark_own_thread", &yep::mark_own_thread,
        "The calling thread is yep's own: CPU profiles count its samples as yep's and record none.");
  m.def("unmark_own_thread", &yep::unmark_own_thread, "The calling thread is no longer yep's own (it ends).");
  m.def("mixed_recording", &yep::mixed_sampler_recording,
        "Whether some mixed profile gathers samples now (not all paused).");
  m.def("mixed_rate", [] { return summary_to_dict(yep::mixed_sampler_rate()); },
        "The running mixed sampler's requested_hz and wall_clock.");
  m.def("cpu_wall_clock", &yep::cpu_profiler_wall_clock,
        "Whether the profiler samples wall time (CPUPROFILE_REALTIME was set when loaded).");
  m.def("malloc_hooks_available", &yep::malloc_hooks_available,
        "Whether this process's mallocs reach yep's hooks (its interposer preloaded, or tcmalloc as the allocator).");
  m.def("malloc_hooks_library", &yep::malloc_hooks_library, "yep's malloc interposer, to LD_PRELOAD.");
  m.def("heap_start", [](const std::string& prefix, bool mixed, py::object root_code, int64_t sample, uint64_t seed) {
          yep::HeapMixed m;
          m.enabled = mixed;
          m.root_code = root_code.is_none() ? 0 : reinterpret_cast<uintptr_t>(root_code.ptr());
          yep::heap_profiler_start(prefix, m, yep::HeapSampling{sample, seed});
        }, py::arg("prefix"), py::arg("mixed") = false, py::arg("root_code") = py::none(), py::arg("sample") = 0,
        py::arg("seed") = 0,
        "Start the heap profiler; mixed: stacks hold Python frames too, starting above root_code's frame; "
        "sample > 0: record one allocation per `sample` bytes on average (seed 0: a random seed).");
  m.def("heap_dump", &yep::heap_profiler_dump, py::arg("reason"), "Write a heap profile now; returns its path.");
  m.def("heap_stop", &yep::heap_profiler_stop, "Dump, stop, and return the files of the session.");
  m.def("heap_running", &yep::heap_profiler_running, "Whether the heap profiler is running.");
  m.def("heap_stats", [](bool reset_peak) {
          const yep::HeapStats s = yep::heap_stats(reset_peak);
          py::dict d;
          d["live_bytes"] = s.live_bytes;
          d["peak_bytes"] = s.peak_bytes;
          d["allocations"] = s.allocations;
          d["frees"] = s.frees;
          return d;
        }, py::arg("reset_peak") = false, "Live and peak heap bytes from the malloc hooks.");
  m.def("heap_recorder_stats", [] {
          const yep::HeapRecorderStats s = yep::heap_recorder_stats();
          py::dict d;
          d["recording"] = s.recording;
          d["sample"] = s.sample_mean;
          d["inuse_bytes"] = s.inuse_bytes;
          d["peak_bytes"] = s.peak_bytes;
          d["allocated_bytes"] = s.allocated_bytes;
          d["stacks"] = s.stacks;
          d["live_blocks"] = s.live_blocks;
          d["memory_bytes"] = s.memory_bytes;
          return d;
        }, "The heap recorder's session figures (requested bytes) and its own memory.");

  py::class_<yep::Profile>(m, "Profile", "A loaded, symbolized profile (libyepconv's model).")
      .def_property_readonly("sample_types",
                             [](const yep::Profile& p) {
                               py::list out;
                               for (const auto& t : p.sample_types) out.append(py::make_tuple(t.type, t.unit));
                               return out;
                             })
      .def_property_readonly("default_sample_index", [](const yep::Profile& p) { return p.default_sample_type; })
      .def_property_readonly("comments", [](const yep::Profile& p) { return p.comments; })
      .def_property_readonly("duration_nanos", [](const yep::Profile& p) { return p.duration_nanos; })
      .def_property_readonly("period", [](const yep::Profile& p) { return p.period; })
      .def_property_readonly("is_diff", [](const yep::Profile& p) { return p.diff; })
      .def("total", &total, py::arg("sample_index") = -1, "Sum of one sample value over all samples.")
      .def("render", &render, py::arg("format"), py::arg("sort") = "flat", py::arg("nodecount") = 0,
           py::arg("sample_index") = -1, py::arg("focus") = "", py::arg("ignore") = "", py::arg("lines") = false,
           py::arg("list") = "", py::arg("title") = "", py::arg("interpreter") = false, py::arg("threads") = false,
           py::arg("processes") = false, py::arg("object_addresses") = false,
           py::arg("nodefraction") = 0.005, py::arg("edgefraction") = 0.001,
           "The profile in one output format, as bytes.");
  m.def("load", [](const std::vector<std::string>& paths, const std::string& base, bool normalize) {
          yep::Profile profile = yep::load_profiles(paths, base, normalize);
          // The symbolizer's scratch memory (often 100 MB) goes back to the
          // system: the Python process goes on running, and measuring memory.
          malloc_trim(0);
          return profile;
        },
        py::arg("paths"), py::arg("base") = "", py::arg("normalize") = false,
        py::call_guard<py::gil_scoped_release>(),
        "Read and symbolize profile files (several: merged into one; base: compared with it).");
  m.def("diff", &yep::diff, py::arg("profile"), py::arg("base"), py::arg("profile_name"), py::arg("base_name"),
        py::arg("normalize") = false, py::call_guard<py::gil_scoped_release>(),
        "A loaded profile compared with a loaded base (profile_diff.h); copies of both.");
  m.def("format_names", &yep::format_names, "Output formats render() accepts.");
  m.def("format_suffix", &yep::format_suffix, py::arg("format"), "Usual file suffix of a format.");
  m.def("is_binary_format", &yep::is_binary_format, py::arg("format"), "Whether a format is binary.");
}
