// Tests for yep::Symbolizer against real objects: the fixture library
// (tests/cpp/fixtures/symbolizer_fixture.{c,cpp}, built -g -O2 and linked at
// a non-zero base so that virtual addresses differ from file offsets) loaded
// into this process; copies of it stripped, without .debug_aranges, with
// separate debug info found by .gnu_debuglink and with MiniDebugInfo; the
// same code built as a non-PIE executable; this PIE test program; libc; and
// mappings whose files are missing, deleted, not ELF or not files at all.
//
// Mappings come from /proc/self/maps (or the child's maps for the non-PIE
// executable), parsed here the way a profile reader would.
#include "symbolizer.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <link.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

// Paths of the fixture and of its copies, defined by the build (see
// CMakeLists.txt); YEP_SYMBOLIZER_FIXTURE_MINIDEBUGINFO is optional.
#if !defined(YEP_SYMBOLIZER_FIXTURE) || !defined(YEP_SYMBOLIZER_FIXTURE_STRIPPED) || \
    !defined(YEP_SYMBOLIZER_FIXTURE_NOARANGES) ||                                \
    !defined(YEP_SYMBOLIZER_FIXTURE_DEBUGLINK) || !defined(YEP_SYMBOLIZER_FIXTURE_EXEC)
#error "the build must define the YEP_SYMBOLIZER_FIXTURE* paths"
#endif

