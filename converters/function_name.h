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

// What reports show for a function: short_function_name of native ones;
// Python functions (a .py file, or a system name starting "py:") and thread
// roots of mixed profiles ("thread:") as they are: "f.<locals>.g" and "<module>"
// are not C++ templates.
std::string display_name(const Function& f);

}  // namespace yep
