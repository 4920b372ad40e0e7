#include "callgrind_writer.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <map>
#include <unordered_map>
#include <vector>

#include "function_name.h"

namespace yep {

namespace {

using Costs = std::vector<int64_t>;  // one per sample type

void add(Costs& into, const std::vector<int64_t>& values) {
  if (into.empty()) into.assign(values.size(), 0);
  for (size_t i = 0; i < values.size(); ++i) into[i] += values[i];
}

void append_number(std::string& out, int64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

void append_cost_line(std::string& out, int64_t line, const Costs& costs) {
  append_number(out, line < 0 ? 0 : line);
  for (int64_t c : costs) {
    out += ' ';
    append_number(out, c);
  }
  out += '\n';
}

// Name compression: "(id) name" the first time an id is written, "(id)" after.
class Names {
 public:
  size_t id(const std::string& name) {
    auto [it, inserted] = ids_.try_emplace(name, names_.size() + 1);
    if (inserted) names_.push_back(name);
    return it->second;
  }
  void write(std::string& out, size_t id) {
    if (written_.size() <= id) written_.resize(id + 1);
    out += '(';
    append_number(out, static_cast<int64_t>(id));
    out += ')';
    if (!written_[id]) {
      written_[id] = true;
      out += ' ';
      out += names_[id - 1];
    }
    out += '\n';
  }

 private:
  std::unordered_map<std::string, size_t> ids_;
  std::vector<std::string> names_;
  std::vector<bool> written_;
};

// Event names must be identifiers.
std::string event_name(const ValueType& t) {
  std::string s;
  for (char c : t.type) s += (isalnum(static_cast<unsigned char>(c)) ? c : '_');
  return s.empty() ? "value" : s;
}

struct Call {
  uint64_t callee;
  int64_t line;  // calling line in the caller
  int64_t count = 0;
  Costs costs;
};

// (caller, calling line, callee): the identity of a call edge.
struct EdgeKey {
  uint64_t caller, callee;
  int64_t line;
  bool operator==(const EdgeKey& o) const { return caller == o.caller && callee == o.callee && line == o.line; }
};
struct EdgeHash {
  size_t operator()(const EdgeKey& k) const {
    uint64_t h = k.caller * 0x9E3779B97F4A7C15ull;
    h ^= (k.callee + 0x632BE59BD9B4E019ull) * 0xBF58476D1CE4E5B9ull;
    h ^= static_cast<uint64_t>(k.line) * 0x94D049BB133111EBull;
    return static_cast<size_t>(h ^ (h >> 31));
  }
};

struct FunctionCosts {
  std::map<int64_t, Costs> self;  // line -> costs
  std::vector<Call> calls;
};

// Where each edge's Call is, and the last sample that charged it.
struct EdgeState {
  size_t call;  // index in the caller's calls
};

}  // namespace

std::string write_callgrind(const Profile& p) {
  const size_t nf = p.functions.size();
  // Object file of each function (from the first location it appears in).
  std::vector<std::string> object_of(nf);
  for (const Location& loc : p.locations) {
    const Mapping* m = p.mapping(loc.mapping_id);
    for (const Line& line : loc.lines)
      if (m && object_of[line.function_id - 1].empty()) object_of[line.function_id - 1] = m->filename;
  }
  const bool counted = !p.sample_types.empty() && p.sample_types[0].unit == "count";

  std::vector<FunctionCosts> costs(nf);
  Costs total;
  std::vector<Line> frames;
  std::unordered_map<EdgeKey, EdgeState, EdgeHash> edges;
  // Clients add up a function by its file and name: functions of the
  // profile that share both (a Python function's lines) are one to them.
  std::map<std::pair<std::string, std::string>, size_t> client_ids;
  std::vector<size_t> client_of(nf);
  for (const Function& f : p.functions)
    client_of[f.id - 1] = client_ids.try_emplace({f.filename, display_name(f)}, client_ids.size()).first->second;
  std::vector<size_t> covered(client_ids.size(), SIZE_MAX);  // the last sample a call into it was counted in
  for (size_t si = 0; si < p.samples.size(); ++si) {
    const Sample& s = p.samples[si];
    add(total, s.values);
    p.frames(s, frames);
    if (frames.empty()) continue;
    add(costs[frames[0].function_id - 1].self[frames[0].line], s.values);
    // A client's inclusive cost of a function is the cost of the calls into
    // it (callgrind_annotate, KCachegrind). So that a sample counts once in
    // each function on its stack, however often the function recurses
    // (directly, or through the interpreter's eval loop), only the call into
    // its root-most frame carries the sample.
    for (size_t i = frames.size() - 1; i-- > 0;) {
      const Line& callee = frames[i];
      const Line& caller = frames[i + 1];
      size_t& last = covered[client_of[callee.function_id - 1]];
      if (last == si) continue;
      last = si;
      FunctionCosts& fc = costs[caller.function_id - 1];
      auto [it, inserted] = edges.try_emplace(EdgeKey{caller.function_id, callee.function_id, caller.line},
                                              EdgeState{fc.calls.size()});
      if (inserted) fc.calls.push_back({callee.function_id, caller.line, 0, {}});
      Call& call = fc.calls[it->second.call];
      call.count += counted ? s.values[0] : 1;
      add(call.costs, s.values);
    }
  }

  std::string out = "# callgrind format\nversion: 1\ncreator: yep\npositions: line\n";
  for (const std::string& c : p.comments) out += "# " + c + "\n";
  for (const ValueType& t : p.sample_types) out += "event: " + event_name(t) + " : " + t.type + " (" + t.unit + ")\n";
  out += "events:";
  for (const ValueType& t : p.sample_types) out += " " + event_name(t);
  out += "\n";
  if (total.empty()) total.assign(p.sample_types.size(), 0);
  out += "summary:";
  for (int64_t c : total) out += " " + std::to_string(c);
  out += "\n\n";

  // Compressed name ids of each function's object, file and name.
  Names objects, files, functions;
  std::vector<size_t> ob(nf), fl(nf), fn(nf);
  for (const Function& f : p.functions) {
    const std::string& object = object_of[f.id - 1];
    ob[f.id - 1] = objects.id(object.empty() ? "???" : object);
    fl[f.id - 1] = files.id(!f.filename.empty() ? f.filename : "???");  // valgrind's "unknown file"
    fn[f.id - 1] = functions.id(display_name(f));
  }
  for (const Function& f : p.functions) {
    FunctionCosts& fc = costs[f.id - 1];
    if (fc.self.empty() && fc.calls.empty()) continue;
    out += "ob=";
    objects.write(out, ob[f.id - 1]);
    out += "fl=";
    files.write(out, fl[f.id - 1]);
    out += "fn=";
    functions.write(out, fn[f.id - 1]);
    for (const auto& [line, c] : fc.self) append_cost_line(out, line, c);
    std::sort(fc.calls.begin(), fc.calls.end(),
              [](const Call& a, const Call& b) { return a.callee != b.callee ? a.callee < b.callee : a.line < b.line; });
    for (const Call& call : fc.calls) {
      if (call.costs.empty()) continue;
      const uint64_t c = call.callee - 1;
      out += "cob=";
      objects.write(out, ob[c]);
      out += "cfi=";
      files.write(out, fl[c]);
      out += "cfn=";
      functions.write(out, fn[c]);
      out += "calls=";
      append_number(out, call.count);
      out += ' ';
      append_number(out, p.functions[c].start_line);
      out += '\n';
      append_cost_line(out, call.line, call.costs);
    }
    out += '\n';
  }
  return out;
}

}  // namespace yep
