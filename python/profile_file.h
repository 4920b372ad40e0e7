// What every profile file the capture side writes needs: the text of
// /proc/self/maps (gperftools' formats end with it), the build ids of the
// loaded objects (so that a report made where an object was rebuilt since
// can tell), and a write that leaves the whole file or nothing (see
// converters/output_file.h: a private temporary renamed over PATH, a
// special file written directly, no planted link followed).
#pragma once

#include <string>
#include <string_view>

#include "mapped_allocator.h"

namespace yep {

// The process's memory maps now ("" if /proc is not readable). This and the
// build ids are built outside malloc (mapped_allocator.h says why).
MappedString read_self_maps();

// One "# yep-build-id:\t<address>\t<build id>" line (both in hex) per loaded
// object that has a GNU build id, the address one inside its first loaded
// segment (converters/proc_maps.h gives the id to that object's mappings).
// Read from the objects' notes in memory: no file is opened.
MappedString read_self_build_ids();

// Whether PATH could be written at stop, creating nothing and never
// blocking, so a start fails at once on a path it could never write.
// Throws CaptureError "cannot write '<path>': ...".
void check_writable(const std::string& path);

// Throws CaptureError "cannot write <what> '<path>': <reason>".
void write_atomically(const std::string& path, std::string_view bytes, const std::string& what);

}  // namespace yep
