// yep's object census: every live Python object the interpreter can reach,
// counted and sized by type, in one pass (yep.census and the live view).
//
// What it promises:
//  - Which objects: every object gc.get_objects() lists (the GC-tracked
//    containers), plus every object reachable from those through their
//    referents (tp_traverse) that the collector does not track: str, int,
//    float, bytes, code objects, untracked tuples and dicts, ... Each object
//    is counted once (a hash set of addresses). Beyond tp_traverse, the
//    census also follows the references the collector does not need to see
//    but that keep objects alive: the keys of dicts (dict_traverse skips str
//    keys), the names and constants of code objects and the names of heap
//    types, so strings held only there are counted too.
//  - What it cannot see: objects referenced only from C (a static variable
//    of an extension, interned strings nobody else holds, the caches of the
//    interpreter) and the locals of running Python frames that are not
//    materialized as frame objects, whose locals the collector does not
//    traverse. The census therefore first materializes every frame of every
//    thread (sys._current_frames and f_back) and its locals, and starts from
//    those too: on 3.11 and 3.12 the frame's locals dict (as locals() does);
//    on 3.13+, where a function's locals are a FrameLocalsProxy made afresh
//    on each request (PEP 667), the values it shows (the proxy itself is not
//    counted). These frame objects and locals dicts (those of the census's
//    callers included) exist from then on, and are counted as "frame" and
//    (3.11, 3.12) "dict".
//  - Its own objects: the census keeps its working memory in C++ (the
//    gc.get_objects() list is not in itself), and builds its result after the
//    count. Objects given in `exclude` (earlier results, the live view) are
//    not counted, nor what they own: what would be freed with them (see
//    retained_size). Everything else in the process is, yep's own modules
//    included.
//  - Sizes are shallow, exactly what sys.getsizeof returns for each object:
//    __sizeof__ plus the GC header (and managed-dict pre-header) of its type
//    (on 3.13+, nothing for static types such as int itself).
//    __sizeof__ is computed without calling Python where the formula of the
//    builtin method is exact (object.__sizeof__ for types that inherit it,
//    int, compact ASCII str, list); every other type's own __sizeof__ is
//    called once per object after the traversal. A __sizeof__ that raises or
//    returns nonsense counts as object.__sizeof__ would.
//  - The traversal runs no Python code and holds the GIL throughout, so the
//    count is one consistent moment; objects whose __sizeof__ must be called
//    are held (a new reference each) until their size is known.
//
// Every function here needs the GIL. Errors (a Python exception while
// listing objects or frames) are thrown as CaptureError.
#pragma once

#include <Python.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace yep {

struct CensusRow {
  PyTypeObject* type = nullptr;  // a new reference, owned by the row (see CensusResult)
  int64_t count = 0;
  int64_t bytes = 0;  // sum of sys.getsizeof over the instances
};

struct CensusResult {
  CensusResult() = default;
  CensusResult(CensusResult&& other) noexcept;
  CensusResult& operator=(CensusResult&&) = delete;
  CensusResult(const CensusResult&) = delete;
  ~CensusResult();  // releases the rows' types

  std::vector<CensusRow> rows;  // one per exact type, in no particular order
  int64_t objects = 0;
  int64_t bytes = 0;
};

// Counts and sizes every reachable object by exact type, except those
// owned by `exclude`.
CensusResult take_census(const std::vector<PyObject*>& exclude);

// Every reachable object whose type is exactly `type` (nullptr: every
// object), at most `limit` of them (0: no limit), as new references.
std::vector<PyObject*> census_objects(PyTypeObject* type, size_t limit, const std::vector<PyObject*>& exclude);

struct RetainedSize {
  int64_t objects = 0;
  int64_t bytes = 0;  // sum of sys.getsizeof
};

// What would be freed if `roots` were: the roots, and the objects reachable
// from them (not crossing into types and modules) that nothing else refers
// to, directly or through other objects that would stay. A reference that
// tp_traverse does not show (one held by C code) counts as from elsewhere,
// so the figure errs on the small side.
RetainedSize retained_size(const std::vector<PyObject*>& roots);

// What sys.getsizeof(o) returns, computed as the census does (so also
// object.__sizeof__'s answer where o's own __sizeof__ raises).
Py_ssize_t shallow_size(PyObject* o);

}  // namespace yep
