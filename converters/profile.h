// The profile model: the one in-memory form every reader fills and every
// writer reads. Modelled on pprof's profile.proto (see ../shared/DESIGN.md),
// with std::string in place of proto's string table: the proto writer builds
// the table when it serializes.
//
// Invariants (checked by Profile::check_valid):
//  - every sample has exactly one value per sample type;
//  - ids of mappings, locations and functions are non-zero and unique, and
//    equal to their index + 1 in their vector (so lookups are O(1));
//  - a sample's location_ids are leaf first and name existing locations;
//  - a location's lines are innermost (inlined callee) first and name
//    existing functions; mapping_id is 0 (none) or an existing mapping.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace yep {

// A user-facing problem with a profile (bad file, truncated, wrong format).
// The message is one line that names the thing and what to do.
class ProfileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ValueType {
  std::string type;  // "samples", "cpu", "inuse_space", ...
  std::string unit;  // "count", "nanoseconds", "bytes", ...
};

struct Mapping {
  uint64_t id = 0;
  uint64_t memory_start = 0;  // load range [memory_start, memory_limit)
  uint64_t memory_limit = 0;
  uint64_t file_offset = 0;   // offset in the file of memory_start
  std::string filename;       // path of the object file, "" if anonymous
  std::string build_id;       // hex, "" if unknown
  bool executable = false;    // r-x mapping: the only kind symbols live in
  // Where the object file's own (ELF, link-time) addresses lie in this
  // mapping, as the symbolizer found when it looked up a location's address
  // in the file: set only then (`placed`). The load bias is what the loader
  // added (runtime address - ELF address; 0 for a non-PIE executable);
  // code_vaddr is the ELF address where the lowest PT_LOAD segment holding
  // the mapping's located addresses begins (see object_addresses.h).
  bool placed = false;
  uint64_t load_bias = 0;
  uint64_t code_vaddr = 0;
};

struct Line {
  uint64_t function_id = 0;
  int64_t line = 0;  // 0 when unknown
};

struct Location {
  uint64_t id = 0;
  uint64_t mapping_id = 0;  // 0: no mapping contains the address
  // The address to symbolize: for return addresses this is already
  // "return address - 1" (inside the call instruction), so the symbolizer and
  // writers never adjust it again.
  uint64_t address = 0;
  std::vector<Line> lines;  // innermost first; empty until symbolized
  // One of the interpreter's own plumbing frames, as the capture marked it
  // (see Profile::interpreter_marked): hidden from mixed-stack reports.
  bool interpreter = false;
};

struct Function {
  uint64_t id = 0;
  std::string name;         // demangled, what people read
  std::string system_name;  // as in the symbol table (mangled)
  std::string filename;     // source file, "" when unknown
  int64_t start_line = 0;   // line of the definition, 0 when unknown
  // A native function's object file, as its last path component ("" for
  // Python and unknown): numpy's and scipy's copies of one library function
  // are two functions (see function_identity.h). Not in profile.proto.
  std::string object;
};

// What the capture knew about a native function that the object file may
// not say (a stripped interpreter's builtins: their Python names): used by
// the symbolizer for addresses in [start, end) that it cannot name.
struct FunctionHint {
  uint64_t start = 0, end = 0;
  std::string name;  // e.g. "str.upper"
};

struct Label {
  std::string key, value;  // e.g. "thread", "MainThread (12345)"
};

struct Sample {
  std::vector<uint64_t> location_ids;  // leaf first
  std::vector<int64_t> values;         // one per Profile::sample_types
  std::vector<Label> labels;           // e.g. the thread (mixed stacks)
};

struct Profile {
  std::vector<ValueType> sample_types;
  std::vector<Sample> samples;
  std::vector<Mapping> mappings;
  std::vector<Location> locations;
  std::vector<Function> functions;

  ValueType period_type;
  int64_t period = 0;          // in period_type units, per sample
  int64_t time_nanos = 0;      // when the profile started (Unix), 0 if unknown
  int64_t duration_nanos = 0;  // wall time profiled, 0 if unknown
  std::vector<std::string> comments;  // free text shown by reports

  // Stacks hold Python frames between native ones (yep --mixed): Python
  // frames are locations with no mapping whose lines name .py files.
  bool python_frames = false;
  // The capture marked which native frames are the interpreter's plumbing
  // (Location::interpreter); profiles without the marks hide every frame of
  // the interpreter's files instead.
  bool interpreter_marked = false;
  std::vector<FunctionHint> function_hints;  // sorted by start, disjoint
  // Object files the symbolizer could not read, as the mappings name them:
  // their addresses have fallback names, and reports say so (see
  // symbolizer.h).
  struct MissingObject {
    std::string path;
    bool changed = false;  // here, but another build than the profile's (by build id)
  };
  std::vector<MissingObject> missing_objects;

  // A comparison (profile_diff.h): the samples labelled kBaseLabel are the
  // base's, negated (and, with --normalize, scaled by base_scales, one per
  // sample type); the others the new profile's. Their sum is the change.
  static constexpr const char* kBaseLabel = "pprof::base";
  bool diff = false;
  std::vector<double> base_scales;
  bool in_base(const Sample& s) const {
    if (!diff) return false;
    for (const Label& l : s.labels)
      if (l.key == kBaseLabel) return true;
    return false;
  }

  // Index of the sample type reports use by default.
  size_t default_sample_type = 0;

  const Mapping* mapping(uint64_t id) const {
    return id ? &mappings[id - 1] : nullptr;
  }
  const Location& location(uint64_t id) const { return locations[id - 1]; }
  const Function& function(uint64_t id) const { return functions[id - 1]; }

  // The frames of a sample, leaf first: every location's lines in order
  // (inlined callee before its caller). Reuses `out`.
  void frames(const Sample& sample, std::vector<Line>& out) const;

  // The sample value a report uses: `requested` if >= 0, else the default.
  // Throws ProfileError naming the sample types when out of range.
  size_t value_index(int requested) const;

  // Throws ProfileError naming the first broken invariant.
  void check_valid() const;
};

}  // namespace yep