namespace {

using yep::Function;
using yep::Line;
using yep::Location;
using yep::Mapping;
using yep::Profile;

std::string BaseName(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string Hex(uint64_t value) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%" PRIx64, value);
  return buf;
}

// Parses /proc/<pid>/maps text into mappings with ids 1..n.
std::vector<Mapping> ParseMaps(std::istream& in) {
  std::vector<Mapping> mappings;
  std::string line;
  while (std::getline(in, line)) {
    uint64_t start = 0, limit = 0, offset = 0;
    char perms[8] = {};
    int name_at = 0;
    if (std::sscanf(line.c_str(), "%" SCNx64 "-%" SCNx64 " %7s %" SCNx64
                    " %*s %*s %n",
                    &start, &limit, perms, &offset, &name_at) < 4) {
      continue;
    }
    Mapping m;
    m.id = mappings.size() + 1;
    m.memory_start = start;
    m.memory_limit = limit;
    m.file_offset = offset;
    m.executable = perms[2] == 'x';
    if (name_at > 0) m.filename = line.substr(static_cast<size_t>(name_at));
    mappings.push_back(m);
  }
  return mappings;
}

std::vector<Mapping> SelfMaps() {
  std::ifstream in("/proc/self/maps");
  return ParseMaps(in);
}

uint64_t Address(const void* p) { return reinterpret_cast<uintptr_t>(p); }

// Adds a location for `address` in whichever mapping holds it; returns its id.
uint64_t AddLocation(Profile& profile, uint64_t address) {
  Location location;
  location.id = profile.locations.size() + 1;
  location.address = address;
  for (const Mapping& m : profile.mappings) {
    if (address >= m.memory_start && address < m.memory_limit) {
      location.mapping_id = m.id;
      break;
    }
  }
  profile.locations.push_back(location);
  return location.id;
}

// Appends a mapping; returns its id.
uint64_t AddMapping(Profile& profile, uint64_t start, uint64_t size,
                    uint64_t offset, const std::string& filename) {
  Mapping m;
  m.id = profile.mappings.size() + 1;
  m.memory_start = start;
  m.memory_limit = start + size;
  m.file_offset = offset;
  m.filename = filename;
  m.executable = true;
  profile.mappings.push_back(m);
  return m.id;
}

const Function& FunctionOf(const Profile& profile, const Line& line) {
  return profile.function(line.function_id);
}

// The name of the innermost function at a location.
std::string Name(const Profile& profile, uint64_t location_id) {
  const Location& location = profile.location(location_id);
  if (location.lines.empty()) return "<no lines>";
  return FunctionOf(profile, location.lines[0]).name;
}

// Checks the invariants of profile.h that the symbolizer is responsible for.
void ExpectModelValid(const Profile& profile) {
  for (size_t i = 0; i < profile.functions.size(); ++i) {
    EXPECT_EQ(profile.functions[i].id, i + 1);
  }
  for (const Location& location : profile.locations) {
    EXPECT_FALSE(location.lines.empty()) << Hex(location.address);
    for (const Line& line : location.lines) {
      EXPECT_GE(line.function_id, 1u);
      EXPECT_LE(line.function_id, profile.functions.size());
    }
  }
  profile.check_valid();
}

void* Open(const char* path) {
  void* handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  EXPECT_NE(handle, nullptr) << path << ": " << dlerror();
  return handle;
}

void* Symbol(void* handle, const char* name) {
  void* p = dlsym(handle, name);
  EXPECT_NE(p, nullptr) << name;
  return p;
}

int IntSymbol(void* handle, const char* name) {
  return *static_cast<const int*>(Symbol(handle, name));
}

// The load bias of a dlopen()ed library: ELF address = address - bias.
uint64_t LoadBias(void* handle) {
  link_map* map = nullptr;
  EXPECT_EQ(dlinfo(handle, RTLD_DI_LINKMAP, &map), 0);
  return map ? map->l_addr : 0;
}

using FunctionPointer = void* (*)();

TEST(SymbolizerTest, CFunctionFromDwarf) {
  void* lib = Open(YEP_SYMBOLIZER_FIXTURE);
  Profile profile;
  profile.mappings = SelfMaps();
  uint64_t f = Address(Symbol(lib, "yep_fixture_c_function"));
  uint64_t at_entry = AddLocation(profile, f);
  uint64_t inside = AddLocation(profile, f + 4);
  yep::Symbolizer().symbolize(profile);

  const Location& location = profile.location(inside);
  ASSERT_EQ(location.lines.size(), 1u);
  const Function& function = FunctionOf(profile, location.lines[0]);
  EXPECT_EQ(function.name, "yep_fixture_c_function");
  EXPECT_EQ(function.system_name, "yep_fixture_c_function");
  EXPECT_EQ(BaseName(function.filename), "symbolizer_fixture.c");
  EXPECT_EQ(function.filename[0], '/') << function.filename;
  int decl_line = IntSymbol(lib, "yep_fixture_c_function_line");
  EXPECT_EQ(function.start_line, decl_line);
  EXPECT_GE(location.lines[0].line, decl_line);
  EXPECT_LT(location.lines[0].line, decl_line + 5);
  // Both addresses are in the same function: one Function.
  EXPECT_EQ(profile.location(at_entry).lines[0].function_id,
            location.lines[0].function_id);
  ExpectModelValid(profile);
  // The mapping of the library got its build id.
  const Mapping& mapping = profile.mappings[location.mapping_id - 1];
  EXPECT_EQ(mapping.build_id.size(), 40u) << mapping.build_id;
  EXPECT_EQ(mapping.build_id.find_first_not_of("0123456789abcdef"),
            std::string::npos);
}

// The loader's own account of a loaded object: its load bias and the
// PT_LOAD segment that holds `elf_address`, from dl_iterate_phdr.
struct LoadedSegment {
  uint64_t bias = 0, elf_address = 0, segment_vaddr = 0;
  bool found = false;
};

int FindLoadedSegment(dl_phdr_info* info, size_t, void* data) {
  auto* want = static_cast<LoadedSegment*>(data);
  if (info->dlpi_addr != want->bias) return 0;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type == PT_LOAD && want->elf_address >= ph.p_vaddr &&
        want->elf_address < ph.p_vaddr + ph.p_memsz) {
      want->segment_vaddr = ph.p_vaddr;
      want->found = true;
      return 1;
    }
  }
  return 0;
}

