// A mapping and its addresses in the object file's own (ELF, link-time)
// addresses instead of the process's: how the proto writer states them, so
// that `go tool pprof` shows native code in its source and disassembly views.
//
// Why: go tool pprof does not use pprof's binutils but its own object tool
// (cmd/pprof/pprof.go in Go), which translates no address: it disassembles
// the object file at the profile's addresses as they are, and looks their
// lines up after subtracting (mapping start - address of the file's first
// executable PT_LOAD segment). A shared object or a PIE profiled at its
// runtime addresses thus yields no instructions: an empty source view
// (-http's Source, weblist) and no -disasm match (golang/go#46639). At the
// file's own addresses, with the mapping starting where its code segment
// does, both translations are the identity and the views work. Standalone
// pprof computes the base from (start, limit, offset) and the ELF's program
// headers, and gets 0: it reads the same instructions as before.
//
// What object_range / object_address promise, for a mapping the symbolizer
// placed (Mapping::placed; others, and addresses in no mapping, are returned
// unchanged):
//  - every address moves down by the mapping's load bias;
//  - the start is then raised to code_vaddr when that lies inside the
//    mapping (its first page may begin before the code segment does), the
//    file offset rising with it: address -> file offset is unchanged;
//  - so locations stay inside their mapping, and a non-PIE executable
//    (bias 0, code segment at the mapping's start) is unchanged.
// The cost: objects no longer have disjoint address ranges. Views of pprof
// that key samples by address alone (source, disassembly) may add to an
// instruction the samples of another object at the same ELF address.
#pragma once

#include <cstdint>

#include "profile.h"

namespace yep {

struct ObjectRange {
  uint64_t start = 0, limit = 0, file_offset = 0;
};

// The mapping's range in its object file's addresses.
ObjectRange object_range(const Mapping& mapping);

// A location's address in its mapping's object file (mapping may be null).
uint64_t object_address(const Mapping* mapping, uint64_t address);

}  // namespace yep
