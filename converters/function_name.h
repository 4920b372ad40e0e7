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

// The symbol a compiler's copy of a function was made from. GCC and clang
// name the copies they make of one source function by appending suffixes:
// constant propagation (".constprop.0"), scalar replacement (".isra.0"),
// partial inlining (".part.0"), hot/cold splitting (".cold"), LTO's private
// and local names (".lto_priv.0", ".localalias"), ThinLTO (".llvm.123"),
// and their combinations. LTO also writes such names into DWARF
// (DW_AT_linkage_name "f.constprop.1", even DW_AT_name "f.constprop"). A
// copy is the function it copies: one row in reports, one function when
// profiles meet.
//   "_PyObject_MakeTpCall.constprop.1" -> "_PyObject_MakeTpCall"
//   "_ZN2ns4workEi.isra.0.cold" -> "_ZN2ns4workEi"
//   "runtime.mallocgc" -> "runtime.mallocgc" (a dot that starts no such suffix stays)
std::string without_clone_suffix(const std::string& symbol);

// What reports show for a function: short_function_name of native ones;
// Python functions (a .py file, or a system name starting "py:") and thread
// roots of mixed profiles ("thread:") as they are: "f.<locals>.g" and "<module>"
// are not C++ templates.
std::string display_name(const Function& f);

}  // namespace yep
