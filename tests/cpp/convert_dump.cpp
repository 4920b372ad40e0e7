// A stand-in for the CLI until it grows folded and HTML output, used by
// tests/test_flamegraph.py:
//   convert_dump folded|html PROFILE OUT
// loads PROFILE (any format yep reads, symbolized) and writes the collapsed
// stacks or the flame graph page of its default sample type to OUT.
#include <cstdio>
#include <exception>
#include <fstream>
#include <string>

#include "flamegraph_writer.h"
#include "folded_writer.h"
#include "profile_loader.h"

int main(int argc, char** argv) {
  const std::string what = argc == 4 ? argv[1] : "";
  if (what != "folded" && what != "html") {
    std::fputs("usage: convert_dump folded|html PROFILE OUT\n", stderr);
    return 2;
  }
  try {
    const std::string path = argv[2];
    const yep::Profile profile = yep::load_profile(path);
    const size_t index = profile.value_index(-1);
    const size_t slash = path.rfind('/');
    const std::string out = what == "folded"
                                ? yep::write_folded(profile, index)
                                : yep::write_flamegraph_html(profile, index, path.substr(slash == std::string::npos ? 0 : slash + 1));
    std::ofstream file(argv[3], std::ios::binary);
    file << out;
    file.close();
    if (!file) {
      std::fprintf(stderr, "convert_dump: error: cannot write %s\n", argv[3]);
      return 2;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "convert_dump: error: %s\n", e.what());
    return 2;
  }
  return 0;
}
