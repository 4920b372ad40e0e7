// Writes the callgrind format that callgrind_annotate and KCachegrind read
// (YEP's -c): one event per sample type (e.g. "samples" and "cpu", the
// latter in the unit of the profile, nanoseconds for CPU time), costs at
// source lines ("positions: line"), object (ob=), file (fl=, "???" when the
// debug info names none, as valgrind writes) and function (fn=) of every
// function, and call edges (cfi=/cfn=/calls=) with the
// inclusive cost at the calling line.
//
// Self cost goes to the line of a sample's leaf frame. A call edge's cost is
// counted once per sample for each (caller, calling line, callee), so a
// recursive stack does not multiply it; its call count is the number of
// samples that saw it (sampling cannot count calls).
#pragma once

#include <string>

#include "profile.h"

namespace yep {

std::string write_callgrind(const Profile& profile);

}  // namespace yep
