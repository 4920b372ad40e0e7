#include "short_paths.h"

#include <map>
#include <set>

namespace yep {

namespace {

// The last k components of a path ("a/b/c.py", 2 -> "b/c.py"); the whole
// path when it has no more.
std::string tail(const std::string& path, size_t k) {
  size_t start = path.size();
  for (size_t i = 0; i < k; ++i) {
    const size_t slash = start == 0 ? std::string::npos : path.rfind('/', start - 1);
    if (slash == std::string::npos) return path;
    start = slash;
  }
  return path.substr(start + 1);
}

}  // namespace

ShortPaths::ShortPaths(const std::vector<std::string>& files) {
  // Only files with the same name can be mistaken for each other.
  std::map<std::string, std::set<std::string>> by_name;
  for (const std::string& f : files)
    if (!f.empty()) by_name[tail(f, 1)].insert(f);
  for (const auto& [name, group] : by_name) {
    std::set<std::string> left(group);
    for (size_t k = 1; !left.empty(); ++k) {
      std::map<std::string, int> uses;
      for (const std::string& f : group) ++uses[tail(f, k)];
      for (auto it = left.begin(); it != left.end();) {
        const std::string t = tail(*it, k);
        if (uses[t] == 1 || t == *it) {  // unique, or the whole path already
          short_[*it] = t;
          it = left.erase(it);
        } else {
          ++it;
        }
      }
    }
  }
}

const std::string& ShortPaths::operator()(const std::string& file) const {
  auto it = short_.find(file);
  return it == short_.end() ? file : it->second;
}

}  // namespace yep
