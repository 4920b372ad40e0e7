#include "flamegraph_writer.h"

#include <algorithm>
#include <cctype>
#include <cinttypes>
#include <climits>
#include <cstdio>
#include <map>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "function_name.h"

namespace yep {

namespace {

// ---- escaping ---------------------------------------------------------------

// Appends the UTF-8 sequence of code point cp.
void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

// Decodes the code point at s[i], advancing i; invalid UTF-8 (stray or
// truncated bytes, overlong forms, surrogates) gives U+FFFD for one byte.
uint32_t next_code_point(const std::string& s, size_t& i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = byte(i);
  size_t n = 0;
  uint32_t cp = 0, min = 0;
  if (c < 0x80) { ++i; return c; }
  if ((c & 0xe0) == 0xc0) { n = 1; cp = c & 0x1f; min = 0x80; }
  else if ((c & 0xf0) == 0xe0) { n = 2; cp = c & 0x0f; min = 0x800; }
  else if ((c & 0xf8) == 0xf0) { n = 3; cp = c & 0x07; min = 0x10000; }
  else { ++i; return 0xfffd; }
  for (size_t k = 1; k <= n; ++k) {
    if (i + k >= s.size() || (byte(i + k) & 0xc0) != 0x80) { ++i; return 0xfffd; }
    cp = (cp << 6) | (byte(i + k) & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) { ++i; return 0xfffd; }
  i += n + 1;
  return cp;
}

// A JSON string literal that is also safe inside an HTML <script> element:
// no '<', '>' or '&' (so never "</script" or "<!--"), no U+2028/U+2029,
// valid UTF-8.
std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size();) {
    const uint32_t cp = next_code_point(s, i);
    char buf[8];
    switch (cp) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (cp < 0x20 || cp == 0x7f || cp == '<' || cp == '>' || cp == '&' || cp == 0x2028 || cp == 0x2029) {
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(cp));
          out += buf;
        } else {
          append_utf8(out, cp);
        }
    }
  }
  return out + "\"";
}

// Text for HTML element content or a quoted attribute value.
std::string html_escape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    const uint32_t cp = next_code_point(s, i);
    switch (cp) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default:
        if (cp < 0x20 || cp == 0x7f) out += ' ';
        else append_utf8(out, cp);
    }
  }
  return out;
}

// ---- the call tree ----------------------------------------------------------

bool ends_with(const std::string& s, const char* suffix) {
  const std::string t(suffix);
  return s.size() >= t.size() && s.compare(s.size() - t.size(), t.size(), t) == 0;
}

bool all_hex(const std::string& s, size_t from) {
  if (from >= s.size()) return false;
  for (size_t i = from; i < s.size(); ++i)
    if (!std::isxdigit(static_cast<unsigned char>(s[i]))) return false;
  return true;
}

// The symbolizer's fallback names: "<object>+0x<hex>" and "0x<hex>".
bool is_unsymbolized_name(const std::string& name) {
  if (name.compare(0, 2, "0x") == 0 && all_hex(name, 2)) return true;
  const size_t plus = name.rfind("+0x");
  return plus != std::string::npos && plus > 0 && all_hex(name, plus + 3);
}

struct Frame {
  std::string name;  // short display name
  std::string full;  // as the profile has it
  std::string file;
  int64_t line = 0;
  const char* kind = "native";  // native, python, unsymbolized, root
};

struct Node {
  uint32_t frame = 0;
  int64_t value = 0;  // the (new) profile's
  int64_t base = 0;   // a comparison's base, as a positive figure
  std::vector<uint32_t> children;
};

class TreeBuilder {
 public:
  explicit TreeBuilder(const Profile& p) : p_(p), function_frame_(p.functions.size(), 0) {
    Frame root;
    root.name = root.full = "all";
    root.kind = "root";
    frames_.push_back(root);
    nodes_.push_back(Node{});
  }

  // Adds a sample's value `v` (the new profile's) and `b` (the base's, in
  // a comparison) to every node on its stack.
  void add(const Sample& s, int64_t v, int64_t b) {
    uint32_t node = 0;
    const auto credit = [&](uint32_t n) {
      nodes_[n].value += v;
      nodes_[n].base += b;
    };
    credit(0);
    if (s.location_ids.empty()) {
      node = child(node, unsymbolized_frame("[no stack]"));
      credit(node);
      return;
    }
    for (auto id = s.location_ids.rbegin(); id != s.location_ids.rend(); ++id) {
      const Location& loc = p_.location(*id);
      if (loc.lines.empty()) {
        node = child(node, unsymbolized_frame(location_name(loc)));
        credit(node);
        continue;
      }
      for (auto line = loc.lines.rbegin(); line != loc.lines.rend(); ++line) {  // outer caller first
        node = child(node, function_frame(line->function_id));
        credit(node);
      }
    }
  }

