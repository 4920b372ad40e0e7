// Loads a profile file of any format yep reads into a symbolized Profile:
// the one entry point the CLI, yep-convert and the Python bindings use.
#pragma once

#include <string>

#include "profile.h"

namespace yep {

// Detects the format (today: gperftools CPU profile), reads and symbolizes.
// Throws ProfileError with a one-line message for any unreadable input.
Profile load_profile(const std::string& path);

}  // namespace yep
