#include "proc_maps.h"

#include <algorithm>
#include <cstdlib>
#include <string>
#include <unordered_map>

namespace yep {

namespace {

bool parse_hex(std::string_view s, uint64_t& out) {
  if (s.empty() || s.size() > 16) return false;
  uint64_t v = 0;
  for (char c : s) {
    int d;
    if (c >= '0' && c <= '9') d = c - '0';
    else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
    else return false;
    v = (v << 4) | static_cast<uint64_t>(d);
  }
  out = v;
  return true;
}

// Splits off the next space-separated field of `rest`.
std::string_view next_field(std::string_view& rest) {
  size_t b = rest.find_first_not_of(' ');
  if (b == std::string_view::npos) { rest = {}; return {}; }
  rest.remove_prefix(b);
  size_t e = rest.find(' ');
  std::string_view field = rest.substr(0, e);
  rest.remove_prefix(e == std::string_view::npos ? rest.size() : e);
  return field;
}

// "start-end perms offset dev inode [path]"
bool parse_line(std::string_view line, Mapping& m) {
  std::string_view rest = line;
  std::string_view range = next_field(rest);
  std::string_view perms = next_field(rest);
  std::string_view offset = next_field(rest);
  std::string_view dev = next_field(rest);
  std::string_view inode = next_field(rest);
  size_t dash = range.find('-');
  if (dash == std::string_view::npos || perms.size() < 4 || dev.empty() || inode.empty())
    return false;
  if (!parse_hex(range.substr(0, dash), m.memory_start) ||
      !parse_hex(range.substr(dash + 1), m.memory_limit) ||
      !parse_hex(offset, m.file_offset) || m.memory_limit <= m.memory_start)
    return false;
  m.executable = perms[2] == 'x';
  size_t b = rest.find_first_not_of(' ');
  m.filename = b == std::string_view::npos ? std::string() : std::string(rest.substr(b));
  while (!m.filename.empty() && (m.filename.back() == '\r' || m.filename.back() == ' '))
    m.filename.pop_back();
  return true;
}

// "# yep-build-id:\t<address>\t<build id>"
bool parse_build_id(std::string_view line, uint64_t& address, std::string_view& id) {
  const std::string_view tag = "# yep-build-id:\t";
  if (line.substr(0, tag.size()) != tag) return false;
  line.remove_prefix(tag.size());
  const size_t tab = line.find('\t');
  if (tab == std::string_view::npos || !parse_hex(line.substr(0, tab), address)) return false;
  id = line.substr(tab + 1);
  return !id.empty() && id.size() <= 128 && id.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

}  // namespace

std::vector<Mapping> parse_proc_maps(std::string_view text) {
  std::vector<Mapping> out;
  std::vector<std::pair<uint64_t, std::string_view>> build_ids;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    Mapping m;
    uint64_t address = 0;
    std::string_view id;
    if (parse_line(line, m)) {
      m.id = out.size() + 1;
      out.push_back(std::move(m));
    } else if (parse_build_id(line, address, id)) {
      build_ids.emplace_back(address, id);
    }
  }
  if (build_ids.empty()) return out;
  const MappingIndex index(out);
  std::unordered_map<std::string_view, std::string_view> by_file;
  for (const auto& [address, id] : build_ids)
    if (const uint64_t at = index.find(address); at && out[at - 1].filename.rfind('/', 0) == 0)
      by_file[out[at - 1].filename] = id;
  for (Mapping& m : out)
    if (auto it = by_file.find(m.filename); it != by_file.end()) m.build_id = std::string(it->second);
  return out;
}

MappingIndex::MappingIndex(const std::vector<Mapping>& mappings) {
  for (const Mapping& m : mappings) sorted_.push_back(&m);
  std::sort(sorted_.begin(), sorted_.end(), [](const Mapping* a, const Mapping* b) {
    return a->memory_start < b->memory_start;
  });
}

uint64_t MappingIndex::find(uint64_t address) const {
  // Last mapping starting at or before address.
  auto it = std::upper_bound(sorted_.begin(), sorted_.end(), address,
                             [](uint64_t a, const Mapping* m) { return a < m->memory_start; });
  if (it == sorted_.begin()) return 0;
  const Mapping* m = *(it - 1);
  return address < m->memory_limit ? m->id : 0;
}

}  // namespace yep
