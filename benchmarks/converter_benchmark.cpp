// Google Benchmark of libyepconv, the converter behind `yep report`, on a
// large gperftools CPU profile generated in memory at start-up.
//
// The profile is made to look like a real one, so that the symbolizer does
// real work: its addresses are code addresses of this very process (its own
// executable, which holds libyepconv with DWARF, and libc, libstdc++ and
// libdw as loaded here), its maps are this process's /proc/self/maps, and
// its stacks are 10-60 frames deep, share outer frames and repeat (as
// gperftools' hash table evictions make them do).
//
// Benchmarks (all wall time, see items_per_second):
//   Parse            yep::parse_cpu_profile of the bytes     items = stack records
//   Symbolize/cold   a new Symbolizer on a fresh parsed copy items = addresses
//   Symbolize/warm   one Symbolizer reused (caches warm)     items = addresses
//   WriteText/N      yep::write_text, nodecount N (0 = all)  items = distinct stacks
//   LoadAndReport    load_profile(file) + write_text(30),    items = stack records
//                    i.e. what `yep report FILE` does in C++
// Only measurements and ratios are printed: there are no thresholds here.
#include <benchmark/benchmark.h>
#include <cxxabi.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "cpu_profile_reader.h"
#include "profile_loader.h"
#include "report.h"
#include "symbolizer.h"
#include "text_writer.h"

