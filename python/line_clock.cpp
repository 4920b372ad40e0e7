#include "line_clock.h"

#include <fstream>
#include <string>

namespace yep {

bool line_clock_tsc = false;

namespace {

bool initialized = false;
int64_t origin_ticks = 0, origin_ns = 0;

// Whether the kernel keeps time with the time-stamp counter.
bool kernel_uses_tsc() {
  std::ifstream f("/sys/devices/system/clocksource/clocksource0/current_clocksource");
  std::string name;
  return f >> name && name == "tsc";
}

// CLOCK_MONOTONIC and the counter read together: the counter on both sides
// of the clock, again if the thread was interrupted in between.
void read_pair(int64_t* ticks, int64_t* ns) {
  int64_t best = -1;
  for (int attempt = 0; attempt < 10; ++attempt) {
    const int64_t before = line_clock_ticks();
    const int64_t t = monotonic_ns();
    const int64_t after = line_clock_ticks();
    if (best < 0 || after - before < best) {
      best = after - before;
      *ticks = before + (after - before) / 2;
      *ns = t;
    }
    if (best < 1000) break;
  }
}

}  // namespace

void line_clock_init() {
  if (initialized) return;
  initialized = true;
#ifdef YEP_LINE_CLOCK_TSC
  line_clock_tsc = kernel_uses_tsc();
#endif
  read_pair(&origin_ticks, &origin_ns);
}

double line_clock_ns_per_tick() {
  if (!line_clock_tsc) return 1.0;
  int64_t ticks, ns;
  read_pair(&ticks, &ns);
  if (ticks <= origin_ticks || ns <= origin_ns) return 1.0;
  return static_cast<double>(ns - origin_ns) / static_cast<double>(ticks - origin_ticks);
}

const char* line_clock_name() { return line_clock_tsc ? "tsc" : "monotonic"; }

}  // namespace yep
