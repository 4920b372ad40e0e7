// Writes a Python pstats file (what cProfile's dump_stats writes: the
// marshal of a dict), so pstats.Stats, snakeviz and gprof2dot read sampled
// native profiles.
//
//   (file, line, name) -> (cc, nc, tt, ct, {caller: (cc, nc, tt, ct)})
//
// file is the function's source file, else its object file; line is the
// line of its definition; name is the short display name.
// tt = self time: samples whose leaf frame is the function; ct = inclusive
// time: samples with the function anywhere on the stack, counted once per
// sample even under recursion. For sampled data there are no calls to count:
// cc = nc = the number of samples in which the function was on the stack.
// A caller edge holds the same figures restricted to samples in which that
// caller called the function directly (tt: when the callee was the leaf).
// Times are in seconds when the value's unit is nanoseconds; any other unit
// (e.g. bytes) is written as is.
#pragma once

#include <string>

#include "profile.h"

namespace yep {

std::string write_pstats(const Profile& profile, size_t value_index);

}  // namespace yep