// Where the library's own addresses lie in its mapping, as the dynamic
// loader placed it: recorded on the mapping for writers that need the
// file's addresses (object_addresses.h).
TEST(SymbolizerTest, RecordsWhereTheLoaderPlacedTheLibrary) {
  void* lib = Open(YEP_SYMBOLIZER_FIXTURE);
  Profile profile;
  profile.mappings = SelfMaps();
  const uint64_t f = Address(Symbol(lib, "yep_fixture_c_function"));
  const uint64_t id = AddLocation(profile, f + 4);
  yep::Symbolizer().symbolize(profile);

  LoadedSegment truth;
  truth.bias = LoadBias(lib);
  truth.elf_address = f + 4 - truth.bias;
  dl_iterate_phdr(FindLoadedSegment, &truth);
  ASSERT_TRUE(truth.found);
  const Mapping& mapping = profile.mappings[profile.location(id).mapping_id - 1];
  EXPECT_TRUE(mapping.placed);
  EXPECT_EQ(mapping.load_bias, truth.bias);
  EXPECT_EQ(mapping.code_vaddr, truth.segment_vaddr);
  // Linked at 0x10000: the file's addresses are not its offsets.
  EXPECT_GE(mapping.code_vaddr, 0x10000u);
  // Mappings no location fell in are not placed.
  for (const Mapping& m : profile.mappings)
    if (m.id != mapping.id) EXPECT_FALSE(m.placed) << m.filename;
}

TEST(SymbolizerTest, CppFunctionInNamespaceIsDemangled) {
  void* lib = Open(YEP_SYMBOLIZER_FIXTURE);
  auto scaled = reinterpret_cast<FunctionPointer>(
      Symbol(lib, "yep_fixture_scaled_address"));
  Profile profile;
  profile.mappings = SelfMaps();
  uint64_t id = AddLocation(profile, Address(scaled()) + 4);
  yep::Symbolizer().symbolize(profile);

  const Location& location = profile.location(id);
  ASSERT_EQ(location.lines.size(), 1u);
  const Function& function = FunctionOf(profile, location.lines[0]);
  EXPECT_EQ(function.name, "yep_fixture::scaled(int)");
  EXPECT_EQ(function.system_name, "_ZN11yep_fixture6scaledEi");
  EXPECT_EQ(BaseName(function.filename), "symbolizer_fixture.cpp");
  EXPECT_GT(function.start_line, 0);
  ExpectModelValid(profile);
}

// Symbolizes every byte of yep_fixture_outer (up to 1 KiB) and finds one
// whose innermost frame is the inlined yep_fixture_inlined.
TEST(SymbolizerTest, InlinedFunctionGivesTwoLinesInnermostFirst) {
  void* lib = Open(YEP_SYMBOLIZER_FIXTURE);
  auto outer = reinterpret_cast<unsigned (*)(unsigned)>(
      Symbol(lib, "yep_fixture_outer"));
  outer(5);  // sets yep_fixture_outer_call_line
  int call_line = IntSymbol(lib, "yep_fixture_outer_call_line");
  ASSERT_GT(call_line, 0);

  Profile profile;
  profile.mappings = SelfMaps();
  const uint64_t start = Address(reinterpret_cast<void*>(outer));
  for (uint64_t a = start; a < start + 1024; ++a) AddLocation(profile, a);
  yep::Symbolizer().symbolize(profile);
  ExpectModelValid(profile);

  const Location* inlined = nullptr;
  for (const Location& location : profile.locations) {
    const std::string name = Name(profile, location.id);
    if (name != "yep_fixture_outer" && name != "yep_fixture_inlined") break;
    if (name == "yep_fixture_inlined") {
      inlined = &location;
      break;
    }
  }
  ASSERT_NE(inlined, nullptr) << "no address of yep_fixture_outer was "
                                 "attributed to the inlined function";
  ASSERT_EQ(inlined->lines.size(), 2u);
  const Function& callee = FunctionOf(profile, inlined->lines[0]);
  const Function& caller = FunctionOf(profile, inlined->lines[1]);
  EXPECT_EQ(callee.name, "yep_fixture_inlined");
  EXPECT_EQ(callee.start_line, IntSymbol(lib, "yep_fixture_inlined_line"));
  EXPECT_EQ(BaseName(callee.filename), "symbolizer_fixture.c");
  EXPECT_GT(inlined->lines[0].line, callee.start_line);
  EXPECT_LT(inlined->lines[0].line, callee.start_line + 5);
  EXPECT_EQ(caller.name, "yep_fixture_outer");
  EXPECT_EQ(caller.start_line, IntSymbol(lib, "yep_fixture_outer_line"));
  EXPECT_EQ(inlined->lines[1].line, call_line);
  // The first bytes are the outer function itself, not inlined code.
  EXPECT_EQ(profile.location(1).lines.size(), 1u);
  EXPECT_EQ(Name(profile, 1), "yep_fixture_outer");
}