  const std::vector<Frame>& frames() const { return frames_; }

  // Room for up to `frames` tree nodes (the frames of all samples: an upper
  // bound), so building the tree never rehashes.
  void reserve(size_t frames) {
    children_.reserve(frames);
    nodes_.reserve(frames + 1);
  }

  // Nodes as [depth, frame, value] (with `diff`, [depth, frame, value, base])
  // in depth-first order, heaviest child first.
  std::string nodes_json(bool diff) {
    std::string out;
    std::vector<std::pair<uint32_t, uint32_t>> stack{{0, 0}};  // node, depth
    char buf[96];
    while (!stack.empty()) {
      const auto [n, depth] = stack.back();
      stack.pop_back();
      Node& node = nodes_[n];
      std::snprintf(buf, sizeof buf, "%s[%" PRIu32 ",%" PRIu32 ",%" PRId64, out.empty() ? "" : ",\n", depth,
                    node.frame, node.value);
      out += buf;
      if (diff) out += "," + std::to_string(node.base);
      out += "]";
      std::sort(node.children.begin(), node.children.end(), [&](uint32_t a, uint32_t b) {
        const Node &x = nodes_[a], &y = nodes_[b];
        if (x.value != y.value) return x.value > y.value;
        if (x.base != y.base) return x.base > y.base;
        const Frame &fx = frames_[x.frame], &fy = frames_[y.frame];
        if (fx.name != fy.name) return fx.name < fy.name;
        return x.frame < y.frame;
      });
      for (auto c = node.children.rbegin(); c != node.children.rend(); ++c) stack.push_back({*c, depth + 1});
    }
    return out;
  }

 private:
  uint32_t child(uint32_t parent, uint32_t frame) {
    const uint64_t key = (static_cast<uint64_t>(parent) << 32) | frame;
    auto [it, inserted] = children_.try_emplace(key, static_cast<uint32_t>(nodes_.size()));
    if (inserted) {
      Node n;
      n.frame = frame;
      nodes_.push_back(n);
      nodes_[parent].children.push_back(it->second);
    }
    return it->second;
  }

  uint32_t function_frame(uint64_t function_id) {
    uint32_t& index = function_frame_[function_id - 1];
    if (index) return index;
    const Function& f = p_.function(function_id);
    Frame frame;
    frame.full = f.name.empty() ? "??" : f.name;
    frame.file = f.filename;
    frame.line = f.start_line;
    if (ends_with(f.filename, ".py") || f.system_name.rfind("py:", 0) == 0)
      frame.kind = "python";
    else
      frame.kind = f.filename.empty() && is_unsymbolized_name(f.name) ? "unsymbolized" : "native";
    frame.name = std::string_view(frame.kind) == "python" ? frame.full : display_name(f);  // "<module>" is not a C++ template
    index = static_cast<uint32_t>(frames_.size());
    frames_.push_back(frame);
    return index;
  }

  uint32_t unsymbolized_frame(const std::string& name) {
    auto [it, inserted] = unsymbolized_.try_emplace(name, static_cast<uint32_t>(frames_.size()));
    if (inserted) {
      Frame frame;
      frame.name = frame.full = name;
      frame.kind = "unsymbolized";
      frames_.push_back(frame);
    }
    return it->second;
  }

  std::string location_name(const Location& loc) const {
    char buf[64];
    const Mapping* m = p_.mapping(loc.mapping_id);
    if (m && !m->filename.empty()) {
      size_t slash = m->filename.rfind('/');
      std::snprintf(buf, sizeof buf, "+0x%" PRIx64, loc.address - m->memory_start + m->file_offset);
      return m->filename.substr(slash == std::string::npos ? 0 : slash + 1) + buf;
    }
    std::snprintf(buf, sizeof buf, "0x%" PRIx64, loc.address);
    return buf;
  }

  const Profile& p_;
  std::vector<Frame> frames_;
  std::vector<Node> nodes_;
  std::vector<uint32_t> function_frame_;  // function id - 1 -> frame index (0: none yet)
  std::map<std::string, uint32_t> unsymbolized_;
  std::unordered_map<uint64_t, uint32_t> children_;  // (parent << 32 | frame) -> node
};

