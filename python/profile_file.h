// What every profile file the capture side writes needs: the text of
// /proc/self/maps (gperftools' formats end with it), and a write that leaves
// the whole file or nothing: the bytes go to PATH.yep-tmp, renamed over PATH.
#pragma once

#include <string>

namespace yep {

// The process's memory maps now ("" if /proc is not readable).
std::string read_self_maps();

// Creates PATH empty, so a start fails at once on a path it could never write
// at stop. Throws CaptureError "cannot write the profile to '<path>': ...".
void check_writable(const std::string& path);

// Throws CaptureError "cannot write <what> '<path>': <reason>".
void write_atomically(const std::string& path, const std::string& bytes, const std::string& what);

}  // namespace yep
