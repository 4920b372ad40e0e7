// Short display names for demangled C++ functions, as pprof shows them:
// no return type, no parameter list, no template arguments, no
// "[clone .constprop.0]" suffixes.
//   "void qsort_<zmm_vector<double>, double>(double*, unsigned long) [clone .constprop.0]" -> "qsort_"
//   "std::vector<int, std::allocator<int> >::push_back(int const&)" -> "std::vector::push_back"
//   "(anonymous namespace)::helper(int)" -> "(anonymous namespace)::helper"
//   "ns::Class::operator()(int) const" -> "ns::Class::operator()"
// C names and names that are not demangled C++ come back unchanged.
#pragma once

#include <string>

#include "profile.h"

namespace yep {

std::string short_function_name(const std::string& name);

// The Python-level name of a C function Cython generated, "" for any other
// name. Cython mangles module, class and function names into the symbol,
// each part as <length><chars> joined by '_' (__pyx_f_: cdef functions,
// __pyx_pf_/__pyx_pw_: def functions and their wrappers, whose name carries
// an index first):
//   "__pyx_f_7sklearn_4tree_10_criterion_4Gini_children_impurity"
//       -> "sklearn.tree._criterion.Gini.children_impurity"
//   "__pyx_pw_6pandas_5_libs_3lib_25maybe_convert_objects" -> "pandas._libs.lib.maybe_convert_objects"
std::string cython_name(const std::string& symbol);

// What reports show for a function: short_function_name of native ones;
// Python functions (a .py file, or a system name starting "py:") and thread
// roots of mixed profiles ("thread:") as they are: "f.<locals>.g" and "<module>"
// are not C++ templates.
std::string display_name(const Function& f);

}  // namespace yep
