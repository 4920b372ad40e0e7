// Symbolizer: turns the addresses of a Profile's locations into functions,
// source files and lines, from the ELF symbol tables and DWARF of the object
// files its mappings name, through elfutils' libdwfl/libdw.
//
// What symbolize(profile) promises:
//  - Every location whose lines are empty gets at least one line; locations
//    that already have lines (e.g. Python frames) are left alone.
//  - An address is looked up at its ELF address, computed from the mapping
//    that contains it: pc - memory_start + file_offset, then moved into the
//    PT_LOAD segment holding that file offset (+ p_vaddr - p_offset). This is
//    right for non-PIE executables (ET_EXEC), PIE executables and shared
//    objects (ET_DYN) alike.
//  - DWARF comes first, also from separate debug files (by build id under
//    /usr/lib/debug/.build-id, or by .gnu_debuglink next to the file, in its
//    .debug/ or under /usr/lib/debug): inlined frames are expanded, lines are
//    innermost first, each outer frame's line is its call site.
//    Function::name is demangled, system_name is the linkage (mangled) name
//    or the plain name, filename is absolute when DWARF gives an absolute
//    compilation directory, and start_line is the function's declaration
//    line (for assembly functions, the line of their entry).
//  - Without DWARF for the address, an ELF symbol (.symtab, else .dynsym,
//    plus MiniDebugInfo's .gnu_debugdata) names it, but only when the address
//    lies inside [st_value, st_value + st_size): never the nearest preceding
//    symbol. Of aliases, global or weak before local, then the fewest
//    leading underscores (getpid rather than __getpid or __GI_getpid).
//  - Otherwise, when the profile's capture named the function the address
//    lies in (Profile::function_hints: a stripped interpreter's builtins,
//    by their Python names), that name; else the function is named
//    "<basename of object>+0x<ELF address of the function's entry>", the
//    entry found in the object's unwind information (.eh_frame), so that
//    every address of an unnamed function is one function; without it,
//    "<basename of object>+0x<ELF address>"
//    (the file offset when the file can't be read; "[vdso]+0x<offset>" for
//    such pseudo files), and an address in no mapping or in an anonymous one
//    is named "0x<address>".
//  - Functions are deduplicated on (name, system_name, filename, start_line),
//    reusing the profile's existing functions; new ones get id = index + 1.
//  - A mapping in which it looked addresses up in the object file gets
//    placed = true, its load_bias (runtime address - ELF address) and
//    code_vaddr (where the lowest PT_LOAD segment holding those addresses
//    begins); not if two of its addresses disagree on the bias.
//  - Mapping::build_id, when empty, is filled from the file's
//    NT_GNU_BUILD_ID note (for executable mappings and those locations use).
//    When a mapping already has a build id and the file on disk has another
//    one, the file is not used for that mapping. A "(deleted)" mapping's
//    path is read only when its build id is known and matches.
//  - Missing, deleted ("(deleted)"), unreadable or non-ELF files, pseudo
//    mappings ([vdso], [heap], anonymous) and address 0 never throw or crash;
//    they only get fallback names.
//  - An object file missing at its path, or of another build than the
//    profile's, is looked for in the directories of YEP_BINARY_PATH (else
//    PPROF_BINARY_PATH; colon-separated, as pprof's): DIR/<its path> (a copy
//    of the other machine's tree), then DIR/<its base name>. Those not found
//    anywhere, that hold a sample, are listed in Profile::missing_objects.
//
// Each object file is read once, and reported to the one libdwfl session
// once per load bias, however many addresses and profiles fall in it; DWARF
// lookups are indexed per compilation unit. Reusing a Symbolizer for several
// profiles keeps these caches, which assumes the files don't change
// meanwhile. Not thread-safe.
//
// The answers for objects with a build id are also kept between runs, on
// disk (symbol_cache.h: $XDG_CACHE_HOME/yep/symbols; YEP_SYMBOL_CACHE=off
// turns it off), so that a library seen before is not read again; the
// output is the same, byte for byte, with or without it.
//
// When the environment sets DEBUGINFOD_URLS, libdwfl also asks those
// debuginfod servers for missing debug info (this can be slow the first
// time; unset it to stay offline).
#pragma once

#include <memory>

#include "profile.h"

namespace yep {

class Symbolizer {
 public:
  Symbolizer();
  ~Symbolizer();
  Symbolizer(const Symbolizer&) = delete;
  Symbolizer& operator=(const Symbolizer&) = delete;

  // Fills Location::lines and Profile::functions for every location whose
  // lines are empty, and Mapping::build_id and the mappings' placement
  // where it can. Never throws for a
  // missing/unreadable object file: such addresses get a fallback name.
  void symbolize(Profile& profile);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace yep
