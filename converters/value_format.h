// How reports print a sample value of a given unit: nanoseconds as seconds
// ("1.234s"), bytes as MiB ("12.50MiB"), anything else as a plain number.
#pragma once

#include <cstdint>
#include <string>

namespace yep {

std::string format_value(int64_t value, const std::string& unit);

// A figure of a comparison, where small and negative values matter: bytes
// in the unit that keeps them readable (B, KiB, MiB, GiB), never a "-0.00";
// with `sign`, a leading + for growth ("+0.400s", "-12.0KiB", "0").
std::string format_change(int64_t value, const std::string& unit, bool sign);

}  // namespace yep
