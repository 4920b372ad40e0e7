// Reads a gperftools heap profile (the text written by HeapProfilerDump /
// HEAPPROFILE, "heap profile: ... @ heapprofile"), tcmalloc's sampled heap
// ("heap profile: ... @ heap_v2/<period>", from
// MallocExtension::GetHeapSample) and jemalloc's heap profile (prof.dump:
// "heap_v2/<period>", then "t*:" totals, then "@ <stack>" and "t*:" lines
// per stack; per-thread "t<n>:" lines are skipped) into the profile model.
//
// Promises:
//  - four sample types in pprof's order: alloc_objects/count,
//    alloc_space/bytes, inuse_objects/count, inuse_space/bytes; the default
//    is inuse_space (index 3); period_type space/bytes;
//  - "heapprofile" dumps are exact: period 1, values as written; yep's
//    sampled mode (--heap-sample) writes them with values already scaled
//    and a "# yep-sampled: <mean bytes>" line after the header: the values
//    are kept as written, the period is the mean and a comment says
//    "sampled: one allocation per <mean> on average was recorded; figures
//    are estimates ..."; a bad mean raises ProfileError;
//  - tcmalloc's and jemalloc's sampled profiles are unsampled as pprof and
//    jeprof do: each bucket's counts and bytes are scaled by
//    1 / (1 - exp(-average size / period)) (not scaled when the period is 0
//    or 1); period = the sampling period; a comment says the values are
//    estimates;
//  - identical stacks (one line per sampled object in heap_v2, or repeated
//    buckets) are summed into one sample;
//  - every frame is a return address (of a caller of malloc), so every
//    location is "address - 1";
//  - the maps after "MAPPED_LIBRARIES:" become the mappings;
//  - a profile of one process of a tree (--heap --subprocesses) ends with a
//    "# yep-process:" line (process_record.h): every sample gets its
//    "process" label, as in CPU profiles;
//  - gperftools up to 2.15 builds the dump in a 1 MiB buffer: the maps are
//    kept and the buckets that don't fit are dropped, the last one possibly
//    cut between two frames (its line then runs straight into
//    "MAPPED_LIBRARIES:"). Such a profile is read, not refused: the buckets
//    read are right, the header's totals say how much is missing, and a
//    comment says so ("truncated by gperftools' 1 MiB heap profile limit:
//    ..."). A cut stack keeps the frames read so far (a partial last
//    token, which gperftools never writes, is dropped);
//  - "%warn" lines before the header (tcmalloc writes them when sampling is
//    off) become a comment;
//  - an empty file, a file that is not a heap profile, a bucket line with bad
//    numbers or addresses, and a profile without its MAPPED_LIBRARIES section
//    raise ProfileError with one line naming the file and what to do;
//  - the file is read line by line, never held whole: memory grows with the
//    distinct stacks (the profile model), not with the file; a line longer
//    than 16 MiB (kMaxLineBytes) raises ProfileError;
//  - a stack reference dump (yep's exact --heap mode writes every dump of a
//    session but the last so), read from its file: "# yep-stacks:<TAB><name>"
//    after the header (before or after "# yep-sampled:"), buckets
//    "... @ =<stack id>", and their stacks, Python frames and builtins' names
//    in the file <name> in the dump's folder, shared by the session's dumps:
//        yep heap stacks 1
//        <id> @ 0x<address> ...      (each id once)
//        # yep-stack:<TAB><id>...      (python_stand_ins.h, keyed by id)
//        # yep-python:...  # yep-thread:...  # yep-function:...
//    (a last line without its '\n' is being appended: ignored). It reads into
//    the Profile the same dump written whole gives, keeping only the stacks
//    the dump refers to. A missing stacks file, one without an id the dump
//    refers to (another run's, or cut short), a name that is not a plain file
//    name, a symbolic link (never followed: the name comes from a file), a
//    bad line, and "@ =<id>" in a dump without "# yep-stacks:" raise
//    ProfileError.
// The result is not symbolized: see symbolizer.h.
#pragma once

#include <string>
#include <string_view>

#include "input_file.h"
#include "profile.h"

namespace yep {

// Whether `bytes` (the start of a file is enough) looks like a heap profile:
// after any "%warn" lines it starts with "heap profile:" or "heap_v2/".
bool is_heap_profile(std::string_view bytes);

// `name` is used only in error messages. A stack reference dump raises
// ProfileError: its stacks file is found only from the dump's own path.
Profile parse_heap_profile(std::string_view text, const std::string& name);

// Reads the file as a stream. Errors name the path.
Profile read_heap_profile(const std::string& path);
Profile read_heap_profile(const InputFile& file);

}  // namespace yep
