#include "text_writer.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstdint>
#include <vector>

#include "function_name.h"
#include "short_paths.h"
#include "value_format.h"

namespace yep {

namespace {

struct Row {
  uint64_t function_id;
  int64_t flat = 0;
  int64_t cum = 0;
};

std::string percent(int64_t part, int64_t total) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f%%", total ? 100.0 * part / total : 0.0);
  return buf;
}

std::string describe(const Function& f, const ShortPaths& paths) {
  std::string s = display_name(f);
  if (!f.filename.empty()) {
    s += "  " + paths(f.filename);
    if (f.start_line > 0) s += ":" + std::to_string(f.start_line);
  }
  return s;
}

// A line for each object file the symbolizer could not use (a profile read
// on another machine, an extension rebuilt since): how much of the profile
// goes through it, and how to point yep at a copy.
std::string missing_objects_note(const Profile& p, size_t vi, int64_t total) {
  std::string out;
  for (const Profile::MissingObject& object : p.missing_objects) {
    int64_t through = 0;
    for (const Sample& s : p.samples)
      for (uint64_t lid : s.location_ids) {
        const Mapping* m = p.mapping(p.location(lid).mapping_id);
        if (m && m->filename == object.path) {
          through += s.values[vi];
          break;
        }
      }
    if (through == 0) continue;
    out += (object.changed ? "Changed here since the run: " : "Not found here: ") + object.path + " (" +
           (object.changed ? "another build than the profile's, by build id; " : "") + percent(through, total) +
           " of the profile goes through it; its functions are named by address): point yep at " +
           (object.changed ? "the run's copy" : "a copy") + " with --binary-path DIR or YEP_BINARY_PATH=DIR\n";
  }
  return out;
}

// flat and cum of every function (rows indexed by function id - 1) over the
// samples `take` accepts, and their total.
struct Figures {
  std::vector<Row> rows;
  int64_t total = 0, samples = 0, unsymbolized = 0;
};

template <typename Take>
Figures figures(const Profile& p, size_t vi, Take take) {
  Figures fig;
  std::vector<Row>& rows = fig.rows;
  rows.resize(p.functions.size());
  for (size_t i = 0; i < rows.size(); ++i) rows[i].function_id = i + 1;
  // last_sample[f] == sample number: f was already counted in this sample's cum.
  std::vector<size_t> last_sample(p.functions.size(), SIZE_MAX);
  size_t sample_number = 0;
  for (const Sample& s : p.samples) {
    if (!take(s)) continue;
    const int64_t v = s.values[vi];
    fig.total += v;
    if (!p.sample_types.empty() && p.sample_types[0].unit == "count") fig.samples += s.values[0];
    if (s.location_ids.empty()) continue;
    // A leaf the symbolizer could not name has no row for its flat; its
    // callers' cum still holds the sample, as in the call graph.
    const Location& leaf = p.location(s.location_ids[0]);
    if (leaf.lines.empty()) fig.unsymbolized += v;
    else rows[leaf.lines[0].function_id - 1].flat += v;
    ++sample_number;
    for (uint64_t lid : s.location_ids)
      for (const Line& line : p.location(lid).lines) {
        size_t& last = last_sample[line.function_id - 1];
        if (last != sample_number) {
          last = sample_number;
          rows[line.function_id - 1].cum += v;
        }
      }
  }
  return fig;
}

// The comparison of a profile with a base (Profile::diff): per function the
// base's figure, the new one, the change and the change as a share of the
// base's total, the largest change (by magnitude) first.
std::string write_text_diff(const Profile& p, const TextOptions& o, size_t vi) {
  const ValueType& type = p.sample_types[vi];
  const bool by_cum = o.sort == TextOptions::Sort::Cum;
  Figures now = figures(p, vi, [&](const Sample& s) { return !p.in_base(s); });
  Figures base = figures(p, vi, [&](const Sample& s) { return p.in_base(s); });  // negated
  struct Change {
    uint64_t function_id;
    int64_t base, now;
  };
  std::vector<Change> rows;
  for (size_t i = 0; i < now.rows.size(); ++i) {
    const int64_t b = -(by_cum ? base.rows[i].cum : base.rows[i].flat), n = by_cum ? now.rows[i].cum : now.rows[i].flat;
    if (b || n) rows.push_back({i + 1, b, n});
  }
  auto size = [](const Change& c) { return std::llabs(c.now - c.base); };
  std::stable_sort(rows.begin(), rows.end(), [&](const Change& a, const Change& b) {
    if (size(a) != size(b)) return size(a) > size(b);
    if (std::max(a.base, a.now) != std::max(b.base, b.now)) return std::max(a.base, a.now) > std::max(b.base, b.now);
    return p.function(a.function_id).name < p.function(b.function_id).name;
  });
  const size_t shown = o.nodecount ? std::min(o.nodecount, rows.size()) : rows.size();
  const int64_t base_total = -base.total;
  auto share = [&](int64_t change) {
    if (base_total <= 0) return std::string("-");
    char buf[32];
    std::snprintf(buf, sizeof buf, "%+.2f%%", 100.0 * change / base_total);
    return std::string(buf);
  };

  std::string out = "Type: " + type.type + "\n";
  for (const std::string& c : p.comments) out += "# " + c + "\n";
  out += "Total: " + format_change(now.total, type.unit, false) + ", base " +
         format_change(base_total, type.unit, false) + ": " + format_change(now.total - base_total, type.unit, true) +
         " (" + share(now.total - base_total) + " of the base)\n";
  if (now.unsymbolized || base.unsymbolized)
    out += "Samples whose innermost frame has no name (flat in no row): " + format_change(now.unsymbolized, type.unit, false) + ", base " +
           format_change(-base.unsymbolized, type.unit, false) + "\n";
  out += std::string("Rows: ") + (by_cum ? "cum" : "flat") + " of each function in the base and now, the change, "
         "and the change as a share of the base's total; largest change first\n";
  if (shown < rows.size())
    out += "Showing top " + std::to_string(shown) + " of " + std::to_string(rows.size()) + " functions\n";
  char line[160];
  std::snprintf(line, sizeof line, "%10s %10s %10s %8s  %s\n", "base", "new", "change", "change%", "name");
  out += line;
  std::vector<std::string> files;
  for (const Function& f : p.functions) files.push_back(f.filename);
  const ShortPaths paths(files);
  for (size_t i = 0; i < shown; ++i) {
    const Change& r = rows[i];
    std::snprintf(line, sizeof line, "%10s %10s %10s %8s  ", format_change(r.base, type.unit, false).c_str(),
                  format_change(r.now, type.unit, false).c_str(), format_change(r.now - r.base, type.unit, true).c_str(),
                  share(r.now - r.base).c_str());
    out += line + describe(p.function(r.function_id), paths) + "\n";
  }
  out += missing_objects_note(p, vi, now.total);
  return out;
}

}  // namespace