// ---- the page ---------------------------------------------------------------

const char kHead[] = R"YEP(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="yep">
)YEP";

const char kStyle[] = R"YEP(<style>
* { box-sizing: border-box; }
html, body { height: 100%; margin: 0; }
body {
  display: flex; flex-direction: column;
  font: 14px/1.4 system-ui, "Segoe UI", "DejaVu Sans", Arial, sans-serif;
  color: #1c2330; background: #fff;
}
header { padding: 10px 16px 8px; background: #f6f7f9; border-bottom: 1px solid #dfe3e8; }
h1 { margin: 0; font-size: 18px; font-weight: 600; overflow-wrap: anywhere; }
#summary { margin-top: 1px; font-size: 15px; }
#comments { margin: 3px 0 0; padding: 0; list-style: none; font-size: 12.5px; color: #566070; }
#controls { display: flex; flex-wrap: wrap; align-items: center; gap: 8px 10px; margin-top: 8px; font-size: 13px; }
button, input { font: inherit; }
button {
  padding: 3px 10px; border: 1px solid #aeb6c2; border-radius: 4px;
  background: #fff; color: inherit; cursor: pointer;
}
button:hover:not(:disabled) { background: #eef1f5; }
button:disabled { opacity: .45; cursor: default; }
button[aria-pressed="true"] { background: #33425a; border-color: #33425a; color: #fff; }
.group { display: inline-flex; }
.group button:first-child { border-radius: 4px 0 0 4px; }
.group button:last-child { border-radius: 0 4px 4px 0; border-left: none; }
#search { width: 250px; padding: 3px 8px; border: 1px solid #aeb6c2; border-radius: 4px; }
#match { font-weight: 600; color: #8a1f8a; }
#legend { display: inline-flex; gap: 12px; margin-left: auto; color: #566070; }
#legend span::before {
  content: ""; display: inline-block; width: 11px; height: 11px; margin-right: 4px;
  vertical-align: -1px; border-radius: 2px; background: var(--swatch);
}
#help { color: #566070; }
#wrap { flex: 1; min-height: 0; overflow: auto; display: flex; flex-direction: column; padding: 8px 16px; }
#chart { position: relative; flex: none; font: 12px/17px system-ui, "DejaVu Sans", Arial, sans-serif; }
body.flame #chart { margin-top: auto; }
#empty { margin: 40px auto; color: #566070; }
.f {
  position: absolute; height: 17px; padding: 0 3px; overflow: hidden; white-space: nowrap;
  border-radius: 2px; color: #14171c; cursor: pointer;
}
.f:hover { box-shadow: inset 0 0 0 1px #1c2330; }
.f:focus { outline: 2px solid #1747c9; outline-offset: 0; z-index: 2; }
.f.anc { opacity: .55; }
body.searching .f:not(.m) { opacity: .3; }
#status {
  min-height: 27px; padding: 4px 16px; border-top: 1px solid #dfe3e8; background: #f6f7f9;
  font-size: 13px; white-space: nowrap; overflow: hidden; text-overflow: ellipsis;
}
#tooltip {
  position: fixed; z-index: 10; max-width: 600px; padding: 6px 9px; pointer-events: none;
  background: #fffdf4; border: 1px solid #cbbf8c; border-radius: 4px; box-shadow: 0 3px 10px rgba(0,0,0,.18);
  font-size: 12.5px; overflow-wrap: anywhere;
}
#tooltip[hidden] { display: none; }
#tooltip .name { font-weight: 600; font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; }
#tooltip .where, #tooltip .kind { color: #566070; }
</style>
</head>
)YEP";

const char kBody[] = R"YEP(<body class="flame">
<header>
  <h1 id="title"></h1>
  <div id="summary"></div>
  <ul id="comments"></ul>
  <div id="controls">
    <span class="group" role="group" aria-label="Orientation">
      <button id="flame" type="button" aria-pressed="true" title="Root at the bottom">Flame graph</button>
      <button id="icicle" type="button" aria-pressed="false" title="Root at the top">Icicle</button>
    </span>
    <button id="reset" type="button" disabled>Reset zoom</button>
    <input id="search" type="search" placeholder="Search frames (Ctrl-F)" aria-label="Search frames" autocomplete="off">
    <span id="match" aria-live="polite"></span>
    <span id="legend" aria-hidden="true">
      <span style="--swatch: hsl(24, 85%, 60%)">C/C++</span>
      <span style="--swatch: hsl(150, 48%, 58%)">Python</span>
      <span style="--swatch: hsl(220, 6%, 74%)">unsymbolized</span>
      <span style="--swatch: hsl(292, 72%, 66%)">match</span>
    </span>
  </div>
</header>
<div id="wrap"><div id="chart" role="group" aria-label="Flame graph"></div></div>
<div id="status" aria-live="polite"></div>
<div id="tooltip" hidden></div>
<noscript><p>This flame graph needs JavaScript.</p></noscript>
)YEP";

