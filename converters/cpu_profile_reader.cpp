#include "cpu_profile_reader.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <unordered_map>
#include <vector>

#include "input_file.h"
#include "location_table.h"
#include "proc_maps.h"
#include "process_record.h"
#include "python_stand_ins.h"

namespace yep {

constexpr uint64_t kMaxPeriodMicroseconds = 3600ull * 1000000;

namespace {

constexpr bool kLittleEndianHost = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__;

// Decodes machine words of the profile's own size and byte order.
class WordReader {
 public:
  WordReader(std::string_view bytes, int word_size, bool big_endian)
      : bytes_(bytes), size_(word_size), big_(big_endian) {}

  size_t word_count() const { return bytes_.size() / size_; }

  uint64_t at(size_t i) const {
    const unsigned char* p = reinterpret_cast<const unsigned char*>(bytes_.data()) + i * size_;
    if (size_ == 8 && !big_ && kLittleEndianHost) {  // this machine's own format: the common case
      uint64_t v;
      std::memcpy(&v, p, sizeof v);
      return v;
    }
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

// yep's capture appends "# yep: key=value ..." after the maps. It becomes
// the profile's duration and start time, and one comment saying how the
// profile was sampled. Unknown keys are ignored (newer yep versions).
void apply_yep_record(std::string_view text, Profile& p) {
  const std::string_view tag = "# yep:";
  size_t at = text.find(tag);
  if (at == std::string_view::npos) return;
  std::string_view line = text.substr(at + tag.size());
  line = line.substr(0, line.find('\n'));
  std::map<std::string, std::string> kv;
  std::istringstream in{std::string(line)};
  for (std::string item; in >> item;) {
    size_t eq = item.find('=');
    if (eq != std::string::npos) kv[item.substr(0, eq)] = item.substr(eq + 1);
  }
  auto number = [&](const char* key) {
    auto it = kv.find(key);
    return it == kv.end() ? 0.0 : std::strtod(it->second.c_str(), nullptr);
  };
  const bool wall = kv["timer"] == "wall";
  if (wall) p.sample_types[1].type = p.period_type.type = "wall";
  p.duration_nanos = static_cast<int64_t>(number("wall_seconds") * 1e9);
  p.time_nanos = static_cast<int64_t>(number("start_unix") * 1e9);
  char comment[256];
  std::snprintf(comment, sizeof comment,
                "%s timer: asked %g Hz, got %.1f Hz; %.3f s CPU, %.3f s wall between start and stop",
                wall ? "wall-clock" : "CPU-time", number("requested_hz"), number("achieved_hz"),
                number("cpu_seconds"), number("wall_seconds"));
  p.comments.push_back(comment);
  if (kv["timer_handler"] == "replaced")
    p.comments.push_back("the program replaced yep's timer signal handler: samples stop there, "
                         "each counted at the asked rate");
}

// "# yep-note:\t<text>" lines (yep/timer_handler.py): comments of the
// report's header, in their order.
void apply_yep_notes(std::string_view text, Profile& p) {
  const std::string_view tag = "\n# yep-note:\t";
  for (size_t at = text.find(tag); at != std::string_view::npos; at = text.find(tag, at + 1)) {
    std::string_view line = text.substr(at + tag.size());
    line = line.substr(0, std::min(line.find('\n'), size_t{4096}));
    p.comments.emplace_back(line);
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
  // A period up to an hour, counts and their products that add up within
  // int64: a file claiming more is corrupt, never a negative total.
  const uint64_t period_us = w->at(3);
  if (period_us > kMaxPeriodMicroseconds)
    throw ProfileError(name + ": corrupt CPU profile: a sampling period of " + std::to_string(period_us) +
                       " microseconds (over an hour)");
  p.period = static_cast<int64_t>(period_us) * 1000;
  p.default_sample_type = 1;

  // Records until the trailer 0, 1, 0: where each is, for now.
  const size_t n = w->word_count();
  size_t i = 5;
  struct Record {
    int64_t count;
    size_t at, depth;  // words
  };
  std::vector<Record> records;
  int64_t total_count = 0, total_value = 0;
  bool trailer = false;
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
    if (count > static_cast<uint64_t>(INT64_MAX) ||
        __builtin_add_overflow(total_count, static_cast<int64_t>(count), &total_count) ||
        __builtin_mul_overflow(total_count, p.period, &total_value))
      throw ProfileError(name + ": corrupt CPU profile: sample counts beyond what 64 bits can add up");
    records.push_back({static_cast<int64_t>(count), i + 2, static_cast<size_t>(depth)});
    i += 2 + depth;
  }
  if (!trailer) throw ProfileError(name + ": truncated CPU profile: no end-of-data marker" + advice);

  const std::string_view maps_text = bytes.substr(std::min(bytes.size(), i * w->word_size()));
  // gperftools writes whole lines of /proc/self/maps: a cut one means the
  // copy of the file was cut short.
  if (!maps_text.empty() && maps_text.back() != '\n')
    throw ProfileError(name + ": truncated CPU profile: the memory maps at its end are cut off" + advice);
  // gperftools and yep always write the maps: a file that ends at the
  // trailer was cut there, and its addresses could name nothing.
  if (maps_text.find_first_not_of(" \t\n") == std::string_view::npos)
    throw ProfileError(name + ": truncated CPU profile: it ends after its samples, without the memory maps" + advice);
  p.mappings = parse_proc_maps(maps_text);
  apply_yep_record(maps_text, p);  // after sample types: it may rename "cpu" to "wall"
  apply_yep_notes(maps_text, p);
  // Mixed profiles' Python frames and threads (python_stand_ins.h).
  const std::string process = process_label(maps_text);
  PythonStandIns stand_ins(maps_text);
  p.interpreter_marked = stand_ins.marks_plumbing();
  p.function_hints = stand_ins.function_hints();

  // Distinct stacks in first-seen order (stable output) and their counts:
  // the same stack may come in several records.
  std::unordered_map<std::vector<uint64_t>, size_t, VectorHash> stack_index;
  std::vector<const std::vector<uint64_t>*> stacks;
  std::vector<int64_t> counts;
  std::vector<uint64_t> stack;
  for (size_t r = 0; r < records.size(); ++r) {
    stack.assign(records[r].depth, 0);
    for (size_t d = 0; d < records[r].depth; ++d) stack[d] = w->at(records[r].at + d);
    if (!stand_ins.empty()) stand_ins.complete(r, stack);
    auto [it, inserted] = stack_index.try_emplace(stack, stacks.size());
    if (inserted) {
      stacks.push_back(&it->first);  // keys of an unordered_map never move
      counts.push_back(0);
    }
    counts[it->second] += records[r].count;
  }

  // One location per distinct address to symbolize: the leaf pc, or a
  // return address - 1 (the first native frame is the leaf).
  LocationTable locations(p);
  p.samples.reserve(stacks.size());
  for (size_t k = 0; k < stacks.size(); ++k) {
    const std::vector<uint64_t>& pcs = *stacks[k];
    Sample s;
    s.location_ids.reserve(pcs.size());
    bool leaf = true;
    for (const uint64_t pc : pcs) {
      if (!stand_ins.empty()) {
        if (const std::string* thread = stand_ins.thread(pc)) {
          s.labels.push_back({"thread", *thread});
          continue;
        }
        if (const uint64_t id = stand_ins.location(p, pc)) {
          s.location_ids.push_back(id);
          continue;
        }
      }
      const uint64_t address = PythonStandIns::address(pc);
      s.location_ids.push_back(locations.id(leaf ? address : address - 1, PythonStandIns::plumbing(pc)));
      leaf = false;
    }
    if (!process.empty()) s.labels.push_back({"process", process});
    const int64_t count = counts[k];
    s.values = {count, count * p.period};
    p.samples.push_back(std::move(s));
  }
  p.check_valid();
  return p;
}

std::string read_file(const std::string& path) { return read_input(path, kMaxProfileBytes); }

Profile read_cpu_profile(const std::string& path) {
  return parse_cpu_profile(read_file(path), path);
}

}  // namespace yep
