#include "profile_transforms.h"

#include <map>
#include <regex>
#include <tuple>

#include "function_name.h"

namespace yep {

namespace {

std::regex compile(const std::string& pattern, const char* option) {
  try {
    return std::regex(pattern);
  } catch (const std::regex_error& e) {
    throw ProfileError(std::string("bad ") + option + " regular expression '" + pattern + "': " + e.what());
  }
}

// Which functions match a regex, by id - 1.
std::vector<bool> matching(const Profile& p, const std::regex& re) {
  std::vector<bool> out(p.functions.size());
  for (const Function& f : p.functions)
    out[f.id - 1] = std::regex_search(display_name(f), re) || std::regex_search(f.name, re);
  return out;
}

bool any_frame(const Profile& p, const Sample& s, const std::vector<bool>& match) {
  for (uint64_t id : s.location_ids)
    for (const Line& line : p.location(id).lines)
      if (match[line.function_id - 1]) return true;
  return false;
}

}  // namespace

Profile filter_samples(const Profile& p, const std::string& focus, const std::string& ignore) {
  if (focus.empty() && ignore.empty()) return p;
  std::vector<bool> focused, ignored;
  if (!focus.empty()) focused = matching(p, compile(focus, "--focus"));
  if (!ignore.empty()) ignored = matching(p, compile(ignore, "--ignore"));
  Profile out = p;
  out.samples.clear();
  for (const Sample& s : p.samples) {
    if (!focus.empty() && !any_frame(p, s, focused)) continue;
    if (!ignore.empty() && any_frame(p, s, ignored)) continue;
    out.samples.push_back(s);
  }
  if (!focus.empty()) out.comments.push_back("focus: " + focus);
  if (!ignore.empty()) out.comments.push_back("ignore: " + ignore);
  return out;
}

Profile by_lines(const Profile& p) {
  Profile out = p;
  out.functions.clear();
  std::map<std::pair<uint64_t, int64_t>, uint64_t> id_of;  // (old function, line) -> new id
  for (Location& loc : out.locations) {
    for (Line& line : loc.lines) {
      auto [it, inserted] = id_of.try_emplace({line.function_id, line.line}, out.functions.size() + 1);
      if (inserted) {
        Function f = p.function(line.function_id);
        f.id = it->second;
        if (line.line > 0) f.start_line = line.line;
        out.functions.push_back(std::move(f));
      }
      line.function_id = it->second;
    }
  }
  out.check_valid();
  return out;
}

namespace {

// The python executable or libpython: python3, python3.11, python3.11d,
// libpython3.11.so.1.0, ...
bool is_interpreter_file(const std::string& path) {
  static const std::regex pattern(R"((^|/)(lib)?python[0-9][0-9.]*[a-z]*(\.so[0-9.]*)?$)");
  return std::regex_search(path, pattern);
}

}  // namespace

Profile hide_interpreter_frames(const Profile& p) {
  if (!p.python_frames) return p;
  std::vector<bool> hidden(p.locations.size());
  std::vector<bool> interpreter_mapping(p.mappings.size());
  for (const Mapping& m : p.mappings) interpreter_mapping[m.id - 1] = is_interpreter_file(m.filename);
  for (const Location& loc : p.locations)
    hidden[loc.id - 1] = p.interpreter_marked ? loc.interpreter
                                              : loc.mapping_id != 0 && interpreter_mapping[loc.mapping_id - 1];
  Profile out = p;
  for (Sample& s : out.samples) {
    std::vector<uint64_t> kept;
    kept.reserve(s.location_ids.size());
    for (uint64_t id : s.location_ids)
      if (!hidden[id - 1]) kept.push_back(id);
    if (!kept.empty()) s.location_ids = std::move(kept);
  }
  return out;
}

namespace {

// A root frame per value of a label ("thread", "process"), named
// "<kind> <value>", pushed below the sample's other frames.
Profile split_by_label(const Profile& p, const std::string& key) {
  Profile out = p;
  std::map<std::string, uint64_t> location_of;  // label value -> its root location
  for (Sample& s : out.samples) {
    const Label* label = nullptr;
    for (const Label& l : s.labels)
      if (l.key == key) label = &l;
    if (!label) continue;
    auto [it, inserted] = location_of.try_emplace(label->value, out.locations.size() + 1);
    if (inserted) {
      Function f;
      f.id = out.functions.size() + 1;
      f.name = key + " " + label->value;
      f.system_name = key + ":" + label->value;  // see display_name
      out.functions.push_back(f);
      Location loc;
      loc.id = it->second;
      loc.lines.push_back({f.id, 0});
      out.locations.push_back(std::move(loc));
    }
    s.location_ids.push_back(it->second);
  }
  return out;
}

}  // namespace

Profile split_by_thread(const Profile& p) { return split_by_label(p, "thread"); }

Profile split_by_process(const Profile& p) { return split_by_label(p, "process"); }

}  // namespace yep