TEST(SymbolizerTest, StrippedCopyUsesOnlyContainingSymbols) {
  void* lib = Open(YEP_SYMBOLIZER_FIXTURE_STRIPPED);
  const std::string label =
      BaseName(YEP_SYMBOLIZER_FIXTURE_STRIPPED) + std::string("+");
  auto local_address = reinterpret_cast<FunctionPointer>(
      Symbol(lib, "yep_fixture_local_address"));
  auto scaled = reinterpret_cast<FunctionPointer>(
      Symbol(lib, "yep_fixture_scaled_address"));
  Profile profile;
  profile.mappings = SelfMaps();
  uint64_t exported =
      AddLocation(profile, Address(Symbol(lib, "yep_fixture_c_function")) + 4);
  uint64_t cpp = AddLocation(profile, Address(scaled()) + 4);
  const uint64_t local = Address(local_address()) + 2;
  // The fixture is built with -fno-toplevel-reorder, so an exported function
  // precedes the local one: a nearest-symbol lookup would wrongly name it.
  ASSERT_GT(local, Address(Symbol(lib, "yep_fixture_outer")));
  uint64_t no_symbol = AddLocation(profile, local);
  uint64_t no_symbol_further = AddLocation(profile, local + 2);
  yep::Symbolizer().symbolize(profile);
  ExpectModelValid(profile);

  const Location& location = profile.location(exported);
  ASSERT_EQ(location.lines.size(), 1u);
  const Function& function = FunctionOf(profile, location.lines[0]);
  EXPECT_EQ(function.name, "yep_fixture_c_function");
  EXPECT_EQ(function.filename, "");
  EXPECT_EQ(location.lines[0].line, 0);

  EXPECT_EQ(Name(profile, cpp), "yep_fixture::scaled(int)");
  EXPECT_EQ(FunctionOf(profile, profile.location(cpp).lines[0]).system_name,
            "_ZN11yep_fixture6scaledEi");

  // A local function has no dynamic symbol: never the nearest one before it,
  // but its entry from the unwind information, the same for all its addresses.
  EXPECT_EQ(Name(profile, no_symbol), label + Hex(Address(local_address()) - LoadBias(lib)));
  EXPECT_EQ(Name(profile, no_symbol_further), Name(profile, no_symbol));
}

TEST(SymbolizerTest, WorksWithoutDebugAranges) {
  void* lib = Open(YEP_SYMBOLIZER_FIXTURE_NOARANGES);
  auto outer = reinterpret_cast<void*>(Symbol(lib, "yep_fixture_outer"));
  Profile profile;
  profile.mappings = SelfMaps();
  uint64_t c = AddLocation(profile, Address(Symbol(lib, "yep_fixture_c_function")) + 4);
  uint64_t o = AddLocation(profile, Address(outer) + 1);
  yep::Symbolizer().symbolize(profile);
  ExpectModelValid(profile);
  const Function& function = FunctionOf(profile, profile.location(c).lines[0]);
  EXPECT_EQ(function.name, "yep_fixture_c_function");
  EXPECT_EQ(BaseName(function.filename), "symbolizer_fixture.c");
  EXPECT_EQ(function.start_line, IntSymbol(lib, "yep_fixture_c_function_line"));
  EXPECT_EQ(BaseName(FunctionOf(profile, profile.location(o).lines[0]).filename),
            "symbolizer_fixture.c");
}