namespace {

// Shape of the generated profile.
constexpr size_t kPoolAddresses = 9000;  // distinct pcs (leaf pcs and pc-1 make the locations)
constexpr size_t kDistinctStacks = 40000;
constexpr size_t kRecords = 60000;  // > stacks: some stacks recur, as after evictions
constexpr int kMinDepth = 10, kMaxDepth = 60;
constexpr uint64_t kPeriodMicros = 4000;  // 250 Hz
constexpr uint64_t kSeed = 20240601;

// One executable mapping of a file this process has loaded.
struct CodeRange {
  uint64_t start = 0, limit = 0;
  std::string path;
};

std::string slurp(const char* path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

std::string base_name(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Executable, file-backed mappings of /proc/self/maps text.
std::vector<CodeRange> executable_ranges(const std::string& maps) {
  std::vector<CodeRange> out;
  std::istringstream in(maps);
  std::string line;
  while (std::getline(in, line)) {
    uint64_t start = 0, limit = 0;
    char perms[8] = {};
    int path_at = 0;
    if (std::sscanf(line.c_str(), "%" SCNx64 "-%" SCNx64 " %7s %*s %*s %*s %n", &start, &limit, perms,
                    &path_at) < 3 ||
        path_at <= 0 || std::strlen(perms) < 4 || perms[2] != 'x')
      continue;
    std::string path = line.substr(static_cast<size_t>(path_at));
    if (path.empty() || path[0] != '/') continue;
    out.push_back({start, limit, path});
  }
  return out;
}

// The objects addresses are drawn from, with the share of addresses each
// gets, and function entry points known to lie in them ("anchors").
struct Source {
  const char* label;
  std::function<bool(const std::string& base)> matches;
  double share;
  std::vector<uint64_t> anchors;
  std::vector<CodeRange> ranges;
};

template <typename F>
uint64_t address_of(F* f) {
  return reinterpret_cast<uint64_t>(reinterpret_cast<void*>(f));
}

// A local function of this executable to anchor addresses on.
__attribute__((noinline)) uint64_t local_anchor(uint64_t x) { return x * 2654435761u + 1; }

std::vector<Source> sources(const std::string& exe_base) {
  std::vector<Source> s;
  s.push_back({"self", [exe_base](const std::string& b) { return b == exe_base; }, 0.35,
               {address_of(&local_anchor), address_of(&yep::parse_cpu_profile), address_of(&yep::write_text),
                address_of(&yep::load_profile), address_of(&yep::read_file)},
               {}});
  s.push_back({"libc", [](const std::string& b) { return b.rfind("libc.so", 0) == 0; }, 0.30,
               {address_of(&std::malloc), address_of(&std::free), address_of(&std::qsort),
                address_of(&std::getenv), address_of(&::getpid), address_of(&std::strtod)},
               {}});
  s.push_back({"libstdc++", [](const std::string& b) { return b.rfind("libstdc++.so", 0) == 0; }, 0.20,
               {address_of(&abi::__cxa_demangle), address_of(&std::_Hash_bytes)},
               {}});
  s.push_back({"libdw", [](const std::string& b) { return b.rfind("libdw.so", 0) == 0 || b.rfind("libdw-", 0) == 0; },
               0.15,
               {address_of(&dwarf_child), address_of(&dwarf_siblingof), address_of(&dwarf_getsrc_die),
                address_of(&dwfl_begin), address_of(&dwfl_module_addrdie)},
               {}});
  return s;
}

struct Fixture {
  std::string bytes;          // the profile file's content
  std::string path;           // the same, written to a temporary file
  yep::Profile parsed;        // parse_cpu_profile(bytes)
  yep::Profile symbolized;    // parsed, symbolized
  size_t records = 0;         // stack records in the file
  int64_t samples = 0;        // sum of their counts
  std::string description;    // for the benchmark context

  ~Fixture() {
    if (!path.empty()) std::remove(path.c_str());
  }
};

void put_word(std::string& out, uint64_t w) {
  char b[8];
  std::memcpy(b, &w, 8);  // native byte order, as gperftools writes it
  out.append(b, 8);
}

std::unique_ptr<Fixture> make_fixture() {
  auto f = std::make_unique<Fixture>();
  const std::string maps = slurp("/proc/self/maps");
  char exe[4096] = {};
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  const std::string exe_base = base_name(n > 0 ? std::string(exe, static_cast<size_t>(n)) : "");

  std::vector<Source> srcs = sources(exe_base);
  for (const CodeRange& r : executable_ranges(maps))
    for (Source& s : srcs)
      if (s.matches(base_name(r.path))) s.ranges.push_back(r);
  double total_share = 0;
  for (Source& s : srcs) {
    auto in_ranges = [&s](uint64_t a) {
      for (const CodeRange& r : s.ranges)
        if (a >= r.start && a < r.limit) return true;
      return false;
    };
    s.anchors.erase(std::remove_if(s.anchors.begin(), s.anchors.end(), [&](uint64_t a) { return !in_ranges(a); }),
                    s.anchors.end());
    if (!s.ranges.empty()) total_share += s.share;
  }
  if (total_share == 0) {
    std::fprintf(stderr, "converter_benchmark: no executable mapping of this process found in /proc/self/maps\n");
    std::exit(1);
  }

  // The address pool: a few addresses just past each anchor, the rest
  // uniform over each object's executable ranges, in proportion to `share`.
  std::mt19937_64 rng(kSeed);
  std::vector<uint64_t> pool;
  std::set<uint64_t> seen;
  auto add = [&](uint64_t a) {
    if (a != 0 && seen.insert(a).second) pool.push_back(a);
  };
  std::ostringstream desc;
  desc << "objects:";
  for (Source& s : srcs) {
    if (s.ranges.empty()) {
      desc << " " << s.label << "=absent";
      continue;
    }
    const size_t before = pool.size();
    for (uint64_t a : s.anchors)
      for (int k = 0; k < 8; ++k) add(a + rng() % 96);
    uint64_t span = 0;
    for (const CodeRange& r : s.ranges) span += r.limit - r.start;
    const size_t want = before + static_cast<size_t>(kPoolAddresses * s.share / total_share);
    while (pool.size() < want) {
      uint64_t off = rng() % span;
      for (const CodeRange& r : s.ranges) {
        if (off < r.limit - r.start) {
          add(r.start + off);
          break;
        }
        off -= r.limit - r.start;
      }
    }
    desc << " " << s.label << "=" << (pool.size() - before);
  }

  // Stacks, leaf first. Outer frames come from a few "entry paths" (main,
  // an event loop, ...), middle frames half from a hot tenth of the pool
  // and half from anywhere, so every pool address appears.
  std::vector<std::vector<uint64_t>> entry_paths(48);
  for (auto& path : entry_paths) {
    path.resize(3 + rng() % 6);
    for (uint64_t& a : path) a = pool[rng() % pool.size()];
  }
  const size_t hot = std::max<size_t>(1, pool.size() / 10);
  std::set<std::vector<uint64_t>> distinct;
  std::vector<std::vector<uint64_t>> stacks;
  stacks.reserve(kDistinctStacks);
  while (stacks.size() < kDistinctStacks) {
    const auto& entry = entry_paths[rng() % entry_paths.size()];
    const size_t depth = kMinDepth + rng() % (kMaxDepth - kMinDepth + 1);
    std::vector<uint64_t> stack;
    stack.reserve(depth);
    while (stack.size() + entry.size() < depth)
      stack.push_back(rng() % 2 ? pool[rng() % hot] : pool[rng() % pool.size()]);
    for (uint64_t a : entry) stack.push_back(a);  // outermost last
    if (distinct.insert(stack).second) stacks.push_back(std::move(stack));
  }

  // The file: header, records (every stack once, then repeats), trailer, maps.
  std::string& out = f->bytes;
  for (uint64_t w : {0ull, 3ull, 0ull, static_cast<unsigned long long>(kPeriodMicros), 0ull}) put_word(out, w);
  for (size_t r = 0; r < kRecords; ++r) {
    const auto& stack = r < stacks.size() ? stacks[r] : stacks[rng() % stacks.size()];
    const uint64_t count = 1 + rng() % 4;
    put_word(out, count);
    put_word(out, stack.size());
    for (uint64_t pc : stack) put_word(out, pc);
    f->samples += static_cast<int64_t>(count);
  }
  f->records = kRecords;
  for (uint64_t w : {0ull, 1ull, 0ull}) put_word(out, w);
  out += maps;

  char tmpl[] = "/tmp/yep-converter-benchmark-XXXXXX";
  int fd = mkstemp(tmpl);
  if (fd < 0 || write(fd, out.data(), out.size()) != static_cast<ssize_t>(out.size())) {
    std::fprintf(stderr, "converter_benchmark: cannot write a temporary profile in /tmp\n");
    std::exit(1);
  }
  close(fd);
  f->path = tmpl;

  f->parsed = yep::parse_cpu_profile(f->bytes, "generated profile");
  f->symbolized = f->parsed;
  yep::Symbolizer().symbolize(f->symbolized);

  // How the addresses resolved: with a source file (DWARF), by a symbol
  // only, or to a fallback "object+0x..." name.
  size_t with_file = 0, fallback = 0;
  for (const yep::Location& loc : f->symbolized.locations) {
    if (loc.lines.empty()) continue;
    const yep::Function& fn = f->symbolized.function(loc.lines.front().function_id);
    if (!fn.filename.empty()) ++with_file;
    else if (fn.name.find("+0x") != std::string::npos || fn.name.rfind("0x", 0) == 0) ++fallback;
  }
  const size_t locations = std::max<size_t>(1, f->symbolized.locations.size());
  desc << "; " << f->records << " records, " << f->parsed.samples.size() << " distinct stacks, depth " << kMinDepth
       << "-" << kMaxDepth << ", " << f->samples << " samples, " << f->parsed.locations.size()
       << " addresses (locations: " << (100 * with_file / locations) << "% resolved with DWARF, "
       << (100 * (locations - with_file - fallback) / locations) << "% by symbol only, " << (100 * fallback / locations)
       << "% unnamed), " << f->symbolized.functions.size() << " functions after symbolizing, "
       << f->parsed.mappings.size() << " mappings, " << (f->bytes.size() >> 10) << " KiB";
  f->description = desc.str();
  return f;
}

Fixture* g_fixture = nullptr;

const Fixture& fixture() { return *g_fixture; }

void BM_Parse(benchmark::State& state) {
  const Fixture& f = fixture();
  for (auto _ : state) {
    yep::Profile p = yep::parse_cpu_profile(f.bytes, "generated profile");
    benchmark::DoNotOptimize(p.samples.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * f.records));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * f.bytes.size()));
  state.SetLabel("items=stack records");
}

// A new Symbolizer each iteration on a fresh, unsymbolized copy: every
// object file, symbol table and DWARF index is read again (the page cache
// is warm, as it is for a user running `yep report` twice).
void BM_SymbolizeCold(benchmark::State& state) {
  const Fixture& f = fixture();
  for (auto _ : state) {
    state.PauseTiming();
    auto copy = std::make_unique<yep::Profile>(f.parsed);
    state.ResumeTiming();
    {
      yep::Symbolizer symbolizer;
      symbolizer.symbolize(*copy);
    }
    state.PauseTiming();
    benchmark::DoNotOptimize(copy->functions.data());
    copy.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * f.parsed.locations.size()));
  state.SetLabel("items=addresses");
}

