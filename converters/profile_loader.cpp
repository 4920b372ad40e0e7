#include "profile_loader.h"

#include <sys/stat.h>

#include "cpu_profile_reader.h"
#include "heap_profile_reader.h"
#include "profile_diff.h"
#include "profile_merge.h"
#include "symbolizer.h"

namespace yep {

Profile read_profile(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0)
    throw ProfileError(path + ": no such profile file");
  if (!S_ISREG(st.st_mode)) throw ProfileError(path + ": not a regular file");
  const std::string bytes = read_file(path);
  if (is_heap_profile(bytes)) return parse_heap_profile(bytes, path);
  return parse_cpu_profile(bytes, path);
}

Profile load_profile(const std::string& path, const std::string& base_path) {
  Profile p = read_profile(path);
  if (!base_path.empty()) {
    const Profile base = read_profile(base_path);
    try {
      p = subtract(p, base);
    } catch (const ProfileError& e) {
      throw ProfileError(base_path + ": cannot be the base of " + path + ": " + e.what());
    }
    p.comments.push_back("base: " + base_path + " subtracted");
  }
  Symbolizer().symbolize(p);
  p.check_valid();
  return p;
}

Profile load_profiles(const std::vector<std::string>& paths, const std::string& base_path) {
  if (paths.size() == 1) return load_profile(paths[0], base_path);
  if (paths.empty()) throw ProfileError("no profile given: name one or more profile files");
  if (!base_path.empty())
    throw ProfileError("--base compares one profile with another, not " + std::to_string(paths.size()) +
                       " merged: give one profile with --base");
  std::vector<Profile> profiles;
  Symbolizer symbolizer;
  for (const std::string& path : paths) {
    profiles.push_back(read_profile(path));
    symbolizer.symbolize(profiles.back());
    profiles.back().check_valid();
  }
  return merge(std::move(profiles), paths);
}

}  // namespace yep
