// Transformations of a profile that every output format shares, applied
// before a writer sees the profile (writers only read the model):
//  - focus/ignore (pprof's -focus/-ignore): keep only the samples with a
//    frame whose function matches `focus`, then drop those with a frame
//    matching `ignore`. Regexes are ECMAScript, searched in the short and the
//    full function name.
//  - line granularity (pprof's and YEP's --lines): every (function, line)
//    becomes its own function, named as the function, with start_line = the
//    line, so each report entry is a function at file:line.
//  - mixed Python + native stacks (yep --mixed): the interpreter's own native
//    frames are hidden unless asked for, and samples can be split by thread.
#pragma once

#include <string>

#include "profile.h"

namespace yep {

Profile filter_samples(const Profile& profile, const std::string& focus, const std::string& ignore);

Profile by_lines(const Profile& profile);

// Drops the interpreter's own plumbing frames (its eval loop and the helpers
// it calls directly, as the capture marked them; in older files every frame
// of the python executable or libpython), so each Python frame sits on the
// native code it called, builtins' C functions included. A sample made only
// of hidden frames keeps them. Only for profiles with Python frames; others
// are returned unchanged.
Profile hide_interpreter_frames(const Profile& profile);

// Adds a root frame per thread, named by the sample's "thread" label, so
// every output format splits the profile by thread.
Profile split_by_thread(const Profile& profile);

// Adds a root frame per process, named by the sample's "process" label (the
// process's command line and pid, from its profile's "# yep-process:"
// line), below the thread's when both are split.
Profile split_by_process(const Profile& profile);

}  // namespace yep
