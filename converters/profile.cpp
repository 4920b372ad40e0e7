#include "profile.h"

#include <string>

namespace yep {

namespace {
[[noreturn]] void invalid(const std::string& what) {
  throw ProfileError("invalid profile: " + what);
}
}  // namespace

void Profile::frames(const Sample& sample, std::vector<Line>& out) const {
  out.clear();
  for (uint64_t id : sample.location_ids) {
    const Location& loc = location(id);
    out.insert(out.end(), loc.lines.begin(), loc.lines.end());
  }
}

size_t Profile::value_index(int requested) const {
  const size_t index = requested >= 0 ? static_cast<size_t>(requested) : default_sample_type;
  if (index >= sample_types.size()) {
    std::string names;
    for (size_t i = 0; i < sample_types.size(); ++i)
      names += (i ? ", " : "") + std::to_string(i) + " = " + sample_types[i].type + "/" + sample_types[i].unit;
    throw ProfileError("sample index " + std::to_string(index) + " out of range: this profile has " + names);
  }
  return index;
}

void Profile::check_valid() const {
  const size_t nvalues = sample_types.size();
  if (nvalues == 0 && !samples.empty()) invalid("samples but no sample types");
  if (default_sample_type >= nvalues && nvalues > 0)
    invalid("default sample type out of range");
  for (size_t i = 0; i < mappings.size(); ++i)
    if (mappings[i].id != i + 1) invalid("mapping id " + std::to_string(mappings[i].id) + " out of place");
  for (size_t i = 0; i < functions.size(); ++i)
    if (functions[i].id != i + 1) invalid("function id " + std::to_string(functions[i].id) + " out of place");
  for (size_t i = 0; i < locations.size(); ++i) {
    const Location& loc = locations[i];
    if (loc.id != i + 1) invalid("location id " + std::to_string(loc.id) + " out of place");
    if (loc.mapping_id > mappings.size())
      invalid("location " + std::to_string(loc.id) + " names a missing mapping");
    for (const Line& line : loc.lines)
      if (line.function_id == 0 || line.function_id > functions.size())
        invalid("location " + std::to_string(loc.id) + " names a missing function");
  }
  // Every total a report prints is a sum of sample values (of any sign, in
  // any subset): their magnitudes must add up within int64.
  std::vector<int64_t> magnitude(nvalues, 0);
  for (const Sample& s : samples) {
    if (s.values.size() != nvalues) invalid("a sample has the wrong number of values");
    for (uint64_t id : s.location_ids)
      if (id == 0 || id > locations.size()) invalid("a sample names a missing location");
    for (size_t v = 0; v < nvalues; ++v)
      if (s.values[v] == INT64_MIN ||
          __builtin_add_overflow(magnitude[v], s.values[v] < 0 ? -s.values[v] : s.values[v], &magnitude[v]))
        throw ProfileError("the profile's " + sample_types[v].type + " values add up beyond what 64 bits hold: "
                           "the file is corrupt");
  }
}

}  // namespace yep
