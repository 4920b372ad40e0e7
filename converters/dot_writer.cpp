#include "dot_writer.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <map>
#include <set>
#include <utility>
#include <vector>

#include "function_name.h"
#include "short_paths.h"
#include "value_format.h"

namespace yep {

namespace {

// A frame of a sample, root first: a node (function id - 1) and whether its
// caller is the same location's outer line (the call was inlined).
struct Frame {
  size_t node;
  bool inlined;
};

// flat and cum over all samples: in a comparison (Profile::diff) the change,
// new - base, as the base's samples are negated; base_flat and base_cum are
// then the base's own (positive) figures.
struct Node {
  int64_t flat = 0, cum = 0;
  int64_t base_flat = 0, base_cum = 0;
};

struct Edge {
  int64_t weight = 0;
  bool residual = false;  // some sample went through dropped nodes between the two
  bool inlined = true;    // every sample's call was inlined
};

// Text inside a dot quoted string: backslash and quote escaped (so no "\N"
// or "\G" of the profile's becomes a dot escape), control characters and
// invalid UTF-8 bytes replaced.
std::string dot_escape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (c == '"' || c == '\\') out += '\\';
      out += (c < 0x20 || c == 0x7f) ? ' ' : static_cast<char>(c);
      ++i;
      continue;
    }
    size_t n = (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2 : (c & 0xf8) == 0xf0 ? 3 : 0;
    bool valid = n > 0;
    uint32_t cp = c & (0x3f >> n);
    for (size_t k = 1; valid && k <= n; ++k) {
      if (i + k >= s.size() || (static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) valid = false;
      else cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3f);
    }
    static const uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (valid && (cp < kMin[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))) valid = false;
    if (valid) {
      out.append(s, i, n + 1);
      i += n + 1;
    } else {
      out += "\xef\xbf\xbd";  // U+FFFD
      ++i;
    }
  }
  return out;
}

std::string percent(int64_t part, int64_t total, bool sign = false) {
  char buf[32];
  std::snprintf(buf, sizeof buf, sign ? "%+.2f%%" : "%.2f%%", total ? 100.0 * part / total : 0.0);
  return buf;
}

// pprof's dotColor: score in [-1, 1], grey at 0, red towards 1 (green
// towards -1: a shrinking difference of two profiles); light for a fill.
std::string dot_color(double score, bool background) {
  const double shift = 0.7;
  double saturation = background ? 0.1 : 1.0, value = background ? 0.93 : 0.7;
  score = std::max(-1.0, std::min(1.0, score));
  if (std::fabs(score) < 0.2) saturation *= std::fabs(score) / 0.2;
  if (score > 0) score = std::pow(score, 1.0 - shift);
  if (score < 0) score = -std::pow(-score, 1.0 - shift);
  double r, g;
  if (score < 0) {
    g = value;
    r = value * (1 + saturation * score);
  } else {
    r = value;
    g = value * (1 - saturation * score);
  }
  const double b = value * (1 - saturation);
  char buf[16];
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x", static_cast<unsigned>(r * 255.0), static_cast<unsigned>(g * 255.0),
                static_cast<unsigned>(b * 255.0));
  return buf;
}

// The frames of a sample, root first; frames the symbolizer left without
// lines are skipped (the text report has no row for them either).
void sample_frames(const Profile& p, const Sample& s, std::vector<Frame>& out) {
  out.clear();
  for (size_t i = s.location_ids.size(); i-- > 0;) {
    const std::vector<Line>& lines = p.location(s.location_ids[i]).lines;
    for (size_t k = lines.size(); k-- > 0;) out.push_back({lines[k].function_id - 1, k + 1 != lines.size()});
  }
}

// pprof's RemoveRedundantEdges: whether dst is still reachable from src
// without the edge src -> dst, walking callers (`callers[n]`: the nodes with
// an edge into n).
bool redundant(const std::map<size_t, std::set<size_t>>& callers, size_t src, size_t dst) {
  std::set<size_t> seen = {dst};
  std::deque<size_t> queue = {dst};
  while (!queue.empty()) {
    const size_t n = queue.front();
    queue.pop_front();
    const auto in = callers.find(n);
    if (in == callers.end()) continue;
    for (size_t from : in->second) {
      if ((from == src && n == dst) || seen.count(from)) continue;
      if (from == src) return true;
      seen.insert(from);
      queue.push_back(from);
    }
  }
  return false;
}

}  // namespace

