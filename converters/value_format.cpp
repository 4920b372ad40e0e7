#include "value_format.h"

#include <cinttypes>
#include <cstdio>

namespace yep {

std::string format_value(int64_t v, const std::string& unit) {
  char buf[64];
  if (unit == "nanoseconds") std::snprintf(buf, sizeof buf, "%.3fs", v / 1e9);
  else if (unit == "bytes") std::snprintf(buf, sizeof buf, "%.2fMiB", v / 1048576.0);
  else std::snprintf(buf, sizeof buf, "%" PRId64, v);
  return buf;
}

std::string format_change(int64_t v, const std::string& unit, bool sign) {
  if (v == 0) return "0";
  char buf[64];
  const char* plus = sign && v > 0 ? "+" : "";
  if (unit == "bytes") {
    const double a = v < 0 ? -static_cast<double>(v) : static_cast<double>(v);
    if (a < 1024) std::snprintf(buf, sizeof buf, "%s%" PRId64 "B", plus, v);
    else if (a < 1048576.0) std::snprintf(buf, sizeof buf, "%s%.1fKiB", plus, v / 1024.0);
    else if (a < 1073741824.0) std::snprintf(buf, sizeof buf, "%s%.2fMiB", plus, v / 1048576.0);
    else std::snprintf(buf, sizeof buf, "%s%.2fGiB", plus, v / 1073741824.0);
    return buf;
  }
  return plus + format_value(v, unit);
}

}  // namespace yep
