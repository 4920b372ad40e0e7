#include "callgrind_writer.h"

#include <cctype>
#include <map>
#include <tuple>
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

std::string cost_line(int64_t line, const Costs& costs) {
  std::string s = std::to_string(line < 0 ? 0 : line);
  for (int64_t c : costs) s += " " + std::to_string(c);
  return s + "\n";
}

// Name compression: "(id) name" the first time, "(id)" after.
class Names {
 public:
  std::string operator()(const std::string& name) {
    auto [it, inserted] = ids_.try_emplace(name, ids_.size() + 1);
    std::string s = "(" + std::to_string(it->second) + ")";
    return inserted ? s + " " + name : s;
  }

 private:
  std::unordered_map<std::string, size_t> ids_;
};

// Event names must be identifiers.
std::string event_name(const ValueType& t) {
  std::string s;
  for (char c : t.type) s += (isalnum(static_cast<unsigned char>(c)) ? c : '_');
  return s.empty() ? "value" : s;
}

struct FunctionCosts {
  std::map<int64_t, Costs> self;                                  // line -> costs
  std::map<std::tuple<uint64_t, int64_t>, std::pair<int64_t, Costs>> calls;  // (callee, line) -> (count, costs)
};

}  // namespace

std::string write_callgrind(const Profile& p) {
  // Object file of each function (from the first location it appears in).
  std::vector<std::string> object_of(p.functions.size());
  for (const Location& loc : p.locations) {
    const Mapping* m = p.mapping(loc.mapping_id);
    for (const Line& line : loc.lines)
      if (m && object_of[line.function_id - 1].empty()) object_of[line.function_id - 1] = m->filename;
  }
  const bool counted = !p.sample_types.empty() && p.sample_types[0].unit == "count";

  std::vector<FunctionCosts> costs(p.functions.size());
  Costs total;
  std::vector<Line> frames;
  // (caller, line, callee) -> last sample that charged it
  std::map<std::tuple<uint64_t, int64_t, uint64_t>, size_t> charged;
  for (size_t si = 0; si < p.samples.size(); ++si) {
    const Sample& s = p.samples[si];
    add(total, s.values);
    p.frames(s, frames);
    if (frames.empty()) continue;
    add(costs[frames[0].function_id - 1].self[frames[0].line], s.values);
    for (size_t i = 0; i + 1 < frames.size(); ++i) {
      const Line& callee = frames[i];
      const Line& caller = frames[i + 1];
      auto key = std::make_tuple(caller.function_id, caller.line, callee.function_id);
      auto [it, inserted] = charged.try_emplace(key, si);
      if (!inserted && it->second == si) continue;
      it->second = si;
      auto& call = costs[caller.function_id - 1].calls[{callee.function_id, caller.line}];
      call.first += counted ? s.values[0] : 1;
      add(call.second, s.values);
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

  Names objects, files, functions;
  auto file_of = [&](const Function& f) {
    return !f.filename.empty() ? f.filename : !object_of[f.id - 1].empty() ? object_of[f.id - 1] : "???";
  };
  for (const Function& f : p.functions) {
    const FunctionCosts& fc = costs[f.id - 1];
    if (fc.self.empty() && fc.calls.empty()) continue;
    out += "ob=" + objects(object_of[f.id - 1].empty() ? "???" : object_of[f.id - 1]) + "\n";
    out += "fl=" + files(file_of(f)) + "\n";
    out += "fn=" + functions(short_function_name(f.name)) + "\n";
    for (const auto& [line, c] : fc.self) out += cost_line(line, c);
    for (const auto& [where, call] : fc.calls) {
      const Function& callee = p.function(std::get<0>(where));
      out += "cob=" + objects(object_of[callee.id - 1].empty() ? "???" : object_of[callee.id - 1]) + "\n";
      out += "cfi=" + files(file_of(callee)) + "\n";
      out += "cfn=" + functions(short_function_name(callee.name)) + "\n";
      out += "calls=" + std::to_string(call.first) + " " + std::to_string(callee.start_line) + "\n";
      out += cost_line(std::get<1>(where), call.second);
    }
    out += "\n";
  }
  return out;
}

}  // namespace yep
