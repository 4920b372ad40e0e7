#include "heap_profile_reader.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <set>
#include <unordered_map>
#include <utility>
#include <vector>

#include "input_file.h"
#include "location_table.h"
#include "proc_maps.h"
#include "process_record.h"
#include "python_stand_ins.h"

namespace yep {

namespace {

constexpr std::string_view kHeader = "heap profile:";
constexpr std::string_view kMapsHeader = "MAPPED_LIBRARIES:";
constexpr std::string_view kWarn = "%warn";
constexpr std::string_view kExpected =
    "expected '<objects>: <bytes> [<objects>: <bytes>] @ 0x<address> ...'";

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

std::string_view trim(std::string_view s) {
  const char* space = " \t\r";
  size_t b = s.find_first_not_of(space);
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(space) - b + 1);
}

// A piece of a line fit for a one-line error message.
std::string excerpt(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 60)) out.push_back(c >= 32 && c < 127 ? c : '?');
  if (s.size() > 60) out += "...";
  return out;
}

// The four numbers of a header or bucket line, in the file's order.
struct Counts {
  int64_t inuse_objects = 0, inuse_bytes = 0, alloc_objects = 0, alloc_bytes = 0;
};

// Who wrote the profile: the header tells.
enum class Producer {
  Gperftools,      // "heap profile: ... @ heapprofile": every allocation, exact
  TcmallocSample,  // "heap profile: ... @ heap_v2/<period>": sampled live objects
  Jemalloc,        // "heap_v2/<period>", then "t*:" totals; "@ stack" then "t*:" per bucket
};

// Reads "%6d: %8lld [%6d: %8lld]" and, if then_at, "@" from the front of
// `s` (spaces free).
// In-use figures may be negative (pprof accepts them), allocated ones not.
bool parse_counts(std::string_view& s, Counts& c, bool then_at) {
  auto skip = [&] {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  };
  auto literal = [&](char ch) {
    skip();
    if (s.empty() || s.front() != ch) return false;
    s.remove_prefix(1);
    return true;
  };
  auto number = [&](int64_t& v, bool negative_ok) {
    skip();
    if (s.empty() || (!negative_ok && s.front() == '-')) return false;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc()) return false;
    s.remove_prefix(static_cast<size_t>(end - s.data()));
    return true;
  };
  return number(c.inuse_objects, true) && literal(':') && number(c.inuse_bytes, true) && literal('[') &&
         number(c.alloc_objects, false) && literal(':') && number(c.alloc_bytes, false) && literal(']') &&
         (!then_at || literal('@'));
}

// "0x" and 1 to 16 hex digits (or "0": jemalloc's "%#x" of a null frame).
bool parse_address(std::string_view token, uint64_t& out) {
  if (token == "0") {
    out = 0;
    return true;
  }
  if (token.size() < 3 || token.size() > 18 || token[0] != '0' || (token[1] != 'x' && token[1] != 'X')) return false;
  auto [end, ec] = std::from_chars(token.data() + 2, token.data() + token.size(), out, 16);
  return ec == std::errc() && end == token.data() + token.size();
}

struct StackHash {
  size_t operator()(const std::vector<uint64_t>& v) const {
    uint64_t h = 1469598103934665603ull;
    for (uint64_t x : v) { h ^= x; h *= 1099511628211ull; h ^= h >> 29; }
    return static_cast<size_t>(h);
  }
};

// tcmalloc's heap_v2 samples one allocation every `period` bytes on average
// (a Poisson process), so an object of size S is in the sample with
// probability 1 - exp(-S / period): pprof divides by it, per line.
void unsample(int64_t& count, int64_t& bytes, int64_t period) {
  if (count == 0 || bytes == 0) {
    count = bytes = 0;
    return;
  }
  if (period <= 1) return;  // everything sampled, or unknown: leave as is
  const double average = static_cast<double>(bytes) / static_cast<double>(count);
  const double scale = 1 / (1 - std::exp(-average / static_cast<double>(period)));
  const double scaled_count = static_cast<double>(count) * scale, scaled_bytes = static_cast<double>(bytes) * scale;
  if (!(std::fabs(scaled_count) < 9e18) || !(std::fabs(scaled_bytes) < 9e18)) {
    count = bytes = INT64_MAX;  // add_bucket's sums then say the file is corrupt
    return;
  }
  count = static_cast<int64_t>(scaled_count);
  bytes = static_cast<int64_t>(scaled_bytes);
}

