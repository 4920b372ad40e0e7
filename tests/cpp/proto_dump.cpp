// proto_dump IN.prof OUT.pb.gz: loads and symbolizes a profile and writes it
// as pprof's gzipped protobuf, for tests/test_proto_output.py to hand to
// `go tool pprof`.
#include <cstdio>
#include <exception>
#include <fstream>
#include <string>

#include "profile_loader.h"
#include "proto_writer.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: proto_dump IN.prof OUT.pb.gz\n");
    return 2;
  }
  try {
    const std::string bytes = yep::write_proto(yep::load_profile(argv[1]));
    std::ofstream out(argv[2], std::ios::binary | std::ios::trunc);
    if (!out.write(bytes.data(), static_cast<std::streamsize>(bytes.size())) || !out.flush()) {
      std::fprintf(stderr, "proto_dump: cannot write %s\n", argv[2]);
      return 2;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "proto_dump: %s\n", e.what());
    return 2;
  }
  return 0;
}