// A stripped copy whose DWARF is in a separate file named by .gnu_debuglink,
// next to it.
TEST(SymbolizerTest, FindsDebugInfoThroughDebugLink) {
  void* lib = Open(YEP_SYMBOLIZER_FIXTURE_DEBUGLINK);
  auto local_address = reinterpret_cast<FunctionPointer>(
      Symbol(lib, "yep_fixture_local_address"));
  Profile profile;
  profile.mappings = SelfMaps();
  uint64_t c = AddLocation(profile, Address(Symbol(lib, "yep_fixture_c_function")) + 4);
  uint64_t local = AddLocation(profile, Address(local_address()) + 2);
  yep::Symbolizer().symbolize(profile);
  ExpectModelValid(profile);
  const Function& function = FunctionOf(profile, profile.location(c).lines[0]);
  EXPECT_EQ(function.name, "yep_fixture_c_function");
  EXPECT_EQ(BaseName(function.filename), "symbolizer_fixture.c");
  EXPECT_EQ(function.start_line, IntSymbol(lib, "yep_fixture_c_function_line"));
  const Function& hidden = FunctionOf(profile, profile.location(local).lines[0]);
  EXPECT_EQ(hidden.name, "yep_fixture_local");
  EXPECT_EQ(hidden.start_line, IntSymbol(lib, "yep_fixture_local_line"));
}

// A stripped copy with a MiniDebugInfo symbol table (.gnu_debugdata) that
// names its local function.
TEST(SymbolizerTest, ReadsMiniDebugInfo) {
#ifndef YEP_SYMBOLIZER_FIXTURE_MINIDEBUGINFO
  GTEST_SKIP() << "built without xz, so without the MiniDebugInfo fixture";
#else
  void* lib = Open(YEP_SYMBOLIZER_FIXTURE_MINIDEBUGINFO);
  auto local_address = reinterpret_cast<FunctionPointer>(
      Symbol(lib, "yep_fixture_local_address"));
  Profile profile;
  profile.mappings = SelfMaps();
  uint64_t local = AddLocation(profile, Address(local_address()) + 2);
  yep::Symbolizer().symbolize(profile);
  ExpectModelValid(profile);
  EXPECT_EQ(Name(profile, local), "yep_fixture_local");
#endif
}

// The same code built as a non-PIE (ET_EXEC) executable, whose text mapping's
// file offset differs from its virtual address.
TEST(SymbolizerTest, NonPieExecutable) {
  FILE* child = popen("'" YEP_SYMBOLIZER_FIXTURE_EXEC "'", "r");
  ASSERT_NE(child, nullptr);
  std::string output;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, child)) > 0) output.append(buf, n);
  ASSERT_EQ(pclose(child), 0);

  std::istringstream in(output);
  std::string name, address;
  uint64_t c_function = 0, local = 0, scaled = 0;
  while (in >> name && name != "maps" && in >> address) {
    uint64_t value = std::stoull(address, nullptr, 16);
    if (name == "yep_fixture_c_function") c_function = value;
    if (name == "yep_fixture_local") local = value;
    if (name == "yep_fixture_scaled") scaled = value;
  }
  ASSERT_TRUE(c_function && local && scaled) << output;
  Profile profile;
  profile.mappings = ParseMaps(in);
  uint64_t c = AddLocation(profile, c_function + 4);
  uint64_t l = AddLocation(profile, local + 2);
  uint64_t s = AddLocation(profile, scaled + 4);
  yep::Symbolizer().symbolize(profile);
  ExpectModelValid(profile);
  EXPECT_EQ(Name(profile, c), "yep_fixture_c_function");
  EXPECT_EQ(Name(profile, l), "yep_fixture_local");
  EXPECT_EQ(Name(profile, s), "yep_fixture::scaled(int)");
  EXPECT_EQ(BaseName(FunctionOf(profile, profile.location(c).lines[0]).filename),
            "symbolizer_fixture.c");
  // Loaded where it was linked: no bias.
  const Mapping& text = profile.mappings[profile.location(c).mapping_id - 1];
  EXPECT_TRUE(text.placed);
  EXPECT_EQ(text.load_bias, 0u);
  EXPECT_LE(text.code_vaddr, c_function);
}

