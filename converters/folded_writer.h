// Writes Brendan Gregg's "collapsed stacks" (folded) format, the input of
// flamegraph.pl, inferno, speedscope and most flame graph tools:
//
//   root;caller;...;leaf VALUE
//
// one line per distinct stack, frames root first with inlined frames
// expanded (Profile::frames), each frame named by its short display name
// (short_function_name for C/C++, Python names as they are). In names, ';'
// becomes ',' and newlines and other control characters become spaces, so
// every line splits unambiguously. A location the symbolizer left without
// lines is named "<object>+0x<offset>" (or "0x<address>"), a sample with no
// stack at all "[no stack]".
//
// VALUE is the sample value at value_index, an integer in the unit of that
// sample type (nanoseconds for cpu, bytes for space, plain counts). Samples
// with identical stacks are merged; stacks whose total is 0 are left out, so
// the values sum to the profile's total for that sample type. Lines are
// sorted by stack, so the output is deterministic.
#pragma once

#include <cstddef>
#include <string>

#include "profile.h"

namespace yep {

// Throws ProfileError when value_index is out of range.
std::string write_folded(const Profile& profile, size_t value_index);

}  // namespace yep
