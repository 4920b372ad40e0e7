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

}  // namespace yep
