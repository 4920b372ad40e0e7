#include "profile_merge.h"

#include <algorithm>
#include <map>
#include <tuple>
#include <utility>

namespace yep {

namespace {

std::string kind_of(const Profile& p) {
  std::string kind;
  for (const ValueType& t : p.sample_types) kind += (kind.empty() ? "" : ", ") + t.type + "/" + t.unit;
  return kind.empty() ? "no sample types" : kind;
}

bool same_types(const Profile& a, const Profile& b) {
  if (a.sample_types.size() != b.sample_types.size()) return false;
  for (size_t i = 0; i < a.sample_types.size(); ++i)
    if (a.sample_types[i].type != b.sample_types[i].type || a.sample_types[i].unit != b.sample_types[i].unit)
      return false;
  return true;
}

}  // namespace

Profile merge(std::vector<Profile> profiles, const std::vector<std::string>& names) {
  if (profiles.size() == 1) return std::move(profiles[0]);
  Profile out;
  if (profiles.empty()) return out;
  const Profile& first = profiles[0];
  for (size_t i = 1; i < profiles.size(); ++i)
    if (!same_types(first, profiles[i]))
      throw ProfileError(names[i] + " (" + kind_of(profiles[i]) + ") cannot be merged with " + names[0] + " (" +
                         kind_of(first) + "): merge profiles of one kind");
  out.sample_types = first.sample_types;
  out.period_type = first.period_type;
  out.period = first.period;
  out.default_sample_type = first.default_sample_type;
  out.interpreter_marked = true;

  using FunctionKey = std::tuple<std::string, std::string, std::string, int64_t>;
  std::map<FunctionKey, uint64_t> function_ids;
  int64_t start = 0, end = 0, durations = 0;
  bool all_timed = true;
  for (size_t i = 0; i < profiles.size(); ++i) {
    Profile& p = profiles[i];
    std::vector<uint64_t> function_id(p.functions.size() + 1, 0);
    for (Function& f : p.functions) {
      const uint64_t old_id = f.id;
      auto [it, inserted] = function_ids.try_emplace(FunctionKey{f.name, f.system_name, f.filename, f.start_line},
                                                     out.functions.size() + 1);
      if (inserted) {
        f.id = it->second;
        out.functions.push_back(std::move(f));
      }
      function_id[old_id] = it->second;
    }
    const uint64_t mapping_base = out.mappings.size(), location_base = out.locations.size();
    for (Mapping& m : p.mappings) {
      m.id += mapping_base;
      out.mappings.push_back(std::move(m));
    }
    for (Location& l : p.locations) {
      l.id += location_base;
      if (l.mapping_id) l.mapping_id += mapping_base;
      for (Line& line : l.lines) line.function_id = function_id[line.function_id];
      out.locations.push_back(std::move(l));
    }
    for (Sample& s : p.samples) {
      for (uint64_t& id : s.location_ids) id += location_base;
      s.labels.push_back({"profile", names[i]});
      out.samples.push_back(std::move(s));
    }
    for (const std::string& c : p.comments) out.comments.push_back(names[i] + ": " + c);
    for (Profile::MissingObject& m : p.missing_objects) {
      const bool seen = std::any_of(out.missing_objects.begin(), out.missing_objects.end(),
                                    [&](const Profile::MissingObject& o) { return o.path == m.path; });
      if (!seen) out.missing_objects.push_back(std::move(m));
    }
    out.python_frames = out.python_frames || p.python_frames;
    out.interpreter_marked = out.interpreter_marked && p.interpreter_marked;
    durations += p.duration_nanos;
    if (p.time_nanos == 0) {
      all_timed = false;
    } else {
      start = start == 0 ? p.time_nanos : std::min(start, p.time_nanos);
      end = std::max(end, p.time_nanos + p.duration_nanos);
    }
  }
  out.time_nanos = start;
  out.duration_nanos = all_timed ? end - start : durations;
  out.check_valid();
  return out;
}

}  // namespace yep
