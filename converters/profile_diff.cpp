#include "profile_diff.h"

#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace yep {

namespace {

struct StackHash {
  size_t operator()(const std::vector<uint64_t>& v) const {
    uint64_t h = 1469598103934665603ull;
    for (uint64_t x : v) { h ^= x; h *= 1099511628211ull; h ^= h >> 29; }
    return static_cast<size_t>(h);
  }
};

struct PairHash {
  size_t operator()(const std::pair<uint64_t, uint64_t>& p) const {
    return static_cast<size_t>(p.first * 0x9e3779b97f4a7c15ull ^ p.second);
  }
};

std::string type_names(const Profile& p) {
  std::string out;
  for (const ValueType& t : p.sample_types) out += (out.empty() ? "" : ", ") + t.type + "/" + t.unit;
  return out.empty() ? "no sample types" : out;
}

// A frame as matched across profiles: (file number, file offset) for a
// location in a mapping of a named file, (0, address) otherwise. File
// numbers are shared by both profiles.
class FrameKeys {
 public:
  std::vector<std::pair<uint64_t, uint64_t>> of(const Profile& p) {
    std::vector<std::pair<uint64_t, uint64_t>> keys(p.locations.size());
    for (const Location& loc : p.locations) {
      const Mapping* m = p.mapping(loc.mapping_id);
      if (m && !m->filename.empty() && loc.address >= m->memory_start)
        keys[loc.id - 1] = {file_number(m->filename), loc.address - m->memory_start + m->file_offset};
      else
        keys[loc.id - 1] = {0, loc.address};
    }
    return keys;
  }

 private:
  uint64_t file_number(const std::string& filename) {
    return files_.try_emplace(filename, files_.size() + 1).first->second;
  }
  std::unordered_map<std::string, uint64_t> files_;
};

std::vector<uint64_t> stack_key(const Sample& s, const std::vector<std::pair<uint64_t, uint64_t>>& keys) {
  std::vector<uint64_t> key;
  key.reserve(2 * s.location_ids.size());
  for (uint64_t id : s.location_ids) {
    key.push_back(keys[id - 1].first);
    key.push_back(keys[id - 1].second);
  }
  return key;
}

// Places the base's locations in the result's address space.
class LocationTranslator {
 public:
  LocationTranslator(Profile& out, const Profile& base)
      : out_(out), base_(base), cache_(base.locations.size(), 0), copied_(base.mappings.size(), 0) {
    for (const Mapping& m : out.mappings)
      if (!m.filename.empty()) by_file_[m.filename].push_back(m.id);
    for (const Location& loc : out.locations) at_.emplace(std::make_pair(loc.mapping_id, loc.address), loc.id);
  }

  uint64_t operator()(uint64_t base_id) {
    uint64_t& cached = cache_[base_id - 1];
    if (cached) return cached;
    const Location& from = base_.location(base_id);
    const Mapping* bm = base_.mapping(from.mapping_id);
    uint64_t mapping_id = 0, address = from.address;
    if (bm && !bm->filename.empty() && from.address >= bm->memory_start) {
      const uint64_t offset = from.address - bm->memory_start + bm->file_offset;
      for (uint64_t id : by_file_[bm->filename]) {
        const Mapping& m = out_.mappings[id - 1];
        if (offset >= m.file_offset && offset - m.file_offset < m.memory_limit - m.memory_start) {
          mapping_id = id;
          address = m.memory_start + (offset - m.file_offset);
          break;
        }
      }
      if (!mapping_id) mapping_id = copy_mapping(*bm);
    }
    const uint64_t key = from.interpreter ? ~address : address;  // plumbing is a location of its own
    auto [it, inserted] = at_.try_emplace(std::make_pair(mapping_id, key), out_.locations.size() + 1);
    if (inserted) {
      Location loc;
      loc.id = it->second;
      loc.mapping_id = mapping_id;
      loc.address = address;
      loc.interpreter = from.interpreter;
      out_.locations.push_back(std::move(loc));
    }
    return cached = it->second;
  }

 private:
  uint64_t copy_mapping(const Mapping& m) {
    uint64_t& id = copied_[m.id - 1];
    if (!id) {
      Mapping copy = m;
      copy.id = id = out_.mappings.size() + 1;
      out_.mappings.push_back(std::move(copy));
    }
    return id;
  }

  Profile& out_;
  const Profile& base_;
  std::vector<uint64_t> cache_;   // base location id - 1 -> result location id
  std::vector<uint64_t> copied_;  // base mapping id - 1 -> id of its copy in the result
  std::unordered_map<std::string, std::vector<uint64_t>> by_file_;
  std::unordered_map<std::pair<uint64_t, uint64_t>, uint64_t, PairHash> at_;  // (mapping, address) -> location
};

}  // namespace

Profile subtract(const Profile& profile, const Profile& base) {
  bool same_types = profile.sample_types.size() == base.sample_types.size();
  for (size_t i = 0; same_types && i < profile.sample_types.size(); ++i)
    same_types = profile.sample_types[i].type == base.sample_types[i].type &&
                 profile.sample_types[i].unit == base.sample_types[i].unit;
  if (!same_types)
    throw ProfileError("different kinds of profile: the profile has " + type_names(profile) +
                       " but the base has " + type_names(base) + "; subtract CPU from CPU and heap from heap profiles");

  Profile out = profile;
  out.samples.clear();
  FrameKeys frames;
  const auto profile_keys = frames.of(profile);
  const auto base_keys = frames.of(base);

  std::unordered_map<std::vector<uint64_t>, size_t, StackHash> index;  // stack -> out.samples
  for (const Sample& s : profile.samples) {
    auto [it, inserted] = index.try_emplace(stack_key(s, profile_keys), out.samples.size());
    if (inserted) {
      out.samples.push_back(s);
      continue;
    }
    std::vector<int64_t>& values = out.samples[it->second].values;
    for (size_t v = 0; v < values.size(); ++v) values[v] += s.values[v];
  }

  LocationTranslator translate(out, base);
  for (const Sample& s : base.samples) {
    auto [it, inserted] = index.try_emplace(stack_key(s, base_keys), out.samples.size());
    if (inserted) {
      Sample only_in_base;
      only_in_base.location_ids.reserve(s.location_ids.size());
      for (uint64_t id : s.location_ids) only_in_base.location_ids.push_back(translate(id));
      only_in_base.values.assign(s.values.size(), 0);
      out.samples.push_back(std::move(only_in_base));
    }
    std::vector<int64_t>& values = out.samples[it->second].values;
    for (size_t v = 0; v < values.size(); ++v) values[v] -= s.values[v];
  }

  std::vector<Sample> kept;
  kept.reserve(out.samples.size());
  for (Sample& s : out.samples) {
    bool all_zero = true;
    for (int64_t v : s.values) all_zero = all_zero && v == 0;
    if (!all_zero) kept.push_back(std::move(s));
  }
  out.samples = std::move(kept);

  for (const std::string& c : base.comments) out.comments.push_back("base: " + c);
  if (profile.period != base.period)
    out.comments.push_back("base period " + std::to_string(base.period) + " " + profile.period_type.unit +
                           " differs from the profile's " + std::to_string(profile.period) +
                           ": sample counts are not comparable, " + profile.period_type.unit + " are");
  out.check_valid();
  return out;
}

}  // namespace yep
