// Bindings of the object census (census.h) for yep.census and the live view.
#include <pybind11/pybind11.h>

#include "census.h"

namespace py = pybind11;

namespace {

// The objects of a Python sequence, borrowed (the sequence holds them), and
// the sequence itself, which is the caller's too.
std::vector<PyObject*> borrowed(const py::list& objects, bool with_list) {
  std::vector<PyObject*> out;
  for (py::handle o : objects) out.push_back(o.ptr());
  if (with_list) out.push_back(objects.ptr());
  return out;
}

py::list steal_all(std::vector<PyObject*>&& objects) {
  py::list out(objects.size());
  for (size_t i = 0; i < objects.size(); ++i) out[i] = py::reinterpret_steal<py::object>(objects[i]);
  return out;
}

}  // namespace

void bind_census(py::module_& m) {
  m.def("census",
        [](const py::list& exclude) {
          yep::CensusResult result = yep::take_census(borrowed(exclude, true));
          py::list rows(result.rows.size());
          for (size_t i = 0; i < result.rows.size(); ++i) {
            const yep::CensusRow& row = result.rows[i];
            rows[i] = py::make_tuple(py::reinterpret_borrow<py::object>(reinterpret_cast<PyObject*>(row.type)),
                                     row.count, row.bytes);
          }
          return py::make_tuple(rows, result.objects, result.bytes);
        },
        py::arg("exclude") = py::list(),
        "Count and size every reachable object by exact type, except those owned by the objects in exclude "
        "(and the list itself): ([(type, count, bytes)], objects, bytes).");
  m.def("census_objects",
        [](py::object type, size_t limit, const py::list& exclude) {
          if (!type.is_none() && !PyType_Check(type.ptr())) throw py::type_error("type must be a type or None");
          PyTypeObject* t = type.is_none() ? nullptr : reinterpret_cast<PyTypeObject*>(type.ptr());
          return steal_all(yep::census_objects(t, limit, borrowed(exclude, true)));
        },
        py::arg("type") = py::none(), py::arg("limit") = 0, py::arg("exclude") = py::list(),
        "Reachable objects of exactly this type (None: all), at most limit (0: no limit).");
  m.def("census_retained",
        [](const py::list& roots) {
          const yep::RetainedSize r = yep::retained_size(borrowed(roots, false));
          return py::make_tuple(r.objects, r.bytes);
        },
        py::arg("roots"), "(objects, bytes) that would be freed with the objects in roots.");
  m.def("census_sizeof", [](py::handle o) { return yep::shallow_size(o.ptr()); }, py::arg("obj"),
        "sys.getsizeof(obj), computed as the census computes it.");
}
