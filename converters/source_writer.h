// Writes source annotated line by line, like pprof --list: for each selected
// function, the lines of its source file with the flat and cum value of
// each line, read from the file DWARF names.
//
// A line's flat is the value of samples whose leaf frame is at that line of
// the function; its cum, of samples with a frame of the function at that
// line (once per sample). Inlined code is charged to the inlined function's
// own lines (its own listing), and to the call site line in the function it
// was inlined into. When the source file is not on disk, the listing says
// so and shows only the lines that have samples.
#pragma once

#include <string>

#include "profile.h"

namespace yep {

struct SourceOptions {
  std::string list;   // ECMAScript regex on function names; "" = the top functions by flat
  size_t top = 5;     // how many functions when list is ""
  int context = 2;    // lines shown around the annotated range
};

std::string write_source(const Profile& profile, size_t value_index, const SourceOptions& options);

}  // namespace yep