// One Symbolizer for all iterations: its per-file caches are warm, so this
// is the cost of the lookups themselves.
void BM_SymbolizeWarm(benchmark::State& state) {
  const Fixture& f = fixture();
  yep::Symbolizer symbolizer;
  {
    yep::Profile warmup = f.parsed;
    symbolizer.symbolize(warmup);
  }
  for (auto _ : state) {
    state.PauseTiming();
    auto copy = std::make_unique<yep::Profile>(f.parsed);
    state.ResumeTiming();
    symbolizer.symbolize(*copy);
    state.PauseTiming();
    benchmark::DoNotOptimize(copy->functions.data());
    copy.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * f.parsed.locations.size()));
  state.SetLabel("items=addresses");
}

void BM_WriteText(benchmark::State& state) {
  const Fixture& f = fixture();
  yep::TextOptions options;
  options.nodecount = static_cast<size_t>(state.range(0));
  for (auto _ : state) {
    std::string text = yep::write_text(f.symbolized, options);
    benchmark::DoNotOptimize(text.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * f.symbolized.samples.size()));
  state.SetLabel("items=distinct stacks");
}

// What `yep report FILE` does below Python: read, parse, symbolize (new
// Symbolizer), check, write the 30-row text report.
void BM_LoadAndReport(benchmark::State& state) {
  const Fixture& f = fixture();
  yep::TextOptions options;
  options.nodecount = 30;
  for (auto _ : state) {
    std::string text = yep::write_text(yep::load_profile(f.path), options);
    benchmark::DoNotOptimize(text.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * f.records));
  state.SetLabel("items=stack records");
}

