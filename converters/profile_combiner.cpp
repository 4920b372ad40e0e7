#include "profile_combiner.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "function_identity.h"

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

int64_t scaled(int64_t v, double scale) {
  const double x = std::round(static_cast<double>(v) * scale);
  if (!(std::fabs(x) < 9.2e18)) throw ProfileError("a value scaled for the comparison overflows 64 bits");
  return static_cast<int64_t>(x);
}

}  // namespace

void check_same_kind(const Profile& a, const std::string& a_name, const Profile& b, const std::string& b_name,
                     const std::string& what_to_do) {
  if (!same_types(a, b))
    throw ProfileError(b_name + " (" + kind_of(b) + ") cannot be " + what_to_do + " " + a_name + " (" +
                       kind_of(a) + "): " + (what_to_do == "merged with" ? "merge" : "compare") +
                       " profiles of one kind");
}

uint64_t ProfileCombiner::function_id(Function f, const std::unordered_map<std::string, size_t>& loose_in_profile) {
  const std::string identity = function_identity(f);
  if (auto it = by_identity_.find(identity); it != by_identity_.end()) return it->second;
  const std::string loose = loose_identity(f);
  // Matched loosely only where neither side has another function of that name.
  auto& same_loose = by_loose_[loose];
  if (same_loose.size() == 1 && loose_in_profile.at(loose) == 1) return same_loose[0];
  f.id = out_.functions.size() + 1;
  by_identity_.emplace(identity, f.id);
  same_loose.push_back(f.id);
  out_.functions.push_back(std::move(f));
  return out_.functions.back().id;
}

void ProfileCombiner::add(Profile p, const std::vector<Label>& labels, const std::vector<double>& scales) {
  if (first_) {
    out_.sample_types = p.sample_types;
    out_.period_type = p.period_type;
    out_.period = p.period;
    out_.default_sample_type = p.default_sample_type;
    out_.interpreter_marked = true;
    first_ = false;
  }
  std::unordered_map<std::string, size_t> loose_in_profile;
  for (const Function& f : p.functions) ++loose_in_profile[loose_identity(f)];
  std::vector<uint64_t> function_id_of(p.functions.size() + 1, 0);
  for (Function& f : p.functions) {
    const uint64_t old_id = f.id;
    function_id_of[old_id] = function_id(std::move(f), loose_in_profile);
  }
  const uint64_t mapping_base = out_.mappings.size(), location_base = out_.locations.size();
  for (Mapping& m : p.mappings) {
    m.id += mapping_base;
    out_.mappings.push_back(std::move(m));
  }
  for (Location& l : p.locations) {
    l.id += location_base;
    if (l.mapping_id) l.mapping_id += mapping_base;
    for (Line& line : l.lines) line.function_id = function_id_of[line.function_id];
    out_.locations.push_back(std::move(l));
  }
  for (Sample& s : p.samples) {
    for (uint64_t& id : s.location_ids) id += location_base;
    s.labels.insert(s.labels.end(), labels.begin(), labels.end());
    for (size_t i = 0; i < scales.size() && i < s.values.size(); ++i)
      if (scales[i] != 1.0) s.values[i] = scaled(s.values[i], scales[i]);
    out_.samples.push_back(std::move(s));
  }
  for (Profile::MissingObject& m : p.missing_objects) {
    const bool seen = std::any_of(out_.missing_objects.begin(), out_.missing_objects.end(),
                                  [&](const Profile::MissingObject& o) { return o.path == m.path; });
    if (!seen) out_.missing_objects.push_back(std::move(m));
  }
  out_.python_frames = out_.python_frames || p.python_frames;
  out_.interpreter_marked = out_.interpreter_marked && p.interpreter_marked;
}

Profile ProfileCombiner::take() { return std::move(out_); }

}  // namespace yep
