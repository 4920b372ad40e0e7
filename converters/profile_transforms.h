// Transformations of a profile that every output format shares, applied
// before a writer sees the profile (writers only read the model):
//  - focus/ignore (pprof's -focus/-ignore): keep only the samples with a
//    frame whose function matches `focus`, then drop those with a frame
//    matching `ignore`. Regexes are ECMAScript, searched in the short and the
//    full function name.
//  - line granularity (pprof's and YEP's --lines): every (function, line)
//    becomes its own function, named as the function, with start_line = the
//    line, so each report entry is a function at file:line.
#pragma once

#include <string>

#include "profile.h"

namespace yep {

Profile filter_samples(const Profile& profile, const std::string& focus, const std::string& ignore);

Profile by_lines(const Profile& profile);

}  // namespace yep
