// The text report (text_writer.h) on a profile built by hand: a sample whose
// innermost frame the symbolizer could not name has no row for its flat
// value, says so in its own line, and still counts in its callers' cum.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "text_writer.h"

namespace {

const int64_t kMs = 1000000;  // values are CPU nanoseconds

// main -> work 700 ms; main -> work -> (an address with no name) 300 ms.
yep::Profile profile_with_an_unnamed_leaf() {
  yep::Profile p;
  p.sample_types = {{"samples", "count"}, {"cpu", "nanoseconds"}};
  p.default_sample_type = 1;
  p.period_type = {"cpu", "nanoseconds"};
  p.period = 10 * kMs;
  for (const char* name : {"main", "work"}) {
    yep::Function f;
    f.id = p.functions.size() + 1;
    f.name = f.system_name = name;
    f.filename = "/src/prog.c";
    f.start_line = static_cast<int64_t>(f.id * 10);
    p.functions.push_back(f);
    yep::Location l;
    l.id = f.id;
    l.lines = {{f.id, f.start_line + 1}};
    p.locations.push_back(l);
  }
  yep::Location unnamed;  // no lines: the symbolizer found no name
  unnamed.id = 3;
  unnamed.address = 0xdead0;
  p.locations.push_back(unnamed);
  yep::Sample known, unknown;
  known.location_ids = {2, 1};
  known.values = {70, 700 * kMs};
  unknown.location_ids = {3, 2, 1};
  unknown.values = {30, 300 * kMs};
  p.samples = {known, unknown};
  p.check_valid();
  return p;
}

TEST(TextWriter, AnUnnamedLeafHasItsLineAndStaysInItsCallersCum) {
  const std::string text = yep::write_text(profile_with_an_unnamed_leaf(), yep::TextOptions());
  EXPECT_NE(text.find("Total: 1.000s in 100 samples\n"), std::string::npos) << text;
  EXPECT_NE(text.find("Samples whose innermost frame has no name (flat in no row): 0.300s\n"), std::string::npos)
      << text;
  // work: flat 700 ms (its own samples), cum 1 s (the unnamed leaf's too);
  // main: flat 0, cum 1 s.
  EXPECT_NE(text.find("    0.700s  70.00%  70.00%     1.000s 100.00%  work  prog.c:20\n"), std::string::npos) << text;
  EXPECT_NE(text.find("    0.000s   0.00%  70.00%     1.000s 100.00%  main  prog.c:10\n"), std::string::npos) << text;
}

TEST(TextWriter, NoSuchLineWhenEveryLeafHasAName) {
  yep::Profile p = profile_with_an_unnamed_leaf();
  p.samples.pop_back();
  EXPECT_EQ(yep::write_text(p, yep::TextOptions()).find("innermost frame has no name"), std::string::npos);
}

}  // namespace
