#include "cpu_profile_reader.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <unordered_map>
#include <vector>

#include "proc_maps.h"

namespace yep {

namespace {

// Decodes machine words of the profile's own size and byte order.
class WordReader {
 public:
  WordReader(std::string_view bytes, int word_size, bool big_endian)
      : bytes_(bytes), size_(word_size), big_(big_endian) {}

  size_t word_count() const { return bytes_.size() / size_; }

  uint64_t at(size_t i) const {
    const unsigned char* p = reinterpret_cast<const unsigned char*>(bytes_.data()) + i * size_;
    uint64_t v = 0;
    for (int b = 0; b < size_; ++b) {
      int shift = big_ ? (size_ - 1 - b) * 8 : b * 8;
      v |= static_cast<uint64_t>(p[b]) << shift;
    }
    return v;
  }

  int word_size() const { return size_; }

 private:
  std::string_view bytes_;
  int size_;
  bool big_;
};

// The header is 0, 3, 0, period > 0, 0 in the profile's own words.
bool header_matches(const WordReader& w) {
  return w.word_count() >= 5 && w.at(0) == 0 && w.at(1) == 3 && w.at(2) == 0 &&
         w.at(3) > 0 && w.at(4) == 0;
}

struct VectorHash {
  size_t operator()(const std::vector<uint64_t>& v) const {
    uint64_t h = 1469598103934665603ull;
    for (uint64_t x : v) { h ^= x; h *= 1099511628211ull; h ^= h >> 29; }
    return static_cast<size_t>(h);
  }
};

// "# yep: key=value key=value" -> values used for comments and duration.
void apply_yep_record(std::string_view text, Profile& p) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string_view line = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    const std::string_view tag = "# yep:";
    if (line.substr(0, tag.size()) != tag) continue;
    std::istringstream in{std::string(line.substr(tag.size()))};
    std::string kv;
    while (in >> kv) {
      size_t eq = kv.find('=');
      if (eq == std::string::npos) continue;
      std::string key = kv.substr(0, eq), value = kv.substr(eq + 1);
      char* end = nullptr;
      double num = std::strtod(value.c_str(), &end);
      bool numeric = end && *end == '\0' && !value.empty();
      if (key == "wall_seconds" && numeric) p.duration_nanos = static_cast<int64_t>(num * 1e9);
      else if (key == "start_unix" && numeric) p.time_nanos = static_cast<int64_t>(num * 1e9);
      else if (key == "timer" && value == "wall") p.sample_types[1].type = p.period_type.type = "wall";
      p.comments.push_back(key + "=" + value);
    }
  }
}

}  // namespace

Profile parse_cpu_profile(std::string_view bytes, const std::string& name) {
  const std::string advice = "; it is not a complete gperftools CPU profile (was the profiled process killed before the profiler stopped?)";
  if (bytes.empty()) throw ProfileError(name + ": file is empty" + advice);

  // Try each word size and byte order, as pprof does.
  const WordReader candidates[] = {{bytes, 8, false}, {bytes, 8, true}, {bytes, 4, false}, {bytes, 4, true}};
  const WordReader* w = nullptr;
  for (const WordReader& c : candidates)
    if (header_matches(c)) { w = &c; break; }
  if (!w) {
    if (bytes.size() < 5 * 4) throw ProfileError(name + ": too short to be a CPU profile (" + std::to_string(bytes.size()) + " bytes)" + advice);
    if (bytes.rfind("heap profile:", 0) == 0 || bytes.rfind("heap_v2/", 0) == 0)
      throw ProfileError(name + ": is a heap profile, not a CPU profile");
    throw ProfileError(name + ": not a gperftools CPU profile (bad header); expected a file written by yep or ProfilerStart");
  }

  Profile p;
  p.sample_types = {{"samples", "count"}, {"cpu", "nanoseconds"}};
  p.period_type = {"cpu", "nanoseconds"};
  const uint64_t period_us = w->at(3);
  p.period = static_cast<int64_t>(period_us) * 1000;
  p.default_sample_type = 1;

  // Records until the trailer 0, 1, 0.
  const size_t n = w->word_count();
  size_t i = 5;
  std::unordered_map<std::vector<uint64_t>, int64_t, VectorHash> stacks;
  std::vector<std::vector<uint64_t>> order;  // first-seen order, for stable output
  bool trailer = false;
  std::vector<uint64_t> stack;
  while (i + 2 <= n) {
    const uint64_t count = w->at(i), depth = w->at(i + 1);
    if (count == 0 && depth == 1 && i + 2 < n && w->at(i + 2) == 0) {
      trailer = true;
      i += 3;
      break;
    }
    if (count == 0 || depth == 0)
      throw ProfileError(name + ": corrupt CPU profile: bad record at byte " + std::to_string(i * w->word_size()));
    if (depth > n - i - 2)
      throw ProfileError(name + ": truncated or corrupt CPU profile: a record of depth " + std::to_string(depth) +
                         " runs past the end of the file" + advice);
    stack.assign(depth, 0);
    for (uint64_t d = 0; d < depth; ++d) stack[d] = w->at(i + 2 + d);
    auto [it, inserted] = stacks.try_emplace(stack, 0);
    if (inserted) order.push_back(stack);
    it->second += static_cast<int64_t>(count);
    i += 2 + depth;
  }
  if (!trailer) throw ProfileError(name + ": truncated CPU profile: no end-of-data marker" + advice);

  const std::string_view maps_text = bytes.substr(std::min(bytes.size(), i * w->word_size()));
  // gperftools writes whole lines of /proc/self/maps: a cut one means the
  // copy of the file was cut short.
  if (!maps_text.empty() && maps_text.back() != '\n')
    throw ProfileError(name + ": truncated CPU profile: the memory maps at its end are cut off" + advice);
  p.mappings = parse_proc_maps(maps_text);
  apply_yep_record(maps_text, p);  // after sample types: it may rename "cpu" to "wall"
  const MappingIndex index(p.mappings);

  // One location per distinct address to symbolize (leaf pc, or return pc - 1).
  std::unordered_map<uint64_t, uint64_t> location_of;
  auto location_id = [&](uint64_t address, uint64_t mapping_pc) {
    auto [it, inserted] = location_of.try_emplace(address, p.locations.size() + 1);
    if (inserted) {
      Location loc;
      loc.id = it->second;
      loc.address = address;
      loc.mapping_id = index.find(mapping_pc);
      p.locations.push_back(std::move(loc));
    }
    return it->second;
  };
  p.samples.reserve(order.size());
  for (const auto& pcs : order) {
    Sample s;
    s.location_ids.reserve(pcs.size());
    for (size_t d = 0; d < pcs.size(); ++d) {
      const uint64_t pc = pcs[d];
      s.location_ids.push_back(d == 0 ? location_id(pc, pc) : location_id(pc - 1, pc - 1));
    }
    const int64_t count = stacks[pcs];
    s.values = {count, count * p.period};
    p.samples.push_back(std::move(s));
  }
  p.check_valid();
  return p;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ProfileError(path + ": cannot open: " + std::strerror(errno));
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) throw ProfileError(path + ": read error: " + std::strerror(errno));
  return std::move(buf).str();
}

Profile read_cpu_profile(const std::string& path) {
  return parse_cpu_profile(read_file(path), path);
}

}  // namespace yep
