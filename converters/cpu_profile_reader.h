// Reads a gperftools CPU profile (the binary "legacy" format written by
// ProfilerStart/ProfilerStop) into the profile model.
//
// Promises:
//  - word size (4 or 8 bytes) and byte order are detected from the header;
//  - identical stacks recorded in several records are summed into one sample;
//  - return addresses (every pc but the leaf) become "pc - 1" locations;
//  - the maps text after the trailer becomes the profile's mappings, and
//    yep's "# yep: key=value ..." record (written by yep's capture after
//    the maps) becomes comments and duration;
//  - a file that is not a CPU profile, is truncated or is corrupt raises
//    ProfileError with one line saying which and what to do.
// The result is not symbolized: see symbolizer.h.
#pragma once

#include <string>
#include <string_view>

#include "profile.h"

namespace yep {

// `name` is used only in error messages.
Profile parse_cpu_profile(std::string_view bytes, const std::string& name);

// Reads the whole file, then parse_cpu_profile. Errors name the path.
Profile read_cpu_profile(const std::string& path);

// Reads a whole file into memory; ProfileError naming the path on failure.
std::string read_file(const std::string& path);

}  // namespace yep
