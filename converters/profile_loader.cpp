#include "profile_loader.h"

#include <sys/stat.h>

#include "cpu_profile_reader.h"
#include "heap_profile_reader.h"
#include "input_file.h"
#include "profile_diff.h"
#include "profile_merge.h"
#include "symbolizer.h"

namespace yep {

Profile read_profile(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0)
    throw ProfileError(path + ": no such profile file");
  if (!S_ISREG(st.st_mode)) throw ProfileError(path + ": not a regular file");
  // Opened once: its first bytes tell a heap profile, read as a stream; a
  // CPU profile is read whole.
  const InputFile file(path, kMaxProfileBytes);
  if (!file.ok()) throw ProfileError(path + ": " + file.why());
  if (is_heap_profile(file.head(64 << 10))) return read_heap_profile(file);
  return parse_cpu_profile(file.read_all(), path);
}

namespace {

Profile load_with(Symbolizer& symbolizer, const std::string& path) {
  Profile p = read_profile(path);
  symbolizer.symbolize(p);
  p.check_valid();
  return p;
}

}  // namespace

Profile load_profile(const std::string& path) {
  Symbolizer symbolizer;
  return load_with(symbolizer, path);
}

Profile load_profiles(const std::vector<std::string>& paths, const std::string& base_path, bool normalize) {
  if (paths.empty()) throw ProfileError("no profile given: name one or more profile files");
  if (normalize && base_path.empty()) throw ProfileError("--normalize scales a base profile: give one with --base");
  std::vector<Profile> profiles;
  Symbolizer symbolizer;
  for (const std::string& path : paths) profiles.push_back(load_with(symbolizer, path));
  std::string name = paths[0];
  for (size_t i = 1; i < paths.size(); ++i) name += " + " + paths[i];
  Profile p = merge(std::move(profiles), paths);
  if (base_path.empty()) return p;
  return diff(std::move(p), load_with(symbolizer, base_path), name, base_path, normalize);
}

}  // namespace yep
