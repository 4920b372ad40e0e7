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
    out[f.id - 1] = std::regex_search(short_function_name(f.name), re) || std::regex_search(f.name, re);
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

}  // namespace yep
