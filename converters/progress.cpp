#include "progress.h"

#include <unistd.h>

#include <cstdlib>
#include <string_view>

namespace yep {

namespace {

// Seconds before the line shows; negative for never.
double first_shown_after() {
  const char* setting = std::getenv("YEP_PROGRESS");
  const std::string_view s = setting ? setting : "";
  if (s == "off" || s == "0" || s == "no" || s == "false") return -1;
  char* end = nullptr;
  const double seconds = s.empty() ? 0 : std::strtod(setting, &end);
  return !s.empty() && end && *end == '\0' && seconds > 0 ? seconds : 1.0;
}

std::string thousands(size_t n) {
  std::string digits = std::to_string(n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

void write_all(const std::string& s) {
  for (size_t done = 0; done < s.size();) {
    const ssize_t n = ::write(STDERR_FILENO, s.data() + done, s.size() - done);
    if (n <= 0) return;  // a closed or full terminal: progress is not worth more
    done += static_cast<size_t>(n);
  }
}

}  // namespace

Progress::Progress(std::string what, std::string units, size_t total)
    : what_(std::move(what)), units_(std::move(units)), total_(total) {
  const double after = first_shown_after();
  enabled_ = after >= 0 && total > 0 && ::isatty(STDERR_FILENO) == 1;
  if (enabled_)
    next_draw_ = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(after));
}

Progress::~Progress() {
  if (shown_) write_all("\r\x1b[K");
}

void Progress::at(size_t done) {
  if (!enabled_ || (calls_++ % 64 != 0 && done != total_)) return;
  const Clock::time_point now = Clock::now();
  if (now < next_draw_) return;
  next_draw_ = now + std::chrono::milliseconds(100);
  shown_ = true;
  write_all("\ryep: " + what_ + " " + thousands(done) + " of " +
            thousands(total_) + " " + units_ + "\x1b[K");
}

}  // namespace yep