// A function of this (PIE) test executable, found through its .symtab.
__attribute__((noinline)) int TestExecutableFunction(int x) {
  return x * 7 + 3;
}

TEST(SymbolizerTest, PieExecutableAndLibc) {
  Profile profile;
  profile.mappings = SelfMaps();
  uint64_t own = AddLocation(profile, Address(reinterpret_cast<void*>(
                                          &TestExecutableFunction)));
  uint64_t libc = AddLocation(profile, Address(dlsym(RTLD_DEFAULT, "getpid")));
  yep::Symbolizer().symbolize(profile);
  ExpectModelValid(profile);
  EXPECT_NE(Name(profile, own).find("TestExecutableFunction"), std::string::npos)
      << Name(profile, own);
  const std::string name = Name(profile, libc);
  EXPECT_FALSE(name.empty());
  EXPECT_NE(name.rfind("0x", 0), 0u) << name;
  EXPECT_EQ(name.find("+0x"), std::string::npos) << name;
  std::printf("getpid symbolized as %s\n", name.c_str());
}

TEST(SymbolizerTest, AddressesWithoutUsableFilesGetFallbackNames) {
  char dir_template[] = "/tmp/yep_symbolizer_test.XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  const std::string dir = dir_template;
  const std::string text_file = dir + "/notes.txt";
  std::ofstream(text_file) << "not an ELF file\n";
  const std::string fifo = dir + "/pipe";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);

  Profile profile;
  const uint64_t base = 0x7f0000000000;
  const uint64_t size = 0x10000;
  auto add = [&](const std::string& filename, uint64_t index) {
    AddMapping(profile, base + index * size, size, 0x3000, filename);
    return AddLocation(profile, base + index * size + 0x10);
  };
  uint64_t missing = add("/nonexistent/dir/libgone.so", 0);
  uint64_t deleted = add(dir + "/libold.so (deleted)", 1);
  uint64_t not_elf = add(text_file, 2);
  uint64_t pipe = add(fifo, 3);
  uint64_t vdso = add("[vdso]", 4);
  uint64_t anonymous = add("", 5);
  uint64_t directory = add(dir, 6);
  uint64_t unmapped = AddLocation(profile, 0x1234);
  uint64_t zero = AddLocation(profile, 0);
  // A mapping id that names no mapping must not crash either.
  uint64_t bad_id = AddLocation(profile, 0x5678);
  profile.locations[bad_id - 1].mapping_id = 999;

  yep::Symbolizer().symbolize(profile);
  EXPECT_EQ(Name(profile, missing), "libgone.so+0x3010");
  EXPECT_EQ(Name(profile, deleted), "libold.so+0x3010");
  EXPECT_EQ(Name(profile, not_elf), "notes.txt+0x3010");
  EXPECT_EQ(Name(profile, pipe), "pipe+0x3010");
  EXPECT_EQ(Name(profile, vdso), "[vdso]+0x3010");
  EXPECT_EQ(Name(profile, anonymous), "0x7f0000050010");
  EXPECT_EQ(Name(profile, directory), BaseName(dir) + "+0x3010");
  EXPECT_EQ(Name(profile, unmapped), "0x1234");
  EXPECT_EQ(Name(profile, zero), "0x0");
  EXPECT_EQ(Name(profile, bad_id), "0x5678");
  for (const Mapping& m : profile.mappings) EXPECT_EQ(m.build_id, "");
  profile.locations[bad_id - 1].mapping_id = 0;
  ExpectModelValid(profile);

  unlink(fifo.c_str());
  unlink(text_file.c_str());
  rmdir(dir.c_str());
}