// yep's sampled mode writes "# yep-sampled: <mean bytes> (...)" after the
// header of a "heapprofile" dump whose figures it already scaled.
constexpr std::string_view kYepSampled = "# yep-sampled:";

// "512 KiB", "1 MiB", "1000 bytes": a sampling mean as a reader says it.
std::string size_words(int64_t bytes) {
  if (bytes >= (1 << 20) && bytes % (1 << 20) == 0) return std::to_string(bytes >> 20) + " MiB";
  if (bytes >= (1 << 10) && bytes % (1 << 10) == 0) return std::to_string(bytes >> 10) + " KiB";
  return std::to_string(bytes) + (bytes == 1 ? " byte" : " bytes");
}

// "7 of 10 in-use bytes (70.0%)"
std::string part_of(int64_t part, int64_t whole, const char* what) {
  char buf[128];
  std::snprintf(buf, sizeof buf, "%lld of %lld %s", static_cast<long long>(part), static_cast<long long>(whole), what);
  std::string out = buf;
  if (whole > 0) {
    std::snprintf(buf, sizeof buf, " (%.1f%%)", 100.0 * static_cast<double>(part) / static_cast<double>(whole));
    out += buf;
  }
  return out;
}

// A reference dump (yep's exact --heap mode, every dump of a session but its
// last): "# yep-stacks:<TAB><file name>" after the header, and buckets
// "... @ =<stack id>" whose stacks are in that file, next to the dump.
constexpr std::string_view kYepStacks = "# yep-stacks:";
constexpr std::string_view kStacksFileHeader = "yep heap stacks 1";

// The next space-separated token of `s`, "" at its end.
std::string_view next_token(std::string_view& s) {
  s = trim(s);
  const size_t space = s.find_first_of(" \t");
  const std::string_view token = s.substr(0, space);
  s.remove_prefix(space == std::string_view::npos ? s.size() : space);
  return token;
}

bool parse_decimal(std::string_view s, uint64_t& out) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return !s.empty() && ec == std::errc() && end == s.data() + s.size();
}

// The pc a writer looks up for frame i (BuiltinNames::add): the leaf's own,
// a caller's return address - 1.
uint64_t looked_up(const std::vector<uint64_t>& stack, size_t i) { return i == 0 ? stack[i] : stack[i] - 1; }

