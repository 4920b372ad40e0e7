// File names as reports print them: the shortest tail of each path (whole
// components) that no other file of the profile shares, so two different
// pool.py (the program's and multiprocessing's) read apart, and a file
// alone with its name stays just that name. Profiles keep the whole path.
#pragma once

#include <string>
#include <unordered_map>
#include <vector>

namespace yep {

class ShortPaths {
 public:
  explicit ShortPaths(const std::vector<std::string>& files);
  // The short name of one of the files given ("" for "").
  const std::string& operator()(const std::string& file) const;

 private:
  std::unordered_map<std::string, std::string> short_;
};

}  // namespace yep
