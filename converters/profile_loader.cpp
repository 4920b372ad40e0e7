#include "profile_loader.h"

#include <sys/stat.h>

#include "cpu_profile_reader.h"
#include "symbolizer.h"

namespace yep {

Profile load_profile(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0)
    throw ProfileError(path + ": no such profile file");
  if (!S_ISREG(st.st_mode)) throw ProfileError(path + ": not a regular file");
  Profile p = read_cpu_profile(path);
  Symbolizer().symbolize(p);
  p.check_valid();
  return p;
}

}  // namespace yep
