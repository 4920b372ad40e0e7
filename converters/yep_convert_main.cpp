// yep-convert: the converter as a command line tool, the same formats and
// options as `yep report` (both go through report.h).
//   yep-convert [--format F] [-o FILE] [--sort flat|cum] [--nodecount N] [--focus RE]
//               [--nodefraction F] [--edgefraction F]
//               [--ignore RE] [-l|--lines] [--list RE] [--sample-index N|NAME] [--title T]
//               [--base OLD [--normalize]] [--threads] [--processes] [--interpreter] [--object-addresses]
//               [--binary-path DIRS] PROFILE...
// Output goes to stdout unless -o is given. Exit status 2 with one line on
// stderr for any bad input.
#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "output_file.h"
#include "profile_loader.h"
#include "report.h"

namespace {

const char kUsage[] =
    "usage: yep-convert [--format text|pstats|source|callgrind|proto|folded|html|dot] [-o|--output FILE]\n"
    "                   [--sort flat|cum] [--nodecount N] [--focus RE] [--ignore RE] [-l|--lines]\n"
    "                   [--nodefraction F] [--edgefraction F]\n"
    "                   [--list RE] [--sample-index N|NAME] [--title T] [--base OLD [--normalize]] [--threads]\n"
    "                   [--processes] [--interpreter] [--object-addresses] [--binary-path DIR[:DIR...]]\n"
    "                   PROFILE [PROFILE...]\n"
    "Several profiles of one kind are merged into one; --base compares them with OLD (--normalize:\n"
    "OLD scaled to their total).\n";

[[noreturn]] void fail(const std::string& message) {
  std::fprintf(stderr, "yep-convert: error: %s\n", message.c_str());
  std::exit(2);
}

// A number >= 0 for an option, or fail.
// Digits only (no sign, space or other script's digits), at most INT_MAX.
long parse_number(const std::string& option, const std::string& s) {
  const bool digits = !s.empty() && s.size() <= 10 && s.find_first_not_of("0123456789") == std::string::npos;
  const long n = digits ? std::strtol(s.c_str(), nullptr, 10) : -1;
  if (n < 0 || n > INT_MAX) fail(option + " needs a whole number from 0 to " + std::to_string(INT_MAX) + ", not '" + s + "'");
  return n;
}

// A share of the total for an option: a decimal from 0 to 1, or fail.
double parse_fraction(const std::string& option, const std::string& s) {
  char* end = nullptr;
  const bool plain = !s.empty() && s.find_first_not_of("0123456789.") == std::string::npos;
  const double f = plain ? std::strtod(s.c_str(), &end) : -1;
  if (!plain || *end || !(f >= 0 && f <= 1)) fail(option + " needs a share of the total from 0 to 1, not '" + s + "'");
  return f;
}

// --sample-index by number or by name (inuse_space, alloc_objects, ...), as
// yep report takes it.
int resolve_sample_index(const yep::Profile& profile, const std::string& input, const std::string& which) {
  std::string names;
  for (size_t i = 0; i < profile.sample_types.size(); ++i) names += (i ? ", " : "") + profile.sample_types[i].type;
  if (which.find_first_not_of("0123456789") == std::string::npos) {
    const long index = parse_number("--sample-index", which);
    if (index >= static_cast<long>(profile.sample_types.size()))
      fail(input + " has sample types 0 to " + std::to_string(profile.sample_types.size() - 1) + " (" + names +
           "), not " + which);
    return static_cast<int>(index);
  }
  for (size_t i = 0; i < profile.sample_types.size(); ++i)
    if (profile.sample_types[i].type == which) return static_cast<int>(i);
  fail(input + " has no sample type '" + which + "': it has " + names);
}

// ": did you mean --X?" for the option a mistyped one is closest to (at
// most a third of its letters changed), or "".
std::string did_you_mean(const std::string& word) {
  static const char* const kOptions[] = {"--format", "--output", "--sort", "--nodecount", "--nodefraction",
                                         "--edgefraction", "--focus", "--ignore",
                                         "--lines", "--list", "--sample-index", "--title", "--base", "--normalize", "--threads", "--processes", "--object-addresses",
                                         "--interpreter", "--binary-path", "--help", "--version"};
  auto distance = [](const std::string& a, const std::string& b) {  // Levenshtein
    std::vector<size_t> row(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
      size_t diagonal = row[0];
      row[0] = i;
      for (size_t j = 1; j <= b.size(); ++j) {
        const size_t above = row[j];
        row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
        diagonal = above;
      }
    }
    return row[b.size()];
  };
  std::string best;
  size_t best_distance = word.size() / 3 + 1;
  for (const char* option : kOptions) {
    const size_t d = distance(word, option);
    if (d < best_distance) best = option, best_distance = d;
  }
  return best.empty() ? "" : ": did you mean " + best + "?";
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> inputs;
  std::string output, base, sample_index;
  yep::ReportOptions options;
  options.nodecount = 30;
  bool nodecount_given = false, normalize = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) fail(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "-h" || arg == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (arg == "-V" || arg == "--version") {
      std::printf("yep-convert %s\n", YEP_VERSION);
      return 0;
    } else if (arg == "--format") {
      options.format = value();
    } else if (arg == "--sort") {
      std::string s = value();
      if (s == "flat") options.sort = yep::TextOptions::Sort::Flat;
      else if (s == "cum") options.sort = yep::TextOptions::Sort::Cum;
      else fail("unknown sort '" + s + "': use flat or cum");
    } else if (arg == "--nodecount") {
      options.nodecount = static_cast<size_t>(parse_number(arg, value()));
      nodecount_given = true;
    } else if (arg == "--nodefraction") {
      options.nodefraction = parse_fraction(arg, value());
    } else if (arg == "--edgefraction") {
      options.edgefraction = parse_fraction(arg, value());
    } else if (arg == "--sample-index") {
      sample_index = value();  // a number or a name: resolved once the profile is read
    } else if (arg == "--focus") {
      options.focus = value();
    } else if (arg == "--ignore") {
      options.ignore = value();
    } else if (arg == "--list") {
      options.list = value();
    } else if (arg == "--base") {
      base = value();
    } else if (arg == "--normalize") {
      normalize = true;
    } else if (arg == "--title") {
      options.title = value();
    } else if (arg == "-l" || arg == "--lines") {
      options.lines = true;
    } else if (arg == "--binary-path") {
      ::setenv("YEP_BINARY_PATH", value().c_str(), 1);  // read by the symbolizer as it loads the profile
    } else if (arg == "--threads") {
      options.threads = true;
    } else if (arg == "--processes") {
      options.processes = true;
    } else if (arg == "--object-addresses") {
      options.object_addresses = true;
    } else if (arg == "--interpreter") {
      options.interpreter = true;
    } else if (arg == "-o" || arg == "--output") {
      output = value();
    } else if (!arg.empty() && arg[0] == '-') {
      fail("unknown option " + arg + did_you_mean(arg) + " (see yep-convert -h)");
    } else {
      inputs.push_back(arg);
    }
  }
  if (inputs.empty()) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  if (!nodecount_given && options.format != "text") options.nodecount = options.format == "dot" ? 80 : 0;
  std::string text;
  try {
    const yep::Profile profile = yep::load_profiles(inputs, base, normalize);
    if (!sample_index.empty()) options.sample_index = resolve_sample_index(profile, inputs[0], sample_index);
    text = yep::render(profile, options);
  } catch (const yep::ProfileError& e) {
    fail(e.what());
  }
  if (output.empty() || output == "-") {
    const bool written = std::fwrite(text.data(), 1, text.size(), stdout) == text.size();
    if (!written || std::fflush(stdout) != 0)
      fail(std::string("cannot write the report to standard output: ") + std::strerror(errno));
    return 0;
  }
  try {
    yep::write_output(output, text);  // whole or not at all; see output_file.h
  } catch (const yep::OutputError& e) {
    fail(e.what());
  }
  return 0;
}
