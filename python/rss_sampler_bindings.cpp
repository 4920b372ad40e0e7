// Bindings of the RSS sampler (in progress).
#include <pybind11/pybind11.h>

namespace py = pybind11;

void bind_rss_sampler(py::module_&) {}