// The stacks of a reference dump, from its stacks file: only the stacks it
// refers to, their Python frames and threads, and the builtins' names in
// them (yep-function lines whose function holds one of their frames: those
// the dump written whole would have), so that memory follows the dump, never
// the file, which grows with the whole run.
//
//   yep heap stacks 1
//   <id> @ 0x<address> ...
//   # yep-stack:<TAB><id>...  # yep-python:...  # yep-thread:...  # yep-function:...
//
// A last line without its '\n' is being appended: ignored.
std::vector<std::vector<uint64_t>> read_referenced_stacks(const std::string& dump, const std::string& file_name,
                                                          const std::vector<uint64_t>& ids,
                                                          const std::unordered_map<uint64_t, size_t>& index,
                                                          PythonStandIns& stand_ins) {
  if (file_name.empty() || file_name == "." || file_name == ".." ||
      file_name.find_first_of(std::string("/\0", 2)) != std::string::npos)
    throw ProfileError(dump + ": bad stacks file name '" + excerpt(file_name) +
                       "' in its '# yep-stacks:' line: expected the name of a file in the dump's folder");
  const size_t slash = dump.rfind('/');
  const std::string path = (slash == std::string::npos ? std::string() : dump.substr(0, slash + 1)) + file_name;
  // The name comes from a file: never follow a link to somewhere else.
  const InputFile file(path, kMaxProfileBytes, true);
  if (file.missing())
    throw ProfileError(dump + ": its stacks are in " + file_name + ", not found in the same folder: copy " + file_name +
                       " along with the dumps of that run (the last dump of a run is complete on its own)");
  if (!file.ok())
    throw ProfileError(dump + ": its stacks file " + path + " is " +
                       (file.why() == "a symbolic link" ? "a symbolic link, which yep does not follow (the name comes "
                                                          "from the dump): copy the file itself there"
                                                        : "unreadable: " + file.why()));
  LineReader lines(file);
  std::string_view line;
  if (!lines.next(line) || !lines.ended() || line != kStacksFileHeader)
    throw ProfileError(path + ": not a yep heap stacks file (its first line is not '" + std::string(kStacksFileHeader) +
                       "'): the stacks of " + dump + " are in a file of that name written by the same run");

  // First the stacks and their yep-stack lines...
  std::vector<std::vector<uint64_t>> stacks(index.size());
  std::vector<bool> found(index.size());
  size_t found_count = 0;
  constexpr std::string_view kStackLine = "# yep-stack:\t";
  while (lines.next(line) && lines.ended()) {
    const auto at_line = [&] { return path + ": line " + std::to_string(lines.line_number()) + ": "; };
    if (line.empty()) continue;
    if (line.front() == '#') {
      if (starts_with(line, kStackLine)) {
        std::string_view id = line.substr(kStackLine.size());
        uint64_t value = 0;
        if (parse_decimal(id.substr(0, id.find('\t')), value) && index.count(value)) stand_ins.add_line(line);
      }
      continue;
    }
    std::string_view s = line;
    uint64_t id = 0;
    const std::string_view id_text = next_token(s);
    if (!parse_decimal(id_text, id) || next_token(s) != "@")
      throw ProfileError(at_line() + "bad line '" + excerpt(line) + "': expected '<stack id> @ 0x<address> ...'");
    const auto it = index.find(id);
    if (it == index.end()) continue;  // another dump's
    if (found[it->second])
      throw ProfileError(at_line() + "stack " + std::to_string(id) + " written twice: the file is corrupt");
    found[it->second] = true;
    ++found_count;
    std::vector<uint64_t>& stack = stacks[it->second];
    for (std::string_view token = next_token(s); !token.empty(); token = next_token(s)) {
      uint64_t address = 0;
      if (!parse_address(token, address))
        throw ProfileError(at_line() + "bad address '" + excerpt(token) + "': expected '<stack id> @ 0x<address> ...'");
      stack.push_back(address);
    }
  }
  if (found_count < ids.size()) {
    const size_t k = static_cast<size_t>(std::find(found.begin(), found.end(), false) - found.begin());
    throw ProfileError(dump + ": stack " + std::to_string(ids[k]) + " is not in " + file_name + " (" +
                       std::to_string(ids.size() - found_count) + " of its " + std::to_string(ids.size()) +
                       " stacks are missing): the stacks file does not match the dump (it is from another run, or "
                       "was cut short); copy the one written with this dump");
  }

  // ... then the Python frames and threads they use, and their builtins.
  std::vector<uint64_t> pcs;
  for (const std::vector<uint64_t>& stack : stacks)
    for (size_t i = 0; i < stack.size(); ++i) pcs.push_back(looked_up(stack, i));
  std::sort(pcs.begin(), pcs.end());
  pcs.erase(std::unique(pcs.begin(), pcs.end()), pcs.end());
  std::set<std::pair<uint64_t, uint64_t>> functions;  // each builtin once, however often written
  constexpr std::string_view kFunctionLine = "# yep-function:\t";
  lines.rewind();
  lines.next(line);  // the header
  while (lines.next(line) && lines.ended()) {
    if (line.empty() || line.front() != '#') continue;
    if (starts_with(line, kFunctionLine)) {
      std::string_view s = line.substr(kFunctionLine.size());
      const size_t tab = s.find('\t'), tab2 = tab == std::string_view::npos ? tab : s.find('\t', tab + 1);
      uint64_t start = 0, end = 0;
      if (tab2 == std::string_view::npos) continue;
      if (std::from_chars(s.data(), s.data() + tab, start, 16).ec != std::errc() ||
          std::from_chars(s.data() + tab + 1, s.data() + tab2, end, 16).ec != std::errc())
        continue;
      const auto pc = std::lower_bound(pcs.begin(), pcs.end(), start);
      if (pc != pcs.end() && *pc < end && functions.insert({start, end}).second) stand_ins.add_line(line);
    } else if (stand_ins.uses(line)) {
      stand_ins.add_line(line);
    }
  }
  stand_ins.finish();
  return stacks;
}

}  // namespace

