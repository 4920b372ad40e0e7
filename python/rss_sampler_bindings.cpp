// Bindings of the RSS sampler (rss_sampler.h) for yep.memory_usage.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "rss_sampler.h"

namespace py = pybind11;

void bind_rss_sampler(py::module_& m) {
  py::enum_<yep::MemoryMetric>(m, "MemoryMetric", "What the RSS sampler measures.")
      .value("RSS", yep::MemoryMetric::Rss, "resident set size (/proc/<pid>/statm)")
      .value("PSS", yep::MemoryMetric::Pss, "proportional set size (/proc/<pid>/smaps_rollup)")
      .value("USS", yep::MemoryMetric::Uss, "unique set size: the Private_* lines of smaps_rollup")
      .value("HEAP", yep::MemoryMetric::Heap, "this process's native heap in use (the allocator's bytes in use)")
      .value("HEAP_SAMPLED", yep::MemoryMetric::HeapSampled,
             "this process's native heap in use as the running sampled heap profiler estimates it");

  py::class_<yep::RssSampler>(m, "RssSampler",
                              "The memory of a process (and its descendants) read by a native thread at an interval.")
      .def(py::init([](int pid, double interval, yep::MemoryMetric metric, bool include_children, bool per_child,
                       bool max_only, int64_t max_samples) {
             yep::RssSamplerOptions o;
             o.pid = pid;
             o.interval = interval;
             o.metric = metric;
             o.include_children = include_children;
             o.per_child = per_child;
             o.max_only = max_only;
             o.max_samples = max_samples;
             return std::make_unique<yep::RssSampler>(o);
           }),
           py::arg("pid") = 0, py::arg("interval") = 0.1, py::arg("metric") = yep::MemoryMetric::Rss,
           py::arg("include_children") = false, py::arg("per_child") = false, py::arg("max_only") = false,
           py::arg("max_samples") = 0,
           "Open the process's /proc files (pid 0: this process); YepError if there is no such process.")
      .def("start", &yep::RssSampler::start, py::call_guard<py::gil_scoped_release>(),
           "Take the first sample now, then sample every interval in a native thread.")
      .def("wait", &yep::RssSampler::wait, py::arg("seconds"), py::call_guard<py::gil_scoped_release>(),
           "Sleep until the sampler finished by itself (process exited, max_samples taken) or seconds passed; "
           "return whether it finished.")
      .def("stop", &yep::RssSampler::stop, py::arg("last_sample") = true, py::call_guard<py::gil_scoped_release>(),
           "End sampling (after one more sample if last_sample) and join the thread.")
      .def("take",
           [](yep::RssSampler& s) {
             yep::MemorySamples taken;
             {
               py::gil_scoped_release release;
               taken = s.take();
             }
             py::list samples(taken.samples.size());
             for (size_t i = 0; i < taken.samples.size(); ++i)
               samples[i] = py::make_tuple(taken.samples[i].unix_ns, taken.samples[i].bytes);
             py::list children(taken.children.size());
             for (size_t i = 0; i < taken.children.size(); ++i) {
               py::list row(taken.children[i].size());
               for (size_t j = 0; j < taken.children[i].size(); ++j)
                 row[j] = py::make_tuple(taken.children[i][j].pid, taken.children[i][j].bytes);
               children[i] = row;
             }
             return py::make_tuple(samples, children);
           },
           "Samples since the last take(): ([(unix_ns, bytes)], [[(child pid, bytes)] per sample, with per_child]).")
      .def_property_readonly("samples_taken", &yep::RssSampler::samples_taken)
      .def_property_readonly("process_exited", &yep::RssSampler::process_exited);
}
