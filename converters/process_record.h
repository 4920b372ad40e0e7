// The record that ends each profile of a process tree (python -m yep
// --subprocesses, CPU or --heap): its last line,
//
//   # yep-process:<TAB><pid><TAB><parent pid><TAB><run|fork><TAB><command line>
//
// written after the maps (and the yep-* lines) of a gperftools CPU profile
// or heap profile, where google-pprof and go tool pprof skip it.
//
// process_label(text) promises: the value of the "process" label every
// sample of that profile gets, "<command line> (<pid>)", or
// "<command line> (<pid>, fork of <parent pid>)" for a forked process;
// "" when the text (the part of the file after the maps) holds no such
// line, or a malformed one. The last such line counts.
#pragma once

#include <string>
#include <string_view>

namespace yep {

std::string process_label(std::string_view text);

}  // namespace yep
