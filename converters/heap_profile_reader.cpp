#include "heap_profile_reader.h"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <unordered_map>
#include <vector>

#include "cpu_profile_reader.h"  // read_file
#include "location_table.h"
#include "proc_maps.h"
#include "process_record.h"
#include "python_stand_ins.h"

namespace yep {

namespace {

constexpr std::string_view kHeader = "heap profile:";
constexpr std::string_view kMapsHeader = "\nMAPPED_LIBRARIES:";
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

}  // namespace

bool is_heap_profile(std::string_view bytes) {
  while (starts_with(bytes, kWarn)) {
    size_t nl = bytes.find('\n');
    if (nl == std::string_view::npos) return false;
    bytes.remove_prefix(nl + 1);
  }
  return starts_with(bytes, kHeader) || starts_with(bytes, "heap_v2/");
}

Profile parse_heap_profile(std::string_view text, const std::string& name) {
  const std::string expected_file =
      "; expected a heap profile written by gperftools' heap profiler (HeapProfilerDump, HEAPPROFILE), "
      "tcmalloc's GetHeapSample or jemalloc's prof.dump";
  if (text.empty())
    throw ProfileError(name + ": file is empty; it is not a heap profile (was the profiled process killed "
                              "before it dumped one?)");
  size_t line_number = 0;
  auto at_line = [&](size_t n) { return name + ": line " + std::to_string(n) + ": "; };
  // Splits off the next line of `s` (without its '\n').
  auto next_line = [](std::string_view& s) {
    const size_t nl = s.find('\n');
    const std::string_view line = s.substr(0, nl);
    s.remove_prefix(nl == std::string_view::npos ? s.size() : nl + 1);
    return line;
  };

  // "%warn" lines (tcmalloc's GetHeapSample explains an empty sample so).
  std::string warnings;
  while (starts_with(text, kWarn)) {
    ++line_number;
    const std::string_view w = trim(next_line(text).substr(kWarn.size()));
    if (!w.empty()) warnings += (warnings.empty() ? "" : " ") + std::string(w);
  }

  // The header: the process's totals and who wrote the profile.
  Producer producer;
  Counts total;
  int64_t period = 1;
  std::string_view rest = text;
  const std::string_view header = next_line(rest);
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
    const std::string_view totals = trim(next_line(rest));
    ++line_number;
    std::string_view s = totals.substr(std::min(totals.size(), size_t{3}));
    if (!starts_with(totals, "t*:") || !parse_counts(s, total, false) || !trim(s).empty())
      throw ProfileError(at_line(line_number) + "bad jemalloc heap profile totals '" + excerpt(totals) +
                         "': expected 't*: <objects>: <bytes> [<objects>: <bytes>]'");
  } else {
    throw ProfileError(name + ": not a heap profile: it starts neither with 'heap profile:' nor with 'heap_v2/'" + expected_file);
  }
  const bool sampled = producer != Producer::Gperftools;

  // The buckets run up to "\nMAPPED_LIBRARIES:". A complete last bucket line
  // ends with its own '\n' (so a blank line precedes the maps header); a
  // line cut by gperftools' 1 MiB limit runs straight into it.
  const size_t buckets_at = text.size() - rest.size();  // after the header's '\n'
  const size_t maps_at = buckets_at == 0 || text[buckets_at - 1] != '\n' ? std::string_view::npos
                                                                         : text.find(kMapsHeader, buckets_at - 1);
  if (maps_at == std::string_view::npos)
    throw ProfileError(name + ": incomplete heap profile: no MAPPED_LIBRARIES section (the file was cut short or "
                              "copied before the profiler finished writing it); dump the profile again");
  std::string_view buckets = maps_at >= buckets_at ? text.substr(buckets_at, maps_at - buckets_at) : std::string_view();
  const bool last_line_cut = !buckets.empty() && buckets.back() != '\n';
  std::string_view maps_text = text.substr(maps_at + kMapsHeader.size());
  next_line(maps_text);  // the rest of the "MAPPED_LIBRARIES:" line

  Profile p;
  p.sample_types = {{"alloc_objects", "count"}, {"alloc_space", "bytes"}, {"inuse_objects", "count"}, {"inuse_space", "bytes"}};
  p.default_sample_type = 3;
  p.period_type = {"space", "bytes"};
  p.period = period;

  // Mixed profiles' Python frames (python_stand_ins.h), in the lines after the maps.
  PythonStandIns stand_ins(maps_text);
  // A profile of one process of a tree (--heap --subprocesses): its label.
  const std::string process = process_label(maps_text);
  p.interpreter_marked = stand_ins.marks_plumbing();
  p.function_hints = stand_ins.function_hints();
  size_t bucket_count = 0;  // buckets read so far: the record numbers of yep-stack lines