const char kScript[] = R"YEP(<script>
"use strict";
(function () {
  const data = JSON.parse(document.getElementById("yep-data").textContent);
  const frames = data.frames;
  const N = data.nodes.length;
  const ROW = 18;          // pixels per stack level
  const MIN_WIDTH = 0.5;   // frames narrower than this (pixels) are not drawn

  // ---- the tree, from [depth, frame, value] in depth-first order ----
  const depth = new Int32Array(N), frame = new Int32Array(N), parent = new Int32Array(N), end = new Int32Array(N);
  const value = new Float64Array(N), start = new Float64Array(N), self = new Float64Array(N);
  const base = new Float64Array(N);  // a comparison's base value (data.diff), else 0
  {
    const path = [], cursor = [], open = [];
    for (let i = 0; i < N; i++) {
      const [d, f, v, b] = data.nodes[i];
      depth[i] = d; frame[i] = f; value[i] = v; self[i] = v; base[i] = b || 0;
      if (d === 0) { parent[i] = -1; start[i] = 0; }
      else { const p = path[d - 1]; parent[i] = p; start[i] = cursor[d - 1]; cursor[d - 1] += v; self[p] -= v; }
      path[d] = i; cursor[d] = start[i];
      while (open.length && depth[open[open.length - 1]] >= d) end[open.pop()] = i;
      open.push(i);
    }
    while (open.length) end[open.pop()] = N;
  }
  const total = N ? value[0] : 0, baseTotal = N ? base[0] : 0;
  // A comparison draws the new profile: frames only in the base have no
  // width and are left out; the header says how much of the base they hold
  // (the base value of each such frame whose parent is drawn).
  let baseOnly = 0;
  for (let i = 1; i < N; i++) if (value[i] === 0 && value[parent[i]] > 0) baseOnly += base[i];

  // ---- formatting ----
  function fmt(v) {
    if (data.unit === "nanoseconds") {
      const s = v / 1e9;
      return (Math.abs(s) >= 0.001 || s === 0 ? s.toFixed(3) : s.toPrecision(2)) + " s";
    }
    if (data.unit === "bytes") return (v / 1048576).toFixed(2) + " MiB";
    return String(v);
  }
  function pct(v, of) { return of ? (100 * v / of).toFixed(2) + "%" : "0.00%"; }
  function signed(v) { return (v > 0 ? "+" : "") + fmt(v); }
  function signedPct(v, of) { return (v > 0 ? "+" : "") + pct(v, of); }
  function where(f) {
    const fr = frames[f];
    if (fr.file) return fr.file + (fr.line > 0 ? ":" + fr.line : "");
    return fr.kind === "unsymbolized" ? "no symbol or debug info" : "";
  }
  const KIND = { native: "native code (C/C++)", python: "Python", unsymbolized: "unsymbolized address", root: "all samples" };

  // ---- colours: by kind, hue from a hash of the name so a function keeps its colour ----
  function hash(s) {
    let h = 2166136261;
    for (let k = 0; k < s.length; k++) { h ^= s.charCodeAt(k); h = Math.imul(h, 16777619); }
    return (h >>> 0) / 4294967296;
  }
  const MATCH = "hsl(292, 72%, 66%)";
  // A comparison's colours, per node: red where it grew, blue where it
  // shrank, saturation by the change relative to the frame's own size
  // (r = |new - base| / max(new, base): 1 for a frame that is new or gone,
  // 0.5 for one that doubled or halved; saturation sqrt(r), so a doubling
  // reads clearly red), so a frame's colour says how much it changed
  // whatever its width; grey when it did not change.
  function diffColour(i) {
    const most = Math.max(value[i], base[i]);
    const r = most > 0 ? (value[i] - base[i]) / most : 0, s = Math.sqrt(Math.min(1, Math.abs(r)));
    return "hsl(" + (r >= 0 ? 0 : 220) + ", " + (6 + 80 * s).toFixed(0) + "%, " + (84 - 22 * s).toFixed(0) + "%)";
  }
  const colour = frames.map(function (fr) {
    const a = hash(fr.name), b = hash(fr.name + "~");
    switch (fr.kind) {
      case "python": return "hsl(" + (100 + 105 * a).toFixed(0) + ", 48%, " + (57 + 9 * b).toFixed(0) + "%)";
      case "unsymbolized": return "hsl(220, 6%, " + (70 + 8 * b).toFixed(0) + "%)";
      case "root": return "hsl(220, 14%, 80%)";
      default: return "hsl(" + (4 + 46 * a).toFixed(0) + ", " + (78 + 14 * b).toFixed(0) + "%, " + (57 + 8 * b).toFixed(0) + "%)";
    }
  });

  // ---- labels shortened to fit ----
  const chart = document.getElementById("chart"), wrap = document.getElementById("wrap");
  const measure = document.createElement("canvas").getContext("2d");
  {
    const cs = getComputedStyle(chart);
    measure.font = cs.fontSize + " " + cs.fontFamily;
  }
  const charWidth = new Map();
  function textWidth(s) {
    let w = 0;
    for (const c of s) {
      let cw = charWidth.get(c);
      if (cw === undefined) { cw = measure.measureText(c).width; charWidth.set(c, cw); }
      w += cw;
    }
    return w;
  }
  function fit(name, room) {
    if (room < 14) return "";
    if (textWidth(name) <= room) return name;
    let s = name;   // "std::vector::push_back" -> "vector::push_back" -> "push_back"
    for (let k = s.indexOf("::"); k > 0 && k + 2 < s.length; k = s.indexOf("::")) {
      s = s.slice(k + 2);
      if (textWidth(s) <= room) return s;
    }
    let lo = 0, hi = s.length;  // longest prefix that fits with "…"
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (textWidth(s.slice(0, mid) + "\u2026") <= room) lo = mid; else hi = mid - 1;
    }
    return lo >= 2 ? s.slice(0, lo) + "\u2026" : "";
  }

  // ---- header ----
  document.getElementById("title").textContent = data.title || "Flame graph";
  const typeName = data.type === "cpu" ? "CPU" : data.type;
  document.getElementById("summary").textContent = data.diff
    ? "Comparison with a base (named below): " + fmt(total) + " " + typeName + " now, base " + fmt(baseTotal) +
      ", change " + signed(total - baseTotal) + " (" + signedPct(total - baseTotal, baseTotal) + " of the base). " +
      "Widths: the new profile. Red grows, blue shrinks, grey unchanged." +
      (baseOnly > 0 ? " Not drawn: " + fmt(baseOnly) + " of the base in frames the new profile does not have." : "")
    : data.type === "samples" && data.unit === "count" ? fmt(total) + " samples"
      : fmt(total) + " " + typeName + (data.samples !== null ? ", " + data.samples + " samples" : "");
  if (data.diff) {
    document.getElementById("legend").innerHTML = "";
    for (const [text, swatch] of [["grew", "hsl(0, 86%, 62%)"], ["shrank", "hsl(220, 86%, 62%)"],
                                  ["unchanged", "hsl(0, 6%, 84%)"], ["match", MATCH]]) {
      const span = document.createElement("span");
      span.style.setProperty("--swatch", swatch);
      span.textContent = text;
      document.getElementById("legend").appendChild(span);
    }
  }
  const comments = document.getElementById("comments");
  for (const c of data.comments) {
    const li = document.createElement("li");
    li.textContent = c;
    comments.appendChild(li);
  }

  // ---- state and drawing ----
  let zoom = 0, icicle = false, matched = null;
  let elements = new Map(), rows = [], drawnWidth = 0;
  const status = document.getElementById("status"), tooltip = document.getElementById("tooltip");
  const resetButton = document.getElementById("reset"), searchBox = document.getElementById("search");
  const matchText = document.getElementById("match");

  function render(keepScroll, again) {
    chart.textContent = "";
    elements = new Map();
    rows = [];
    if (!N || total === 0) {
      const p = document.createElement("p");
      p.id = "empty";
      p.textContent = "This profile has no samples.";
      chart.style.height = "auto";
      chart.appendChild(p);
      return;
    }
    const W = drawnWidth = chart.clientWidth, scale = value[zoom] > 0 ? W / value[zoom] : 0;
    const items = [];
    for (let a = parent[zoom]; a >= 0; a = parent[a]) items.unshift([a, 0, W, true]);
    let deepest = depth[zoom];
    for (let i = zoom; i < end[zoom];) {
      const w = i === zoom ? W : value[i] * scale;
      if (w < MIN_WIDTH) { i = end[i]; continue; }
      items.push([i, (start[i] - start[zoom]) * scale, w, false]);
      if (depth[i] > deepest) deepest = depth[i];
      i++;
    }
    chart.style.height = (deepest + 1) * ROW + "px";
    const fragment = document.createDocumentFragment();
    for (const [i, x, w, ancestor] of items) {
      const f = frame[i], fr = frames[f], d = depth[i], hit = matched !== null && matched[f] === 1;
      const el = document.createElement("div");
      el.className = "f k-" + fr.kind + (ancestor ? " anc" : "") + (hit ? " m" : "");
      el.style.cssText = "left:" + x.toFixed(1) + "px;top:" + ((icicle ? d : deepest - d) * ROW) +
        "px;width:" + Math.max(w - 1, 1).toFixed(1) + "px;" +
        (w < 8 ? "padding:0;" : "") +  // a box narrower than its padding would stick out past its end
        "background:" +
        (hit ? MATCH : data.diff ? diffColour(i) : colour[f]);
      el.tabIndex = 0;
      el.dataset.i = i;
      el.setAttribute("role", "button");
      el.setAttribute("aria-label", fr.full + ", " + fmt(value[i]) + ", " + pct(value[i], total) +
        (data.diff ? ", base " + fmt(base[i]) + ", change " + signed(value[i] - base[i]) : ""));
      const label = fit(fr.name, w - 7);
      if (label) el.textContent = label;
      fragment.appendChild(el);
      elements.set(i, el);
      (rows[d] || (rows[d] = [])).push(i);
    }
    chart.appendChild(fragment);
    // The new height brought or took away a scroll bar: lay out again at
    // the width the chart has now (once: the height stays the same).
    if (chart.clientWidth !== W && !again) return render(keepScroll, true);
    if (!keepScroll) wrap.scrollTop = icicle ? 0 : wrap.scrollHeight;
    resetButton.disabled = zoom === 0;
    hideTooltip();  // the frame it described was redrawn
  }

  function describe(i) {
    const fr = frames[frame[i]];
    let text = fmt(value[i]) + ", " + pct(value[i], total) + " of total";
    if (zoom !== 0 && i !== zoom && elements.has(i) && !elements.get(i).classList.contains("anc"))
      text += ", " + pct(value[i], value[zoom]) + " of " + frames[frame[zoom]].name;
    if (data.diff)
      text = "new " + text + "; base " + fmt(base[i]) + "; change " + signed(value[i] - base[i]) + ", " +
        (base[i] ? signedPct(value[i] - base[i], base[i]) + " of its base, " : "not in the base, ") +
        signedPct(value[i] - base[i], baseTotal) + " of the base's total";
    return { name: fr.full, where: where(frame[i]), value: text,
             self: self[i] !== value[i] ? "self " + fmt(self[i]) + ", " + pct(self[i], total) : "",
             kind: KIND[fr.kind] || fr.kind };
  }

  function showStatus(i) {
    if (i < 0) {
      status.textContent = zoom === 0
        ? "Hover or Tab to a frame for details. Click or Enter zooms in, Escape resets, Ctrl-F searches."
        : "Zoomed into " + frames[frame[zoom]].name + ": " + fmt(value[zoom]) + ", " + pct(value[zoom], total) +
          " of total. Escape or Reset zoom goes back.";
      return;
    }
    const t = describe(i);
    status.textContent = [t.name, t.where, t.value, t.self].filter(Boolean).join("  \u2014  ");
  }

  let shown = -1;  // the node the tooltip describes
  function showTooltip(i, x, y) {
    if (i !== shown) {
      const t = describe(i);
      tooltip.textContent = "";
      for (const key of ["name", "where", "value", "self", "kind"]) {
        if (!t[key]) continue;
        const div = document.createElement("div");
        div.className = key;
        div.textContent = t[key];
        tooltip.appendChild(div);
      }
      tooltip.hidden = false;
      shown = i;
      showStatus(i);
    }
    const r = tooltip.getBoundingClientRect();
    let left = x + 14, top = y + 16;
    if (left + r.width > window.innerWidth - 4) left = Math.max(4, x - r.width - 14);
    if (top + r.height > window.innerHeight - 4) top = Math.max(4, y - r.height - 12);
    tooltip.style.left = left + "px";
    tooltip.style.top = top + "px";
  }

  function hideTooltip() { tooltip.hidden = true; shown = -1; showStatus(-1); }

  function zoomTo(i, focus) {
    zoom = i;
    hideTooltip();
    render(false);
    updateMatch();
    if (focus && elements.has(i)) elements.get(i).focus();
  }

  function setOrientation(toIcicle) {
    icicle = toIcicle;
    document.body.classList.toggle("flame", !icicle);
    document.getElementById("flame").setAttribute("aria-pressed", String(!icicle));
    document.getElementById("icicle").setAttribute("aria-pressed", String(icicle));
    render(false);
  }

  // ---- search ----
  function updateMatch() {
    if (matched === null) { matchText.textContent = ""; return; }
    let sum = 0, inView = 0, count = 0, covered = 0;
    for (let i = 0; i < N; i++) {
      if (matched[frame[i]] !== 1) continue;
      count++;
      if (i < covered) continue;  // inside a matched frame already counted
      sum += value[i];
      if (i >= zoom && i < end[zoom]) inView += value[i];
      covered = end[i];
    }
    matchText.textContent = count === 0 ? "No match"
      : "Matched " + fmt(sum) + ", " + pct(sum, total) + " of total" +
        (zoom !== 0 ? " (" + pct(inView, value[zoom]) + " of view)" : "") +
        ", " + count + (count === 1 ? " frame" : " frames");
  }

  function search(text) {
    const q = text.trim().toLowerCase();
    matched = null;
    if (q) {
      matched = new Uint8Array(frames.length);
      frames.forEach(function (fr, f) {
        if (fr.kind !== "root" && (fr.name.toLowerCase().includes(q) || fr.full.toLowerCase().includes(q))) matched[f] = 1;
      });
    }
    document.body.classList.toggle("searching", matched !== null);
    render(true);
    updateMatch();
  }

  // ---- events ----
  function frameIndex(target) {
    const el = target instanceof Element ? target.closest(".f") : null;
    return el ? Number(el.dataset.i) : -1;
  }
  chart.addEventListener("mousemove", function (e) {
    const i = frameIndex(e.target);
    if (i < 0) hideTooltip(); else showTooltip(i, e.clientX, e.clientY);
  });
  chart.addEventListener("mouseleave", hideTooltip);
  chart.addEventListener("click", function (e) {
    const i = frameIndex(e.target);
    if (i >= 0) zoomTo(i, false);
  });
  chart.addEventListener("focusin", function (e) {
    const i = frameIndex(e.target);
    if (i < 0) return;
    const r = e.target.getBoundingClientRect();
    showTooltip(i, r.left + Math.min(r.width / 2, 60), r.bottom);
  });
  chart.addEventListener("focusout", hideTooltip);
  chart.addEventListener("keydown", function (e) {
    const i = frameIndex(e.target);
    if (i < 0) return;
    let next = -1;
    if (e.key === "Enter" || e.key === " ") { e.preventDefault(); zoomTo(i, true); return; }
    if (e.key === (icicle ? "ArrowDown" : "ArrowUp")) {         // towards the leaves: heaviest child
      if (i + 1 < N && parent[i + 1] === i) next = i + 1;
    } else if (e.key === (icicle ? "ArrowUp" : "ArrowDown")) {  // towards the root
      next = parent[i];
    } else if (e.key === "ArrowLeft" || e.key === "ArrowRight") {
      const row = rows[depth[i]], k = row.indexOf(i) + (e.key === "ArrowLeft" ? -1 : 1);
      if (k >= 0 && k < row.length) next = row[k];
    } else {
      return;
    }
    e.preventDefault();
    if (next >= 0 && elements.has(next)) elements.get(next).focus();
  });
  document.addEventListener("keydown", function (e) {
    if ((e.ctrlKey || e.metaKey) && !e.altKey && (e.key === "f" || e.key === "F")) {
      e.preventDefault();
      searchBox.focus();
      searchBox.select();
    } else if (e.key === "Escape") {
      if (e.target === searchBox) {
        if (searchBox.value) { searchBox.value = ""; search(""); } else searchBox.blur();
        e.preventDefault();
      } else if (zoom !== 0) {
        zoomTo(0, document.activeElement !== null && chart.contains(document.activeElement));
      } else {
        hideTooltip();
      }
    }
  });
  searchBox.addEventListener("input", function () { search(searchBox.value); });
  resetButton.addEventListener("click", function () { zoomTo(0, false); });
  document.getElementById("flame").addEventListener("click", function () { setOrientation(false); });
  document.getElementById("icicle").addEventListener("click", function () { setOrientation(true); });
  // Redrawn when the chart's width changes: the window resized, or a
  // scroll bar came or went as a drawing changed the chart's height (the
  // frames, laid out in pixels, would stick out past the narrower chart).
  let pending = false;
  function widthChanged() {
    if (pending) return;
    pending = true;
    requestAnimationFrame(function () {
      pending = false;
      if (chart.clientWidth !== drawnWidth) render(true);
    });
  }
  window.addEventListener("resize", widthChanged);
  if (window.ResizeObserver) new ResizeObserver(widthChanged).observe(chart);

  render(false);
})();
</script>
</body>
</html>
)YEP";

}  // namespace