// Each output format from the same symbolized profile (report.h's render:
// what `yep report --format F` does after loading).
void BM_Render(benchmark::State& state, const char* format) {
  const Fixture& f = fixture();
  yep::ReportOptions options;
  options.format = format;
  options.nodecount = options.format == "text" ? 30 : options.format == "dot" ? 80 : 0;
  size_t bytes = 0;
  for (auto _ : state) {
    std::string out = yep::render(f.symbolized, options);
    bytes = out.size();
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * f.symbolized.samples.size()));
  state.SetLabel("items=distinct stacks; output " + std::to_string(bytes / 1024) + " KiB");
}

BENCHMARK_CAPTURE(BM_Render, text, "text")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_Render, pstats, "pstats")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_Render, source, "source")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_Render, callgrind, "callgrind")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_Render, proto, "proto")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_Render, folded, "folded")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_Render, html, "html")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_Render, dot, "dot")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Parse)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_SymbolizeCold)->Name("BM_Symbolize/cold")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_SymbolizeWarm)->Name("BM_Symbolize/warm")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_WriteText)->Arg(30)->Arg(0)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_LoadAndReport)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  std::unique_ptr<Fixture> f = make_fixture();
  g_fixture = f.get();
  benchmark::AddCustomContext("profile", f->description);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
