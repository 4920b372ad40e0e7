#include "python_stand_ins.h"

#include <algorithm>
#include <charconv>

namespace yep {

namespace {

// Keys of files with yep-stack lines are small numbers: tagged with bits no
// user-space address has, they cannot be mistaken for a pc.
constexpr uint64_t kPythonTag = uint64_t(1) << 63;
constexpr uint64_t kThreadTag = uint64_t(3) << 62;
constexpr uint64_t kPlumbingTag = uint64_t(1) << 62;  // on a native address
constexpr uint64_t kTags = uint64_t(3) << 62;

std::vector<std::string_view> split(std::string_view line, char separator) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (size_t at; (at = line.find(separator, start)) != std::string_view::npos; start = at + 1)
    out.push_back(line.substr(start, at - start));
  out.push_back(line.substr(start));
  return out;
}

bool number(std::string_view s, int base, uint64_t* out) {
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) s.remove_prefix(2);
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out, base);
  return !s.empty() && ec == std::errc() && end == s.data() + s.size();
}

}  // namespace

PythonStandIns::PythonStandIns(std::string_view text) {
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    add_line(text.substr(start, end - start));
    start = end + 1;
  }
  finish();
}

void PythonStandIns::add_line(std::string_view line) {
  if (line.rfind("# yep-", 0) != 0) return;
  const auto f = split(line, '\t');
  uint64_t key = 0;
  if (f[0] == "# yep-python:" && f.size() >= 6 && number(f[1], 16, &key)) {
    Frame frame;
    uint64_t number_value = 0;
    frame.line = number(f[2], 10, &number_value) ? static_cast<int64_t>(number_value) : 0;
    frame.first_line = number(f[3], 10, &number_value) ? static_cast<int64_t>(number_value) : 0;
    frame.file = std::string(f[4]);
    frame.name = std::string(f[5]);
    frames_read_[key] = std::move(frame);
  } else if (f[0] == "# yep-thread:" && f.size() >= 4 && number(f[1], 16, &key)) {
    const std::string id(f[2]);
    threads_read_[key] = f[3].empty() ? "thread " + id : std::string(f[3]) + " (" + id + ")";
  } else if (f[0] == "# yep-function:" && f.size() >= 4) {
    FunctionHint hint;
    if (number(f[1], 16, &hint.start) && number(f[2], 16, &hint.end) && hint.start < hint.end && !f[3].empty()) {
      hint.name = std::string(f[3]);
      hints_.push_back(std::move(hint));
    }
  } else if (f[0] == "# yep-stack:") {
    tagged_ = tagged_ || (f.size() >= 2);  // "# yep-stack:\t...": keys are small numbers, tagged
    uint64_t record = 0;
    if (f.size() < 4 || !number(f[1], 10, &record)) return;
    Stack& stack = stacks_[record];
    used_known_ = false;
    if (f[2] != "-" && number(f[2], 16, &key)) stack.thread = key | kThreadTag;
    // (A record's second line adds to its first.)
    auto append = [](std::string& to, std::string_view items) {
      if (!to.empty() && !items.empty()) to += ',';
      to += items;
    };
    if (f.size() >= 5) {
      marks_plumbing_ = true;
      append(stack.plumbing, f[4]);
    }
    append(stack.python, f[3]);
  }
}

void PythonStandIns::finish() {
  // Files with yep-stack lines key Python frames and threads by small
  // numbers, tagged here as complete() tags them in the stacks; older files
  // put the keys themselves in the stacks.
  const uint64_t python_tag = tagged_ ? kPythonTag : 0, thread_tag = tagged_ ? kThreadTag : 0;
  for (auto& [key, frame] : frames_read_) frames_[key | python_tag] = std::move(frame);
  for (auto& [key, name] : threads_read_) threads_[key | thread_tag] = std::move(name);
  frames_read_.clear();
  threads_read_.clear();
  std::sort(hints_.begin(), hints_.end(), [](const FunctionHint& a, const FunctionHint& b) { return a.start < b.start; });
}

bool PythonStandIns::uses(std::string_view line) {
  const bool python = line.rfind("# yep-python:\t", 0) == 0, thread = line.rfind("# yep-thread:\t", 0) == 0;
  if (!python && !thread) return false;
  if (!used_known_) {
    used_.clear();
    std::vector<std::pair<uint32_t, uint64_t>> python;
    for (const auto& [record, stack] : stacks_) {
      if (stack.thread) used_.insert(stack.thread);
      python_of(stack, python);
      for (const auto& [pos, key] : python) used_.insert(key);
    }
    used_known_ = true;
  }
  const auto f = split(line, '\t');
  uint64_t key = 0;
  return f.size() >= 2 && number(f[1], 16, &key) && used_.count(key | (python ? kPythonTag : kThreadTag)) != 0;
}

void PythonStandIns::python_of(const Stack& s, std::vector<std::pair<uint32_t, uint64_t>>& out) {
  out.clear();
  if (s.python.empty()) return;
  for (std::string_view item : split(s.python, ',')) {
    const size_t colon = item.find(':');
    uint64_t pos = 0, key = 0;
    if (colon == std::string_view::npos || !number(item.substr(0, colon), 10, &pos) ||
        !number(item.substr(colon + 1), 16, &key) || pos > UINT32_MAX)
      continue;
    out.push_back({static_cast<uint32_t>(pos), key | kPythonTag});
  }
}

void PythonStandIns::complete(size_t record, std::vector<uint64_t>& stack) const {
  auto it = stacks_.find(record);
  if (it == stacks_.end()) return;
  const Stack& s = it->second;
  if (!s.plumbing.empty()) {
    for (std::string_view item : split(s.plumbing, ',')) {
      const size_t dash = item.find('-');
      uint64_t first = 0, last = 0;
      if (!number(item.substr(0, dash), 10, &first)) continue;
      last = first;
      if (dash != std::string_view::npos && !number(item.substr(dash + 1), 10, &last)) continue;
      if (last < first || last > UINT32_MAX) continue;
      for (uint64_t i = first; i <= last && i < stack.size(); ++i)
        if (!(stack[i] & kTags)) stack[i] |= kPlumbingTag;
    }
  }
  std::vector<std::pair<uint32_t, uint64_t>> python;
  python_of(s, python);
  if (!python.empty()) {
    std::vector<uint64_t> merged;
    merged.reserve(stack.size() + python.size() + 1);
    size_t next = 0;
    for (size_t i = 0; i <= stack.size(); ++i) {
      while (next < python.size() && python[next].first <= i) merged.push_back(python[next++].second);
      if (i < stack.size()) merged.push_back(stack[i]);
    }
    for (; next < python.size(); ++next) merged.push_back(python[next].second);  // pos past the root
    stack.swap(merged);
  }
  if (s.thread) stack.push_back(s.thread);
}

void PythonStandIns::release_stacks() {
  std::unordered_map<size_t, Stack>().swap(stacks_);
  used_known_ = false;
}

bool PythonStandIns::plumbing(uint64_t entry) { return (entry & kTags) == kPlumbingTag; }

uint64_t PythonStandIns::address(uint64_t entry) { return plumbing(entry) ? entry & ~kPlumbingTag : entry; }

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
  loc.address = 0;
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