// A file is used for a mapping only if its build id is the one the profile
// recorded (when it recorded one); a deleted file only then.
TEST(SymbolizerTest, BuildIdDecidesWhetherAFileIsUsed) {
  void* lib = Open(YEP_SYMBOLIZER_FIXTURE);
  const uint64_t f = Address(Symbol(lib, "yep_fixture_c_function"));
  std::string real_build_id;
  {
    Profile profile;
    profile.mappings = SelfMaps();
    uint64_t id = AddLocation(profile, f);
    yep::Symbolizer().symbolize(profile);
    real_build_id = profile.mappings[profile.location(id).mapping_id - 1].build_id;
    ASSERT_FALSE(real_build_id.empty());
  }
  const std::string other = "00112233445566778899aabbccddeeff00112233";
  Profile profile;
  profile.mappings = SelfMaps();
  uint64_t wrong = AddLocation(profile, f);
  Mapping& mapping = profile.mappings[profile.location(wrong).mapping_id - 1];
  mapping.build_id = other;
  // The same mapping again, as if the file had been deleted, first with the
  // right build id, then with none.
  Mapping deleted = mapping;
  deleted.filename += " (deleted)";
  deleted.build_id = real_build_id;
  deleted.id = profile.mappings.size() + 1;
  profile.mappings.push_back(deleted);
  deleted.build_id = "";
  deleted.id = profile.mappings.size() + 1;
  profile.mappings.push_back(deleted);
  uint64_t deleted_known = AddLocation(profile, f);
  profile.locations.back().mapping_id = profile.mappings.size() - 1;
  uint64_t deleted_unknown = AddLocation(profile, f);
  profile.locations.back().mapping_id = profile.mappings.size();

  yep::Symbolizer().symbolize(profile);
  const std::string label = BaseName(YEP_SYMBOLIZER_FIXTURE) + "+0x";
  EXPECT_EQ(Name(profile, wrong).rfind(label, 0), 0u) << Name(profile, wrong);
  EXPECT_EQ(profile.mappings[profile.location(wrong).mapping_id - 1].build_id, other);
  EXPECT_EQ(Name(profile, deleted_known), "yep_fixture_c_function");
  EXPECT_EQ(Name(profile, deleted_unknown).rfind(label, 0), 0u)
      << Name(profile, deleted_unknown);
  EXPECT_EQ(profile.mappings.back().build_id, "");
  ExpectModelValid(profile);
}

TEST(SymbolizerTest, KeepsExistingLinesAndFunctions) {
  void* lib = Open(YEP_SYMBOLIZER_FIXTURE);
  Profile profile;
  profile.mappings = SelfMaps();
  Function python;
  python.id = 1;
  python.name = "main";
  python.system_name = "main";
  python.filename = "script.py";
  python.start_line = 3;
  profile.functions.push_back(python);
  uint64_t py = AddLocation(profile, 0);
  profile.locations[py - 1].lines.push_back({1, 7});
  uint64_t f = Address(Symbol(lib, "yep_fixture_c_function"));
  uint64_t a = AddLocation(profile, f + 1);
  uint64_t b = AddLocation(profile, f + 2);

  yep::Symbolizer symbolizer;
  symbolizer.symbolize(profile);
  ASSERT_EQ(profile.location(py).lines.size(), 1u);
  EXPECT_EQ(profile.location(py).lines[0].function_id, 1u);
  EXPECT_EQ(profile.location(py).lines[0].line, 7);
  EXPECT_EQ(profile.functions.size(), 2u);
  EXPECT_EQ(profile.location(a).lines[0].function_id, 2u);
  EXPECT_EQ(profile.location(b).lines[0].function_id, 2u);
  ExpectModelValid(profile);

  // A second profile through the same Symbolizer (cached files and modules).
  Profile again;
  again.mappings = SelfMaps();
  uint64_t c = AddLocation(again, f + 3);
  symbolizer.symbolize(again);
  EXPECT_EQ(Name(again, c), "yep_fixture_c_function");
  EXPECT_EQ(again.functions.size(), 1u);
}

}  // namespace