std::string write_text(const Profile& p, const TextOptions& o) {
  const size_t vi = p.value_index(o.sample_index);
  if (p.diff) return write_text_diff(p, o, vi);
  const ValueType& type = p.sample_types[vi];

  Figures fig = figures(p, vi, [](const Sample&) { return true; });
  std::vector<Row>& rows = fig.rows;
  const int64_t total = fig.total, samples = fig.samples, unsymbolized = fig.unsymbolized;

  rows.erase(std::remove_if(rows.begin(), rows.end(), [](const Row& r) { return r.flat == 0 && r.cum == 0; }),
             rows.end());
  auto key = [&](const Row& r) {
    const int64_t flat = std::llabs(r.flat), cum = std::llabs(r.cum);
    return o.sort == TextOptions::Sort::Cum ? std::make_pair(cum, flat) : std::make_pair(flat, cum);
  };
  std::stable_sort(rows.begin(), rows.end(), [&](const Row& a, const Row& b) {
    if (key(a) != key(b)) return key(a) > key(b);
    return p.function(a.function_id).name < p.function(b.function_id).name;
  });
  const size_t shown = o.nodecount ? std::min(o.nodecount, rows.size()) : rows.size();

  std::string out;
  out += "Type: " + type.type + "\n";
  for (const std::string& c : p.comments) out += "# " + c + "\n";
  out += "Total: " + format_value(total, type.unit);
  if (type.unit == "nanoseconds") out += " in " + std::to_string(samples) + " samples";
  out += "\n";
  if (type.unit == "nanoseconds" && samples == 0) {
    // An empty table is not an answer: say what leaves a CPU profile empty.
    out += "No samples: the program ran less CPU (or wall) time than one sampling period";
    if (p.period > 0) out += " (" + format_value(p.period, type.unit) + ")";
    out += ", or something in it used SIGPROF or the profiling timer itself\n";
  }
  if (unsymbolized) out += "Samples whose innermost frame has no name (flat in no row): " + format_value(unsymbolized, type.unit) + "\n";
  if (shown < rows.size()) {
    // Flat times add up; cum times overlap (a caller's holds its callees'),
    // so by cum the line says the most any dropped function holds.
    int64_t dropped = 0;
    for (size_t i = shown; i < rows.size(); ++i) {
      if (o.sort == TextOptions::Sort::Cum) dropped = std::max<int64_t>(dropped, std::llabs(rows[i].cum));
      else dropped += rows[i].flat;
    }
    out += "Showing top " + std::to_string(shown) + " of " + std::to_string(rows.size()) + " functions; dropped " +
           std::to_string(rows.size() - shown) +
           (o.sort == TextOptions::Sort::Cum ? " (each at most " + format_value(dropped, type.unit) + " cum)"
                                             : " (" + format_value(dropped, type.unit) + " flat)") +
           "\n";
  }
  char line[128];
  std::snprintf(line, sizeof line, "%10s %7s %7s %10s %7s  %s\n", "flat", "flat%", "sum%", "cum", "cum%", "name");
  out += line;
  std::vector<std::string> files;
  for (const Function& f : p.functions) files.push_back(f.filename);
  const ShortPaths paths(files);
  int64_t sum = 0;
  for (size_t i = 0; i < shown; ++i) {
    const Row& r = rows[i];
    sum += r.flat;
    std::snprintf(line, sizeof line, "%10s %7s %7s %10s %7s  ", format_value(r.flat, type.unit).c_str(),
                  percent(r.flat, total).c_str(), percent(sum, total).c_str(), format_value(r.cum, type.unit).c_str(),
                  percent(r.cum, total).c_str());
    out += line + describe(p.function(r.function_id), paths) + "\n";
  }
  out += missing_objects_note(p, vi, total);
  return out;
}

}  // namespace yep