std::string write_dot(const Profile& p, size_t vi, const DotOptions& o) {
  if (vi >= p.sample_types.size()) throw ProfileError("sample index " + std::to_string(vi) + " out of range");
  const ValueType& type = p.sample_types[vi];
  // A comparison's figures are changes: signed, in the text diff's units.
  const auto fmt = [&](int64_t v) { return p.diff ? format_change(v, type.unit, true) : format_value(v, type.unit); };
  const auto plain = [&](int64_t v) { return format_change(v, type.unit, false); };

  // The whole graph's nodes first: what to keep is decided on their cum.
  std::vector<Node> all(p.functions.size());
  std::vector<Frame> frames;
  std::vector<size_t> last_sample(p.functions.size(), SIZE_MAX);
  int64_t total = 0, samples = 0, base_total = 0;
  for (size_t si = 0; si < p.samples.size(); ++si) {
    const Sample& s = p.samples[si];
    const int64_t v = s.values[vi];
    const bool base = p.in_base(s);
    total += v;
    if (base) base_total -= v;
    if (type.unit == "nanoseconds" && p.sample_types[0].unit == "count") samples += s.values[0];
    sample_frames(p, s, frames);
    if (frames.empty()) continue;
    all[frames.back().node].flat += v;
    if (base) all[frames.back().node].base_flat -= v;
    for (const Frame& f : frames)
      if (last_sample[f.node] != si) {
        last_sample[f.node] = si;
        all[f.node].cum += v;
        if (base) all[f.node].base_cum -= v;
      }
  }
  // What shares are of: the total; in a comparison the base's (pprof's too),
  // so a change reads as a share of what it was, as in the text diff (the
  // new total when the base is empty).
  const int64_t reference = p.diff ? (base_total ? base_total : total - base_total) : total;
  const int64_t node_cutoff = std::llabs(static_cast<int64_t>(static_cast<double>(reference) * o.nodefraction));
  const int64_t edge_cutoff = std::llabs(static_cast<int64_t>(static_cast<double>(reference) * o.edgefraction));
  std::vector<size_t> order;
  size_t present = 0;
  for (size_t n = 0; n < all.size(); ++n) {
    if (all[n].cum == 0 && all[n].flat == 0 && last_sample[n] == SIZE_MAX) continue;
    ++present;
    if (std::llabs(all[n].cum) >= node_cutoff) order.push_back(n);
  }
  const size_t dropped_nodes = present - order.size();
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const auto key = [&](size_t n) { return std::make_pair(std::llabs(all[n].cum), std::llabs(all[n].flat)); };
    if (key(a) != key(b)) return key(a) > key(b);
    return display_name(p.functions[a]) < display_name(p.functions[b]);
  });
  const size_t candidates = order.size();
  if (o.nodecount && order.size() > o.nodecount) order.resize(o.nodecount);
  std::vector<int> id(p.functions.size(), 0);  // dot node number, 0 = dropped
  for (size_t i = 0; i < order.size(); ++i) id[order[i]] = static_cast<int>(i + 1);

  // The edges between kept nodes, each counted once per sample.
  std::map<std::pair<size_t, size_t>, Edge> edges;
  std::set<std::pair<size_t, size_t>> seen;
  for (const Sample& s : p.samples) {
    const int64_t v = s.values[vi];
    sample_frames(p, s, frames);
    seen.clear();
    size_t parent = SIZE_MAX;
    bool residual = false;
    for (const Frame& f : frames) {
      if (!id[f.node]) {
        residual = true;
        continue;
      }
      if (parent != SIZE_MAX && parent != f.node && seen.insert({parent, f.node}).second) {
        Edge& e = edges[{parent, f.node}];
        e.weight += v;
        e.residual = e.residual || residual;
        e.inlined = e.inlined && f.inlined && !residual;
      }
      parent = f.node;
      residual = false;
    }
  }
  size_t dropped_edges = 0;
  for (auto it = edges.begin(); it != edges.end();) {
    if (std::llabs(it->second.weight) < edge_cutoff) {
      it = edges.erase(it);
      ++dropped_edges;
    } else {
      ++it;
    }
  }
  // A residual edge where a path of other edges already joins the two says
  // nothing more; the lightest go first, never past a direct call.
  std::map<size_t, std::set<size_t>> callers;
  for (const auto& [key, edge] : edges) callers[key.second].insert(key.first);
  for (size_t i = order.size(); i-- > 0;) {
    std::vector<std::pair<size_t, Edge>> in;
    for (size_t from : callers[order[i]]) in.push_back({from, edges.at({from, order[i]})});
    std::stable_sort(in.begin(), in.end(), [](const auto& a, const auto& b) {
      return std::llabs(a.second.weight) > std::llabs(b.second.weight);
    });
    for (size_t j = in.size(); j-- > 0;) {
      if (!in[j].second.residual) break;
      if (redundant(callers, in[j].first, order[i])) {
        edges.erase({in[j].first, order[i]});
        callers[order[i]].erase(in[j].first);
      }
    }
  }

  std::string out = "digraph \"" + dot_escape(o.title.empty() ? "yep" : o.title) + "\" {\n";
  out += "node [style=filled fillcolor=\"#f8f8f8\"]\n";
  // The legend.
  std::vector<std::string> legend;
  if (!o.title.empty()) legend.push_back(o.title);
  legend.push_back("Type: " + type.type);
  for (const std::string& c : p.comments) legend.push_back(c);
  if (p.diff) {
    legend.push_back("Comparison: new " + plain(total + base_total) + ", base " + plain(base_total) + ", change " +
                     fmt(total) + " (" + percent(total, reference, true) + " of the base)");
    legend.push_back("Figures are changes (new - base), percentages of the base's total; each node's base -> new");
    legend.push_back("Red grew, green shrank, grey unchanged; size by the change");
  } else {
    legend.push_back("Total: " + fmt(total) +
                     (type.unit == "nanoseconds" ? " in " + std::to_string(samples) + " samples" : ""));
  }
  int64_t shown_flat = 0;
  for (size_t n : order) shown_flat += all[n].flat;
  legend.push_back("Showing nodes accounting for " + fmt(shown_flat) + ", " + percent(shown_flat, reference, p.diff) +
                   " of " + (p.diff ? "the base's " + plain(reference) : fmt(total)) + " total");
  const std::string at_most = p.diff ? " |change| <= " : " <= ";
  const auto cutoff = [&](int64_t v) { return p.diff ? plain(v) : fmt(v); };
  if (dropped_nodes)
    legend.push_back("Dropped " + std::to_string(dropped_nodes) + " nodes (cum" + at_most + cutoff(node_cutoff) + ")");
  if (dropped_edges)
    legend.push_back("Dropped " + std::to_string(dropped_edges) + " edges (freq" + at_most + cutoff(edge_cutoff) + ")");
  if (order.size() < candidates)
    legend.push_back("Showing top " + std::to_string(order.size()) + " nodes out of " + std::to_string(candidates));
  out += "subgraph cluster_L { \"legend\" [shape=box fontsize=16 label=\"";
  for (const std::string& line : legend) out += dot_escape(line) + "\\l";
  out += "\"] }\n";

  // The nodes.
  std::vector<std::string> files;
  for (const Function& f : p.functions) files.push_back(f.filename);
  const ShortPaths paths(files);
  int64_t max_flat = 0;
  for (size_t n : order) max_flat = std::max<int64_t>(max_flat, std::llabs(all[n].flat));
  const double scale = reference ? static_cast<double>(std::llabs(reference)) : 1.0;
  for (size_t n : order) {
    const Function& f = p.functions[n];
    const Node& node = all[n];
    std::string label = dot_escape(display_name(f)) + "\\n";
    if (!f.filename.empty())
      label += dot_escape(paths(f.filename) + (f.start_line > 0 ? ":" + std::to_string(f.start_line) : "")) + "\\n";
    label += node.flat ? fmt(node.flat) + " (" + percent(node.flat, reference, p.diff) + ")" : "0";
    if (node.cum != node.flat)
      label += (node.flat ? "\\nof " : " of ") + fmt(node.cum) + " (" + percent(node.cum, reference, p.diff) + ")";
    // A comparison's node also says what its cum was and is.
    const std::string before_after = plain(node.base_cum) + " \xe2\x86\x92 " + plain(node.base_cum + node.cum);
    if (p.diff) label += "\\ncum " + before_after;
    int fontsize = 8;
    if (max_flat && node.flat)
      fontsize += static_cast<int>(std::ceil(16.0 * std::sqrt(std::llabs(node.flat) / static_cast<double>(max_flat))));
    const double share = node.cum / scale;
    out += "N" + std::to_string(id[n]) + " [label=\"" + label + "\" id=\"node" + std::to_string(id[n]) +
           "\" fontsize=" + std::to_string(fontsize) + " shape=box tooltip=\"" + dot_escape(display_name(f)) + " (" +
           fmt(node.cum) + (p.diff ? ": " + before_after : "") + ")\" color=\"" + dot_color(share, false) + "\" fillcolor=\"" + dot_color(share, true) +
           "\"]\n";
  }

  // The edges, heaviest first (a hint to the layout).
  std::vector<std::pair<std::pair<size_t, size_t>, Edge>> sorted(edges.begin(), edges.end());
  std::stable_sort(sorted.begin(), sorted.end(), [&](const auto& a, const auto& b) {
    if (std::llabs(a.second.weight) != std::llabs(b.second.weight))
      return std::llabs(a.second.weight) > std::llabs(b.second.weight);
    return std::make_pair(id[a.first.first], id[a.first.second]) <
           std::make_pair(id[b.first.first], id[b.first.second]);
  });
  for (const auto& [key, e] : sorted) {
    const std::string w = fmt(e.weight);
    std::string attr = "label=\" " + w + (e.inlined ? "\\n (inline)" : "") + "\"";
    if (reference) {
      const int64_t weight = 1 + std::min<int64_t>(std::llabs(e.weight * 100 / reference), 100);
      const int64_t width = 1 + std::min<int64_t>(std::llabs(e.weight * 5 / reference), 5);
      if (weight > 1) attr += " weight=" + std::to_string(weight);
      if (width > 1) attr += " penwidth=" + std::to_string(width);
      attr += " color=\"" + dot_color(e.weight / scale, false) + "\"";
    }
    const std::string tooltip = "\"" + dot_escape(display_name(p.functions[key.first])) +
                                (e.residual ? " ... " : " -> ") + dot_escape(display_name(p.functions[key.second])) +
                                " (" + w + ")\"";
    attr += " tooltip=" + tooltip + " labeltooltip=" + tooltip;
    if (e.residual) attr += " style=\"dotted\"";
    out += "N" + std::to_string(id[key.first]) + " -> N" + std::to_string(id[key.second]) + " [" + attr + "]\n";
  }
  out += "}\n";
  return out;
}

}  // namespace yep
