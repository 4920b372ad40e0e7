// Writes the profile as pprof's format: a gzip-compressed
// perftools.profiles.Profile protobuf (profile.proto, see
// ../shared/FORMATS.md), the input of `go tool pprof` and `pprof`.
//
// What write_proto promises:
//  - The whole model goes out: every sample type (default_sample_type names
//    the profile's default one), sample with its labels (string labels:
//    thread, process, profile), mapping, location, function, the period
//    and its type, start time, duration and comments. Ids are the
//    model's own, so they are non-zero and unique.
//  - string_table[0] is "" and every other string appears once; an empty
//    string in the model (unknown file, anonymous mapping) is index 0.
//  - Locations keep their lines innermost first, samples their location ids
//    leaf first; addresses are the model's (already "return address - 1"
//    for callers), which is what pprof expects. With object_addresses, they
//    are in the object file's own addresses wherever the symbolizer placed
//    the mapping, the mapping's range with them (object_addresses.h): so
//    that go tool pprof finds the code of shared objects and PIEs for its
//    source and disassembly views; not by default, because libraries then
//    share addresses, and those views add up samples by address alone.
//  - The profile is fully symbolized: Function::name is the demangled name,
//    system_name the linkage name. A mapping that any location with lines
//    falls in says has_functions, has_filenames, has_line_numbers and
//    has_inline_frames, so pprof uses our symbols as they are. Without the
//    flags it re-symbolizes such mappings itself: silently and without the
//    inlined frames when it finds the binaries, with warnings when it can't.
//  - Encoded by hand: varints, length-delimited messages, packed repeated
//    integers (Sample.location_id, Sample.value, Profile.comment).
//
// Throws std::runtime_error only if zlib itself fails.
#pragma once

#include <string>

#include "profile.h"

namespace yep {

// gzip-compressed perftools.profiles.Profile protobuf of the whole profile
// (all sample types), fully symbolized.
std::string write_proto(const Profile& profile, bool object_addresses = false);

}  // namespace yep
