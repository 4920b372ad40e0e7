// Writes the pprof "--text" style report: one row per function with
// flat, flat%, sum%, cum, cum% and the function's name and definition
// (file:line). Time values are printed in seconds.
//
// flat = value of samples whose leaf (innermost inlined frame) is in the
// function; cum = value of samples with the function anywhere on the stack,
// counted once per sample even under recursion. Rows are sorted by flat (or
// cum).
//
// A comparison with a base (Profile::diff, profile_diff.h) is a table of
// its own: per function, flat (or cum) in the base and now, the change and
// the change as a share of the base's total, sorted by the magnitude of the
// change, so what shrank most shows as well as what grew most. Values in
// a unit that keeps small changes readable (value_format.h).
#pragma once

#include <string>

#include "profile.h"

namespace yep {

struct TextOptions {
  enum class Sort { Flat, Cum };
  Sort sort = Sort::Flat;
  size_t nodecount = 0;  // rows to show; 0 = all
  int sample_index = -1; // value to report; -1 = profile's default
};

std::string write_text(const Profile& profile, const TextOptions& options);

}  // namespace yep
