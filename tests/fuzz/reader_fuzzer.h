// What each reader's fuzz target does with an input (libFuzzer, ASan,
// UBSan: make fuzz): parse it as a file from elsewhere; a ProfileError is
// the expected answer to a bad file; anything else (a crash, a sanitizer
// report, a leak, a hang past -timeout, memory past -rss_limit_mb) is a
// bug. A profile that parses is rendered in the formats that need no file
// of the machine it came from (no symbolizing: that would open the files
// its maps name), with threads and processes split as a user may ask.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "profile.h"
#include "report.h"

namespace yep {

template <typename Parse>
int fuzz_one(const uint8_t* data, size_t size, Parse parse) {
  try {
    const Profile profile = parse(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.prof");
    for (const char* format : {"text", "folded", "proto", "pstats", "callgrind"}) {
      ReportOptions options;
      options.format = format;
      options.threads = options.processes = (size & 1) != 0;
      render(profile, options);
    }
  } catch (const ProfileError&) {
  }
  return 0;
}

}  // namespace yep
