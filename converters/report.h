// One entry point from a loaded profile to any output format: applies the
// shared transformations (focus/ignore, line granularity) and hands the
// result to the writer of the format. yep-convert and the Python bindings
// both call this, so every surface offers the same formats and options.
#pragma once

#include <string>
#include <vector>

#include "profile.h"
#include "text_writer.h"

namespace yep {

struct ReportOptions {
  std::string format = "text";  // one of format_names()
  TextOptions::Sort sort = TextOptions::Sort::Flat;
  size_t nodecount = 0;          // text: rows; source: functions when no list (0 = 5); dot: nodes (0 = all)
  double nodefraction = 0.005;   // dot: drop nodes whose cum is under this share of the total
  double edgefraction = 0.001;   // dot: drop edges under this share of the total
  int sample_index = -1;         // value to report; -1 = the profile's default
  std::string focus, ignore;     // regexes, "" = none
  bool lines = false;            // entries are functions at file:line
  std::string list;              // source: regex selecting functions
  std::string title;             // html: page title
  bool interpreter = false;      // mixed stacks: show the interpreter's own frames
  bool threads = false;          // one root frame per thread
  bool processes = false;        // one root frame per process (profiles of a process tree)
  bool object_addresses = false; // proto: addresses in the object files' own (see object_addresses.h)
};

// The names accepted as ReportOptions::format.
const std::vector<std::string>& format_names();
// Whether a format's output is binary (pstats, proto): not for a terminal.
bool is_binary_format(const std::string& format);
// The usual file name suffix of a format (".pstats", ".callgrind", ...).
std::string format_suffix(const std::string& format);

// Throws ProfileError for an unknown format or bad option.
std::string render(const Profile& profile, const ReportOptions& options);

}  // namespace yep
