// Writes a whole file or nothing: the bytes go to PATH.yep-tmp, which is
// renamed over PATH. A profile is never left half-written.
#pragma once

#include <string>

namespace yep {

// Throws CaptureError "cannot write <what> '<path>': <reason>".
void write_atomically(const std::string& path, const std::string& bytes, const std::string& what);

}  // namespace yep
