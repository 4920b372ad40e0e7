#include "python_stand_ins.h"

#include <cstdlib>
#include <vector>

namespace yep {

namespace {

std::vector<std::string_view> split_tabs(std::string_view line) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (size_t tab; (tab = line.find('\t', start)) != std::string_view::npos; start = tab + 1)
    out.push_back(line.substr(start, tab - start));
  out.push_back(line.substr(start));
  return out;
}

uint64_t number(std::string_view s, int base) { return std::strtoull(std::string(s).c_str(), nullptr, base); }

}  // namespace

PythonStandIns::PythonStandIns(std::string_view text) {
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(start, end - start);
    start = end + 1;
    if (line.rfind("# yep-python:\t", 0) == 0) {
      const auto f = split_tabs(line);
      if (f.size() < 6) continue;
      Frame frame;
      frame.line = static_cast<int64_t>(number(f[2], 10));
      frame.first_line = static_cast<int64_t>(number(f[3], 10));
      frame.file = std::string(f[4]);
      frame.name = std::string(f[5]);
      frames_[number(f[1], 16)] = std::move(frame);
    } else if (line.rfind("# yep-thread:\t", 0) == 0) {
      const auto f = split_tabs(line);
      if (f.size() < 4) continue;
      const std::string id(f[2]);
      threads_[number(f[1], 16)] = f[3].empty() ? "thread " + id : std::string(f[3]) + " (" + id + ")";
    }
  }
}

uint64_t PythonStandIns::location(Profile& p, uint64_t address) {
  auto it = frames_.find(address);
  if (it == frames_.end()) return 0;
  Frame& frame = it->second;
  if (frame.location_id) return frame.location_id;
  auto [fn, inserted] = function_ids_.try_emplace({frame.file, frame.name, frame.first_line}, p.functions.size() + 1);
  if (inserted) {
    Function f;
    f.id = fn->second;
    f.name = frame.name;
    f.system_name = "py:" + frame.file + ":" + frame.name;  // see display_name
    f.filename = frame.file;
    f.start_line = frame.first_line;
    p.functions.push_back(std::move(f));
  }
  Location loc;
  loc.id = p.locations.size() + 1;
  loc.address = address;
  loc.lines.push_back({fn->second, frame.line});
  p.locations.push_back(std::move(loc));
  p.python_frames = true;
  return frame.location_id = p.locations.back().id;
}

const std::string* PythonStandIns::thread(uint64_t address) const {
  auto it = threads_.find(address);
  return it == threads_.end() ? nullptr : &it->second;
}

}  // namespace yep
