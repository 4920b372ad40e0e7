// Progress of a long conversion, on a terminal: one line on stderr,
// rewritten in place ("yep: symbolizing 1,234 of 5,678 addresses"), shown
// once the work has taken a second and erased when it ends, so what is
// printed next starts on a clean line. Never when stderr is not a
// terminal. YEP_PROGRESS=off turns it off; YEP_PROGRESS=S shows it after S
// seconds (see yep/progress.py, which reads the same setting for runs).
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

namespace yep {

class Progress {
 public:
  // what: the work, as in "symbolizing"; units: what is counted ("addresses").
  Progress(std::string what, std::string units, size_t total);
  ~Progress();  // erases the line, if it was shown
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // done of total finished. Cheap: looks at the clock every 64 calls.
  void at(size_t done);

 private:
  using Clock = std::chrono::steady_clock;
  std::string what_, units_;
  size_t total_, calls_ = 0;
  bool enabled_ = false, shown_ = false;
  Clock::time_point next_draw_;  // the first at the delay, then every 100 ms
};

}  // namespace yep
