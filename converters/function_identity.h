// When two functions are one function: the key of a function wherever
// functions of several object files or several profiles meet (the
// symbolizer's table, merged profiles, comparisons with a base, pstats
// entries).
//
// function_identity(f) is equal for two functions exactly when they have
// the same name, symbol, source file, line of definition and object file.
// For a Python function that is its qualified name, file and line of
// definition; for a native one, its symbol in its object file, named by the
// file's last path component: the same library in another virtualenv, on
// another host or rebuilt is the same object, and the copies of one library
// that numpy and scipy each bundle (their names carry a hash) are two.
//
// loose_identity(f) leaves out the line of definition: a function whose
// definition moved (lines added above it) is matched by it when the name is
// unambiguous in both profiles (see profile_combiner.h).
#pragma once

#include <string>

#include "profile.h"

namespace yep {

std::string function_identity(const Function& f);
std::string loose_identity(const Function& f);

// The last component of an object file's path, as Function::object holds it.
std::string object_name(const std::string& path);

}  // namespace yep
