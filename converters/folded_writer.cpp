#include "folded_writer.h"

#include <algorithm>
#include <cinttypes>
#include <climits>
#include <cstdio>
#include <map>
#include <vector>

#include "function_name.h"

namespace yep {

namespace {

// One line, no ';': every line of the output splits unambiguously.
std::string sanitized(std::string name) {
  if (name.empty()) name = "??";
  for (char& c : name) {
    if (c == ';') c = ',';
    else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  return name;
}

// A frame's name as the folded format carries it: short for C/C++, as is for
// Python ("<module>" is not a template).
std::string folded_name(const Function& f) {
  return sanitized(display_name(f));
}

// Name of a location the symbolizer left without lines.
std::string unsymbolized_name(const Profile& p, const Location& loc) {
  char buf[64];
  const Mapping* m = p.mapping(loc.mapping_id);
  if (m && !m->filename.empty()) {
    size_t slash = m->filename.rfind('/');
    std::snprintf(buf, sizeof buf, "+0x%" PRIx64, loc.address - m->memory_start + m->file_offset);
    return sanitized(m->filename.substr(slash == std::string::npos ? 0 : slash + 1) + buf);
  }
  std::snprintf(buf, sizeof buf, "0x%" PRIx64, loc.address);
  return buf;
}

}  // namespace

std::string write_folded(const Profile& p, size_t value_index) {
  // Profile::value_index throws the one-line error naming the sample types.
  const size_t vi = p.value_index(static_cast<int>(std::min<size_t>(value_index, INT_MAX)));

  // Names are computed once per function and per unsymbolized location.
  std::vector<std::string> function_names(p.functions.size());
  std::vector<bool> named(p.functions.size(), false);
  auto function_name = [&](uint64_t id) -> const std::string& {
    if (!named[id - 1]) {
      function_names[id - 1] = folded_name(p.function(id));
      named[id - 1] = true;
    }
    return function_names[id - 1];
  };

  std::map<std::string, int64_t> stacks;
  std::string stack;
  std::vector<std::string> parts;  // root first
  for (const Sample& s : p.samples) {
    const int64_t v = s.values[vi];
    if (v == 0) continue;
    parts.clear();
    for (auto id = s.location_ids.rbegin(); id != s.location_ids.rend(); ++id) {
      const Location& loc = p.location(*id);
      if (loc.lines.empty()) {
        parts.push_back(unsymbolized_name(p, loc));
        continue;
      }
      for (auto line = loc.lines.rbegin(); line != loc.lines.rend(); ++line)  // outer caller first
        parts.push_back(function_name(line->function_id));
    }
    stack.clear();
    for (const std::string& part : parts) {
      if (!stack.empty()) stack += ';';
      stack += part;
    }
    if (stack.empty()) stack = "[no stack]";
    stacks[stack] += v;
  }

  std::string out;
  for (const auto& [frames, value] : stacks) {
    if (value == 0) continue;
    out += frames;
    out += ' ';
    out += std::to_string(value);
    out += '\n';
  }
  return out;
}

}  // namespace yep
