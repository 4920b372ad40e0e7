// Bindings of the line tracer (in progress).
#include <pybind11/pybind11.h>

namespace py = pybind11;

void bind_line_tracer(py::module_&) {}
