// How reports print a sample value of a given unit: nanoseconds as seconds
// ("1.234s"), bytes as MiB ("12.50MiB"), anything else as a plain number.
#pragma once

#include <cstdint>
#include <string>

namespace yep {

std::string format_value(int64_t value, const std::string& unit);

}  // namespace yep
