#include "report.h"

#include <algorithm>

#include "callgrind_writer.h"
#include "dot_writer.h"
#include "flamegraph_writer.h"
#include "folded_writer.h"
#include "profile_transforms.h"
#include "proto_writer.h"
#include "pstats_writer.h"
#include "source_writer.h"

namespace yep {

const std::vector<std::string>& format_names() {
  static const std::vector<std::string> names = {"text",   "pstats", "source", "callgrind",
                                                 "proto",  "folded", "html",   "dot"};
  return names;
}

bool is_binary_format(const std::string& format) { return format == "pstats" || format == "proto"; }

std::string format_suffix(const std::string& format) {
  if (format == "proto") return ".pb.gz";
  if (format == "text" || format == "source") return ".txt";
  return "." + format;
}

std::string render(const Profile& original, const ReportOptions& o) {
  const auto& names = format_names();
  if (std::find(names.begin(), names.end(), o.format) == names.end()) {
    std::string list;
    for (const std::string& n : names) list += (list.empty() ? "" : ", ") + n;
    throw ProfileError("unknown format '" + o.format + "': use one of " + list);
  }
  Profile shown = o.interpreter ? original : hide_interpreter_frames(original);
  if (o.threads) shown = split_by_thread(shown);
  if (o.processes) shown = split_by_process(shown);
  Profile filtered = filter_samples(shown, o.focus, o.ignore);
  const Profile p = o.lines ? by_lines(filtered) : std::move(filtered);
  const size_t vi = p.value_index(o.sample_index);
  if (o.format == "text") {
    TextOptions t;
    t.sort = o.sort;
    t.nodecount = o.nodecount;
    t.sample_index = static_cast<int>(vi);
    return write_text(p, t);
  }
  if (o.format == "pstats") return write_pstats(p, vi);
  if (o.format == "source") {
    SourceOptions s;
    s.list = o.list;
    if (o.nodecount) s.top = o.nodecount;
    return write_source(p, vi, s);
  }
  if (o.format == "callgrind") return write_callgrind(p);
  if (o.format == "proto") return write_proto(p, o.object_addresses);
  if (o.format == "folded") return write_folded(p, vi);
  if (o.format == "dot") {
    if (!(o.nodefraction >= 0 && o.nodefraction <= 1) || !(o.edgefraction >= 0 && o.edgefraction <= 1))
      throw ProfileError("--nodefraction and --edgefraction are shares of the total, from 0 to 1");
    DotOptions d;
    d.nodecount = o.nodecount;
    d.nodefraction = o.nodefraction;
    d.edgefraction = o.edgefraction;
    d.title = o.title;
    return write_dot(p, vi, d);
  }
  return write_flamegraph_html(p, vi, o.title.empty() ? "yep flame graph" : o.title);
}

}  // namespace yep