bool is_heap_profile(std::string_view bytes) {
  while (starts_with(bytes, kWarn)) {
    size_t nl = bytes.find('\n');
    if (nl == std::string_view::npos) return false;
    bytes.remove_prefix(nl + 1);
  }
  return starts_with(bytes, kHeader) || starts_with(bytes, "heap_v2/");
}

namespace {

// Reads a heap profile from its lines, in two passes so that memory holds
// the profile model, never the file: the first reads the header and the
// part after the maps (maps, Python frames, process), the second the buckets,
// each completed and summed into its stack at once. `stacks_folder`: whether
// a reference dump's stacks file can be read (next to the file `name`).
Profile parse_heap(LineReader& lines, const std::string& name, bool stacks_folder) {
  const std::string expected_file =
      "; expected a heap profile written by gperftools' heap profiler (HeapProfilerDump, HEAPPROFILE), "
      "tcmalloc's GetHeapSample or jemalloc's prof.dump";
  std::string_view line;
  bool more = lines.next(line);
  if (!more)
    throw ProfileError(name + ": file is empty; it is not a heap profile (was the profiled process killed "
                              "before it dumped one?)");
  size_t line_number = 0;
  auto at_line = [&](size_t n) { return name + ": line " + std::to_string(n) + ": "; };

  // "%warn" lines (tcmalloc's GetHeapSample explains an empty sample so).
  std::string warnings;
  while (more && starts_with(line, kWarn)) {
    ++line_number;
    const std::string_view w = trim(line.substr(kWarn.size()));
    if (!w.empty()) warnings += (warnings.empty() ? "" : " ") + std::string(w);
    more = lines.next(line);
  }

  // The header: the process's totals and who wrote the profile.
  Producer producer;
  Counts total;
  int64_t period = 1;
  const std::string header_text = more ? std::string(line) : std::string();
  const std::string_view header = header_text;
  bool header_ended = more && lines.ended();  // the buckets start after a '\n'
  ++line_number;
  auto parse_period = [&](std::string_view digits) {
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), period);
    if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || period < 0)
      throw ProfileError(at_line(line_number) + "bad sampling period in heap profile header '" + excerpt(header) +
                         "': expected 'heap_v2/<bytes>'");
  };
  if (starts_with(header, kHeader)) {
    std::string_view s = header.substr(kHeader.size());
    if (!parse_counts(s, total, true))
      throw ProfileError(at_line(line_number) + "bad heap profile header '" + excerpt(header) +
                         "': expected 'heap profile: <objects>: <bytes> [<objects>: <bytes>] @ heapprofile'");
    const std::string_view kind = trim(s);
    if (kind == "heapprofile") {
      producer = Producer::Gperftools;
    } else if (starts_with(kind, "heap_v2/")) {
      producer = Producer::TcmallocSample;
      parse_period(kind.substr(8));
    } else {
      throw ProfileError(name + ": heap profile of kind '" + excerpt(kind) +
                         "' is not supported: yep reads gperftools heap profiles ('@ heapprofile') and tcmalloc heap "
                         "samples ('@ heap_v2/<period>')");
    }
  } else if (starts_with(header, "heap_v2/")) {
    // jemalloc: "heap_v2/<period>", then "  t*: <totals>" on its own line.
    producer = Producer::Jemalloc;
    parse_period(trim(header.substr(8)));
    const bool totals_read = header_ended && lines.next(line);
    const std::string_view totals = totals_read ? trim(line) : std::string_view();
    header_ended = totals_read && lines.ended();
    ++line_number;
    std::string_view s = totals.substr(std::min(totals.size(), size_t{3}));
    if (!starts_with(totals, "t*:") || !parse_counts(s, total, false) || !trim(s).empty())
      throw ProfileError(at_line(line_number) + "bad jemalloc heap profile totals '" + excerpt(totals) +
                         "': expected 't*: <objects>: <bytes> [<objects>: <bytes>]'");
  } else {
    throw ProfileError(name + ": not a heap profile: it starts neither with 'heap profile:' nor with 'heap_v2/'" + expected_file);
  }
  const bool sampled = producer != Producer::Gperftools;
  const size_t header_lines = line_number;

  // The buckets run up to the line "MAPPED_LIBRARIES:". A complete last
  // bucket line ends with its own '\n' (so a blank line precedes the maps
  // header); a line cut by gperftools' 1 MiB limit runs straight into it.
  // A reference dump names its stacks file in one of its first two lines.
  size_t maps_line = 0;
  bool last_line_cut = false;
  std::string stacks_file;
  bool references = false;
  while (header_ended && lines.next(line)) {
    if (starts_with(line, kMapsHeader)) {
      maps_line = lines.line_number();
      break;
    }
    if (producer == Producer::Gperftools && lines.line_number() <= header_lines + 2 &&
        starts_with(trim(line), kYepStacks)) {
      references = true;
      stacks_file = std::string(trim(trim(line).substr(kYepStacks.size())));
    }
    last_line_cut = !line.empty();
  }
  if (maps_line == 0)
    throw ProfileError(name + ": incomplete heap profile: no MAPPED_LIBRARIES section (the file was cut short or "
                              "copied before the profiler finished writing it); dump the profile again");

  // After the maps header: the maps (with yep's build ids), then mixed
  // profiles' Python frames (python_stand_ins.h; a reference dump's are in
  // its stacks file), and a process of a tree's record (process_record.h).
  PythonStandIns stand_ins;
  std::string maps_text, process_line;
  bool maps_cut = false;  // gperftools writes whole maps lines: a cut last one would name a wrong file
  constexpr std::string_view kProcess = "# yep-process:\t";
  while (lines.next(line)) {
    if (line.find(kProcess) != std::string_view::npos) process_line = std::string(line);  // the last one counts
    if (!lines.ended()) {
      maps_cut = true;
      if (!references) stand_ins.add_line(line);
      break;
    }
    const size_t first = line.find_first_not_of(' ');
    if (starts_with(line, "# yep-build-id:") ||
        (first != std::string_view::npos && std::isxdigit(static_cast<unsigned char>(line[first])))) {
      maps_text.append(line).push_back('\n');
    } else if (!references) {
      stand_ins.add_line(line);
    }
  }
  if (!references) stand_ins.finish();
  // A profile of one process of a tree (--heap --subprocesses): its label.
  const std::string process = process_label(process_line);

  Profile p;
  p.sample_types = {{"alloc_objects", "count"}, {"alloc_space", "bytes"}, {"inuse_objects", "count"}, {"inuse_space", "bytes"}};
  p.default_sample_type = 3;
  p.period_type = {"space", "bytes"};
  p.period = period;
  p.mappings = parse_proc_maps(maps_text);
  maps_text = std::string();

  // Distinct stacks (raw return addresses) in first-seen order, and their values.
  std::unordered_map<std::vector<uint64_t>, size_t, StackHash> stack_index;
  std::vector<std::array<int64_t, 4>> values;
  // A reference dump's buckets, summed by stack id in first-seen order.
  std::unordered_map<uint64_t, size_t> id_index;
  std::vector<uint64_t> ids;
  std::vector<std::array<int64_t, 4>> id_values;
  Counts sum;
  // Counts that overflow int64 when added up are a corrupt file, never a
  // negative total.
  auto add = [&](int64_t& to, int64_t value) {
    if (__builtin_add_overflow(to, value, &to))
      throw ProfileError(name + ": corrupt heap profile: counts beyond what 64 bits can add up");
  };
  auto add_values = [&](std::array<int64_t, 4>& to, const std::array<int64_t, 4>& v) {
    for (int k = 0; k < 4; ++k) add(to[k], v[k]);  // totals: Profile::check_valid
  };
  auto merge = [&](std::vector<uint64_t>& stack, const std::array<int64_t, 4>& v) {
    auto [it, inserted] = stack_index.try_emplace(stack, values.size());
    if (inserted) values.push_back({0, 0, 0, 0});
    add_values(values[it->second], v);
  };
  // A bucket's figures in the profile's order, unsampled; the sums as written.
  auto bucket_values = [&](Counts c) -> std::array<int64_t, 4> {
    add(sum.inuse_objects, c.inuse_objects);
    add(sum.inuse_bytes, c.inuse_bytes);
    add(sum.alloc_objects, c.alloc_objects);
    add(sum.alloc_bytes, c.alloc_bytes);
    if (sampled) {
      unsample(c.alloc_objects, c.alloc_bytes, period);
      unsample(c.inuse_objects, c.inuse_bytes, period);
    }
    return {c.alloc_objects, c.alloc_bytes, c.inuse_objects, c.inuse_bytes};
  };
  size_t bucket_count = 0;  // buckets read so far: the record numbers of yep-stack lines
  auto add_bucket = [&](Counts c, std::vector<uint64_t>& stack) {
    if (!stand_ins.empty()) stand_ins.complete(bucket_count, stack);
    ++bucket_count;
    merge(stack, bucket_values(c));
  };
  // The addresses after a bucket's '@'.
  std::vector<uint64_t> stack;
  auto parse_stack = [&](std::string_view s, bool cut) {
    stack.clear();
    for (std::string_view token = next_token(s); !token.empty(); token = next_token(s)) {
      uint64_t address = 0;
      const bool ok = parse_address(token, address);
      if (cut && trim(s).empty()) {
        // gperftools drops a frame that does not fit whole, so the frames of
        // a cut line are whole ("0x%08x": 8 digits or more); anything else
        // at its very end is a cut token, never an address.
        if (!ok || (producer == Producer::Gperftools && token.size() < 10)) break;
      } else if (!ok) {
        if (token.front() == '=')
          throw ProfileError(at_line(line_number) + "stack reference '" + excerpt(token) +
                             "' in a heap profile without a '# yep-stacks:' line naming its stacks file");
        throw ProfileError(at_line(line_number) + "bad address '" + excerpt(token) + "' in heap profile bucket: " +
                           std::string(kExpected));
      }
      stack.push_back(address);
    }
  };

  // The second pass: the buckets.
  lines.rewind();
  for (size_t k = 0; k < header_lines; ++k) lines.next(line);
  line_number = lines.line_number();
  bool stack_pending = false;  // jemalloc: a "@" line waiting for its "t*:" line
  int64_t yep_sample_mean = 0;  // from "# yep-sampled:"; 0: exact
  while (lines.next(line) && lines.line_number() < maps_line) {
    line_number = lines.line_number();
    const bool cut = last_line_cut && line_number + 1 == maps_line;
    const std::string_view content = trim(line);
    if (producer == Producer::Gperftools && starts_with(content, kYepSampled)) {
      std::string_view digits = trim(content.substr(kYepSampled.size()));
      digits = digits.substr(0, digits.find_first_of(" \t("));
      auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), yep_sample_mean);
      if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || yep_sample_mean <= 0)
        throw ProfileError(at_line(line_number) + "bad sampling mean in '" + excerpt(content) +
                           "': expected '# yep-sampled: <bytes>'");
      continue;
    }
    if (content.empty() || content.front() == '#') continue;
    std::string_view s = content;
    Counts c;
    if (producer != Producer::Jemalloc) {
      if (!parse_counts(s, c, true))
        throw ProfileError(at_line(line_number) + "bad heap profile bucket '" + excerpt(content) + "': " +
                           std::string(kExpected));
      if (references) {
        s = trim(s);
        uint64_t id = 0;
        if (s.empty() || s.front() != '=' || !parse_decimal(s.substr(1), id))
          throw ProfileError(at_line(line_number) + "bad heap profile bucket '" + excerpt(content) +
                             "': expected '<objects>: <bytes> [<objects>: <bytes>] @ =<stack id>'");
        auto [it, inserted] = id_index.try_emplace(id, ids.size());
        if (inserted) {
          ids.push_back(id);
          id_values.push_back({0, 0, 0, 0});
        }
        add_values(id_values[it->second], bucket_values(c));
        continue;
      }
      parse_stack(s, cut);
      add_bucket(c, stack);
    } else if (content.front() == '@') {
      if (stack_pending)
        throw ProfileError(at_line(line_number) + "jemalloc heap profile stack without a 't*:' line before it");
      parse_stack(content.substr(1), false);
      stack_pending = true;
    } else if (starts_with(content, "t*:")) {
      s.remove_prefix(3);
      if (!stack_pending || !parse_counts(s, c, false) || !trim(s).empty())
        throw ProfileError(at_line(line_number) + "bad jemalloc heap profile line '" + excerpt(content) +
                           "': expected 't*: <objects>: <bytes> [<objects>: <bytes>]' after a '@ 0x<address> ...' line");
      add_bucket(c, stack);
      stack_pending = false;
    } else if (content.size() < 2 || content.front() != 't' || content[1] < '0' || content[1] > '9') {
      throw ProfileError(at_line(line_number) + "bad jemalloc heap profile line '" + excerpt(content) +
                         "': expected '@ 0x<address> ...', 't*: ...' or 't<thread>: ...'");
    }  // else "t<thread>: ...": one thread's share, already in "t*:"
  }
  if (lines.line_number() != maps_line || !starts_with(line, kMapsHeader))
    throw ProfileError(name + ": the file changed while it was read; read it again once the profiler has written it");
  if (stack_pending)
    throw ProfileError(name + ": incomplete jemalloc heap profile: the last stack has no 't*:' line; dump the "
                              "profile again");

  if (references) {
    // A reference dump's stacks, from its stacks file, completed as the
    // dump written whole would have them (its yep-stack lines keyed by id).
    if (!stacks_folder)
      throw ProfileError(name + ": its stacks are in " + excerpt(stacks_file) +
                         ", another file: read the dump from its file, with " + excerpt(stacks_file) + " next to it");
    std::vector<std::vector<uint64_t>> raw = read_referenced_stacks(name, stacks_file, ids, id_index, stand_ins);
    id_index = {};
    for (size_t k = 0; k < raw.size(); ++k) {
      if (!stand_ins.empty()) stand_ins.complete(ids[k], raw[k]);
      merge(raw[k], id_values[k]);
      std::vector<uint64_t>().swap(raw[k]);
    }
  }

  stand_ins.release_stacks();  // every stack is complete
  p.interpreter_marked = stand_ins.marks_plumbing();
  p.function_hints = stand_ins.function_hints();
  // Every frame is a return address into a caller: its location is the
  // address - 1 (inside the call instruction); the keys of mixed profiles
  // are Python frames. Each stack is freed once it is a sample.
  std::vector<std::vector<uint64_t>> stacks(values.size());
  while (!stack_index.empty()) {
    auto node = stack_index.extract(stack_index.begin());
    stacks[node.mapped()] = std::move(node.key());
  }
  LocationTable locations(p);
  p.samples.reserve(stacks.size());
  for (size_t k = 0; k < stacks.size(); ++k) {
    Sample sample;
    sample.location_ids.reserve(stacks[k].size());
    for (uint64_t pc : stacks[k]) {
      const uint64_t python = stand_ins.empty() ? 0 : stand_ins.location(p, pc);
      const uint64_t address = PythonStandIns::address(pc);
      sample.location_ids.push_back(python ? python
                                           : locations.id(address ? address - 1 : 0, PythonStandIns::plumbing(pc)));
    }
    std::vector<uint64_t>().swap(stacks[k]);  // for the next samples
    sample.values.assign(values[k].begin(), values[k].end());
    if (!process.empty()) sample.labels.push_back({"process", process});
    p.samples.push_back(std::move(sample));
  }
  if (!warnings.empty()) p.comments.push_back("tcmalloc: " + warnings);
  if (yep_sample_mean > 0) {
    p.period = yep_sample_mean;
    p.comments.push_back("sampled: one allocation per " + size_words(yep_sample_mean) +
                         " on average was recorded; figures are estimates (each sample of s bytes stands for "
                         "1 / (1 - exp(-s / " + size_words(yep_sample_mean) + ")) allocations)");
  }
  if (producer == Producer::TcmallocSample)
    p.comments.push_back("tcmalloc heap sample (heap_v2): about one allocation in every " + std::to_string(period) +
                         " bytes was recorded, and only live objects; values are estimates, scaled up as pprof does, "
                         "and allocated = in use");
  if (producer == Producer::Jemalloc)
    p.comments.push_back("jemalloc heap profile (heap_v2): about one allocation in every " + std::to_string(period) +
                         " bytes was recorded; values are estimates, scaled up as jeprof does; allocated figures are "
                         "0 unless jemalloc ran with prof_accum:true");
  // The header holds the totals of the whole process: buckets summing to
  // less mean buckets were dropped (by gperftools' 1 MiB limit).
  const bool buckets_missing = sum.inuse_objects < total.inuse_objects || sum.inuse_bytes < total.inuse_bytes ||
                               sum.alloc_objects < total.alloc_objects || sum.alloc_bytes < total.alloc_bytes;
  const std::string truncated = producer == Producer::Gperftools
                                    ? "truncated by gperftools' 1 MiB heap profile limit: "
                                    : "incomplete profile: ";
  if (buckets_missing)
    p.comments.push_back(truncated + "the buckets shown hold " +
                         part_of(sum.inuse_bytes, total.inuse_bytes, "in-use bytes") + " and " +
                         part_of(sum.alloc_bytes, total.alloc_bytes, "allocated bytes") +
                         "; the stacks of the rest are missing" +
                         (last_line_cut ? " and the last stack read was cut short" : ""));
  else if (last_line_cut)
    p.comments.push_back(truncated + "the last stack read was cut short (its outermost frames are missing)");
  if (maps_cut)
    p.comments.push_back("the memory maps at the end of the profile are cut off: addresses in the last mapping are "
                         "not symbolized");
  p.check_valid();
  return p;
}

}  // namespace

Profile parse_heap_profile(std::string_view text, const std::string& name) {
  LineReader lines(text, name);
  return parse_heap(lines, name, false);
}

Profile read_heap_profile(const InputFile& file) {
  LineReader lines(file);
  return parse_heap(lines, file.path(), true);
}

Profile read_heap_profile(const std::string& path) {
  const InputFile file(path, kMaxProfileBytes);
  if (!file.ok()) throw ProfileError(path + ": " + file.why());
  return read_heap_profile(file);
}

}  // namespace yep
