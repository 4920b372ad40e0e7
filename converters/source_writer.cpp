#include "source_writer.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <regex>
#include <vector>

#include "function_name.h"
#include "input_file.h"
#include "value_format.h"

namespace yep {

namespace {

struct LineFigures {
  int64_t flat = 0, cum = 0;
};

struct Listing {
  int64_t flat = 0, cum = 0;
  std::map<int64_t, LineFigures> lines;
};


}  // namespace

std::string write_source(const Profile& p, size_t vi, const SourceOptions& o) {
  const std::string& unit = p.sample_types[vi].unit;
  std::vector<Listing> listings(p.functions.size());
  int64_t total = 0;
  std::vector<Line> frames;
  // Per sample, each (function, line) gets cum once: remember the last sample.
  std::map<std::pair<uint64_t, int64_t>, size_t> last;
  std::vector<size_t> function_last(p.functions.size(), SIZE_MAX);
  for (size_t si = 0; si < p.samples.size(); ++si) {
    const Sample& s = p.samples[si];
    const int64_t v = s.values[vi];
    total += v;
    p.frames(s, frames);
    for (size_t i = 0; i < frames.size(); ++i) {
      Listing& l = listings[frames[i].function_id - 1];
      if (i == 0) {
        l.flat += v;
        l.lines[frames[i].line].flat += v;
      }
      size_t& fl = function_last[frames[i].function_id - 1];
      if (fl != si) {
        fl = si;
        l.cum += v;
      }
      auto [it, inserted] = last.try_emplace({frames[i].function_id, frames[i].line}, si);
      if (inserted || it->second != si) {
        it->second = si;
        l.lines[frames[i].line].cum += v;
      }
    }
  }

  // Selection: by regex on the short or full name, else the top by flat.
  std::vector<uint64_t> chosen;
  if (!o.list.empty()) {
    std::regex re;
    try {
      re = std::regex(o.list);
    } catch (const std::regex_error& e) {
      throw ProfileError("bad --list regular expression '" + o.list + "': " + e.what());
    }
    for (const Function& f : p.functions)
      if (listings[f.id - 1].cum > 0 &&
          (std::regex_search(display_name(f), re) || std::regex_search(f.name, re)))
        chosen.push_back(f.id);
    if (chosen.empty()) throw ProfileError("no function with samples matches --list '" + o.list + "'");
  } else {
    for (const Function& f : p.functions)
      if (listings[f.id - 1].flat > 0 && !f.filename.empty()) chosen.push_back(f.id);
    std::stable_sort(chosen.begin(), chosen.end(),
                     [&](uint64_t a, uint64_t b) { return listings[a - 1].flat > listings[b - 1].flat; });
    if (chosen.size() > o.top) chosen.resize(o.top);
  }
  std::stable_sort(chosen.begin(), chosen.end(), [&](uint64_t a, uint64_t b) {
    return listings[a - 1].flat != listings[b - 1].flat ? listings[a - 1].flat > listings[b - 1].flat
                                                        : listings[a - 1].cum > listings[b - 1].cum;
  });

  std::string out = "Total: " + format_value(total, unit) + "\n";
  char buf[128];
  for (uint64_t id : chosen) {
    const Function& f = p.function(id);
    const Listing& l = listings[id - 1];
    out += "ROUTINE ======================== " + display_name(f) + " in " +
           (f.filename.empty() ? "(no source file in the debug info)" : f.filename) + "\n";
    std::snprintf(buf, sizeof buf, "%10s %10s (flat, cum) %.2f%% of Total\n", format_value(l.flat, unit).c_str(),
                  format_value(l.cum, unit).c_str(), total ? 100.0 * l.cum / total : 0.0);
    out += buf;
    std::string why;
    const auto read = f.filename.empty() ? std::nullopt : read_source_lines(f.filename, why);
    const bool found = read.has_value();
    const std::vector<std::string> text = found ? *read : std::vector<std::string>();
    std::vector<int64_t> shown;
    if (found && !l.lines.empty()) {
      int64_t first = l.lines.begin()->first, end = l.lines.rbegin()->first;
      if (f.start_line > 0 && f.start_line < first && first - f.start_line < 200) first = f.start_line;
      first = std::max<int64_t>(1, first - o.context);
      end = std::min<int64_t>(static_cast<int64_t>(text.size()), end + o.context);
      for (int64_t n = first; n <= end; ++n) shown.push_back(n);
    } else {
      if (!f.filename.empty())
        out += "   (source file " + (why == "no such file" ? std::string("not found") : "not shown, " + why) + ": " +
               f.filename + "; showing only lines with samples)\n";
      for (const auto& entry : l.lines) shown.push_back(entry.first);
    }
    for (int64_t n : shown) {
      auto it = l.lines.find(n);
      std::string flat = ".", cum = ".";
      if (it != l.lines.end()) {
        if (it->second.flat) flat = format_value(it->second.flat, unit);
        if (it->second.cum) cum = format_value(it->second.cum, unit);
      }
      const std::string src = found && n >= 1 && n <= static_cast<int64_t>(text.size()) ? text[n - 1] : "???";
      std::snprintf(buf, sizeof buf, "%10s %10s %6lld: ", flat.c_str(), cum.c_str(), static_cast<long long>(n));
      out += buf + src + "\n";
    }
  }
  return out;
}

}  // namespace yep