std::string write_flamegraph_html(const Profile& p, size_t value_index, const std::string& title) {
  // Profile::value_index throws the one-line error naming the sample types.
  const size_t vi = p.value_index(static_cast<int>(std::min<size_t>(value_index, INT_MAX)));
  const ValueType& type = p.sample_types[vi];

  TreeBuilder tree(p);
  int64_t samples = 0;
  bool has_samples = false;
  size_t samples_index = 0;
  for (size_t i = 0; i < p.sample_types.size(); ++i)
    if (p.sample_types[i].type == "samples" && p.sample_types[i].unit == "count") {
      has_samples = true;
      samples_index = i;
      break;
    }
  size_t frames_in_samples = 0;
  for (const Sample& s : p.samples)
    for (uint64_t id : s.location_ids) frames_in_samples += std::max<size_t>(1, p.location(id).lines.size());
  tree.reserve(frames_in_samples);
  // A comparison (Profile::diff) draws the new profile and colours it by the
  // change; so does a profile with negative values (one subtracted from
  // another elsewhere), whose negative samples are the base: widths are
  // never negative, so no bar overflows its parent.
  bool diff = p.diff;
  for (const Sample& s : p.samples) diff = diff || s.values[vi] < 0;
  int64_t base_samples = 0;
  for (const Sample& s : p.samples) {
    const bool base = p.diff ? p.in_base(s) : s.values[vi] < 0;
    if (has_samples) (base ? base_samples : samples) += s.values[samples_index];
    if (s.values[vi] != 0) tree.add(s, base ? 0 : s.values[vi], base ? -s.values[vi] : 0);
  }
  const std::string nodes = tree.nodes_json(diff);

  std::string json = "{\n";
  json += "\"title\": " + json_string(title) + ",\n";
  json += "\"type\": " + json_string(type.type) + ",\n";
  json += "\"unit\": " + json_string(type.unit) + ",\n";
  json += "\"samples\": " + (has_samples ? std::to_string(samples) : std::string("null")) + ",\n";
  json += std::string("\"diff\": ") + (diff ? "true" : "false") + ",\n";
  if (diff && has_samples) json += "\"base_samples\": " + std::to_string(-base_samples) + ",\n";
  json += "\"comments\": [";
  for (size_t i = 0; i < p.comments.size(); ++i) json += (i ? ", " : "") + json_string(p.comments[i]);
  json += "],\n";
  json += "\"frames\": [\n";
  const std::vector<Frame>& frames = tree.frames();
  for (size_t i = 0; i < frames.size(); ++i) {
    const Frame& f = frames[i];
    json += "{\"name\": " + json_string(f.name) + ", \"full\": " + json_string(f.full) +
            ", \"file\": " + json_string(f.file) + ", \"line\": " + std::to_string(f.line) +
            ", \"kind\": \"" + f.kind + "\"}" + (i + 1 < frames.size() ? ",\n" : "\n");
  }
  json += "],\n";
  json += std::string("\"nodes_are\": \"[depth, frame index, value") + (diff ? ", base value" : "") +
          "] in depth-first order, heaviest child first\",\n";
  json += "\"nodes\": [\n" + nodes + "\n]\n}";

  std::string html = kHead;
  html += "<title>" + html_escape(title.empty() ? "Flame graph" : title) + "</title>\n";
  html += kStyle;
  html += kBody;
  html += "<script type=\"application/json\" id=\"yep-data\">\n" + json + "\n</script>\n";
  html += kScript;
  return html;
}

}  // namespace yep