  // Distinct stacks (raw return addresses) in first-seen order, and their values.
  std::unordered_map<std::vector<uint64_t>, size_t, StackHash> stack_index;
  std::vector<const std::vector<uint64_t>*> stacks;
  std::vector<std::array<int64_t, 4>> values;
  Counts sum;
  // Counts that overflow int64 when added up are a corrupt file, never a
  // negative total.
  auto add = [&](int64_t& to, int64_t value) {
    if (__builtin_add_overflow(to, value, &to))
      throw ProfileError(name + ": corrupt heap profile: counts beyond what 64 bits can add up");
  };
  auto add_bucket = [&](Counts c, std::vector<uint64_t>& stack) {
    if (!stand_ins.empty()) stand_ins.complete(bucket_count, stack);
    ++bucket_count;
    add(sum.inuse_objects, c.inuse_objects);
    add(sum.inuse_bytes, c.inuse_bytes);
    add(sum.alloc_objects, c.alloc_objects);
    add(sum.alloc_bytes, c.alloc_bytes);
    if (sampled) {
      unsample(c.alloc_objects, c.alloc_bytes, period);
      unsample(c.inuse_objects, c.inuse_bytes, period);
    }
    auto [it, inserted] = stack_index.try_emplace(stack, stacks.size());
    if (inserted) {
      stacks.push_back(&it->first);  // keys of an unordered_map never move
      values.push_back({0, 0, 0, 0});
    }
    std::array<int64_t, 4>& v = values[it->second];
    const int64_t in_order[4] = {c.alloc_objects, c.alloc_bytes, c.inuse_objects, c.inuse_bytes};
    for (int k = 0; k < 4; ++k) add(v[k], in_order[k]);  // totals: Profile::check_valid
  };
  // The addresses after a bucket's '@'.
  std::vector<uint64_t> stack;
  auto parse_stack = [&](std::string_view s, bool cut) {
    stack.clear();
    while (true) {
      s = trim(s);
      if (s.empty()) break;
      const size_t space = s.find_first_of(" \t");
      const std::string_view token = s.substr(0, space);
      s.remove_prefix(space == std::string_view::npos ? s.size() : space);
      uint64_t address = 0;
      const bool ok = parse_address(token, address);
      if (cut && trim(s).empty()) {
        // gperftools drops a frame that does not fit whole, so the frames of
        // a cut line are whole ("0x%08x": 8 digits or more); anything else
        // at its very end is a cut token, never an address.
        if (!ok || (producer == Producer::Gperftools && token.size() < 10)) break;
      } else if (!ok) {
        throw ProfileError(at_line(line_number) + "bad address '" + excerpt(token) + "' in heap profile bucket: " +
                           std::string(kExpected));
      }
      stack.push_back(address);
    }
  };

  bool stack_pending = false;  // jemalloc: a "@" line waiting for its "t*:" line
  int64_t yep_sample_mean = 0;  // from "# yep-sampled:"; 0: exact
  while (!buckets.empty()) {
    ++line_number;
    const std::string_view line = next_line(buckets);
    const bool cut = last_line_cut && buckets.empty();
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
  if (stack_pending)
    throw ProfileError(name + ": incomplete jemalloc heap profile: the last stack has no 't*:' line; dump the "
                              "profile again");

  // gperftools writes whole lines of /proc/self/maps; a cut last line
  // would name a wrong file.
  bool maps_cut = false;
  if (!maps_text.empty() && maps_text.back() != '\n') {
    const size_t last = maps_text.rfind('\n');
    maps_text = last == std::string_view::npos ? std::string_view() : maps_text.substr(0, last + 1);
    maps_cut = true;
  }
  p.mappings = parse_proc_maps(maps_text);
  // Every frame is a return address into a caller: its location is the
  // address - 1 (inside the call instruction); the keys of mixed profiles
  // are Python frames.
  LocationTable locations(p);
  p.samples.reserve(stacks.size());
  for (size_t k = 0; k < stacks.size(); ++k) {
    Sample sample;
    sample.location_ids.reserve(stacks[k]->size());
    for (uint64_t pc : *stacks[k]) {
      const uint64_t python = stand_ins.empty() ? 0 : stand_ins.location(p, pc);
      const uint64_t address = PythonStandIns::address(pc);
      sample.location_ids.push_back(python ? python
                                           : locations.id(address ? address - 1 : 0, PythonStandIns::plumbing(pc)));
    }
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

Profile read_heap_profile(const std::string& path) {
  return parse_heap_profile(read_file(path), path);
}

}  // namespace yep
