// yep-convert: the converter as a command line tool.
//   yep-convert [--format text] [--sort flat|cum] [--nodecount N] [-o FILE] PROFILE
// Exit status 2 with one line on stderr for any bad input.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include "profile_loader.h"
#include "text_writer.h"

namespace {

const char kUsage[] =
    "usage: yep-convert [--format text] [--sort flat|cum] [--nodecount N] [-o FILE] PROFILE\n";

[[noreturn]] void fail(const std::string& message) {
  std::fprintf(stderr, "yep-convert: error: %s\n", message.c_str());
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  std::string input, output, format = "text";
  yep::TextOptions options;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) fail(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "-h" || arg == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (arg == "--format") {
      format = value();
    } else if (arg == "--sort") {
      std::string s = value();
      if (s == "flat") options.sort = yep::TextOptions::Sort::Flat;
      else if (s == "cum") options.sort = yep::TextOptions::Sort::Cum;
      else fail("unknown sort '" + s + "': use flat or cum");
    } else if (arg == "--nodecount") {
      std::string s = value();
      char* end = nullptr;
      long n = std::strtol(s.c_str(), &end, 10);
      if (s.empty() || *end || n < 0) fail("--nodecount needs a number >= 0, not '" + s + "'");
      options.nodecount = static_cast<size_t>(n);
    } else if (arg == "-o" || arg == "--output") {
      output = value();
    } else if (!arg.empty() && arg[0] == '-') {
      std::fputs(kUsage, stderr);
      fail("unknown option " + arg);
    } else if (input.empty()) {
      input = arg;
    } else {
      fail("only one profile at a time (got '" + input + "' and '" + arg + "')");
    }
  }
  if (input.empty()) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  if (format != "text") fail("unknown format '" + format + "': use text");
  std::string text;
  try {
    text = yep::write_text(yep::load_profile(input), options);
  } catch (const yep::ProfileError& e) {
    fail(e.what());
  }
  if (output.empty()) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    return 0;
  }
  // Write to a temporary then rename: never a half-written output file.
  const std::string tmp = output + ".yep-tmp";
  std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  out.close();
  if (!out || std::rename(tmp.c_str(), output.c_str()) != 0) {
    std::remove(tmp.c_str());
    fail("cannot write '" + output + "': " + std::strerror(errno));
  }
  return 0;
}
