// Loads a profile file of any format yep reads into a symbolized Profile:
// the one entry point the CLI, yep-convert and the Python bindings use.
#pragma once

#include <string>
#include <vector>

#include "profile.h"

namespace yep {

// Detects the format from the first bytes ("heap profile:", or "heap_v2/",
// after any "%warn" lines: a gperftools heap profile; anything else: a
// gperftools CPU profile) and reads it, without symbolizing.
// Throws ProfileError with a one-line message for any unreadable input.
Profile read_profile(const std::string& path);

// read_profile, then symbolize: one profile file ready to report.
Profile load_profile(const std::string& path);

// Several profiles of one kind read as one (profile_merge.h): each read and
// symbolized (one symbolizer: each object file is read once), then merged.
// With base_path, the result is compared with the profile at base_path
// (profile_diff.h: what grew or shrank, matched by function; normalize
// scales the base to the profile's totals).
// Throws ProfileError with a one-line message for any unreadable input, and
// when the profiles are of different kinds (e.g. CPU and heap).
Profile load_profiles(const std::vector<std::string>& paths, const std::string& base_path = "",
                      bool normalize = false);

}  // namespace yep
