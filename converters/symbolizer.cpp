// Symbolizer: see symbolizer.h for what it promises.
//
// How it is put together:
//  - ObjectFile: what we read once from a file's ELF headers (PT_LOAD
//    segments, build id), enough to turn a pc into an ELF address.
//  - Module: one file reported to the libdwfl session at one load bias.
//    libdwfl finds its symbol tables and (separate) DWARF lazily.
//  - DWARF lookup: the CU comes from libdwfl (via .debug_aranges, or our own
//    index of CU ranges when those are missing), the subprogram from a
//    per-CU index of subprogram ranges, the inlined frames by descending from
//    the subprogram into the scopes that contain the pc.
//  - The answer for an ELF address (frames, or the entry of an unnamed
//    function) is computed in a form that does not depend on the mapping or
//    the profile, so that SymbolCache (symbol_cache.h) can keep it between
//    runs by build id; frames_of() turns it into frames, cached or not.
//  - symbolize(): resolves each unsymbolized location to frames and interns
//    their functions into the profile, then saves the new answers.
#include "symbolizer.h"

#include <cxxabi.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwelf.h>
#include <elfutils/libdwfl.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <tuple>
#include <unordered_map>
#include <utility>

#include "function_identity.h"
#include "function_name.h"
#include "progress.h"
#include "symbol_cache.h"

namespace yep {
namespace {

// ---------------------------------------------------------------------------
// Small helpers.

std::string hex(uint64_t value) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%" PRIx64, value);
  return buf;
}

std::string hex_bytes(const void* data, size_t size) {
  static const char digits[] = "0123456789abcdef";
  const auto* bytes = static_cast<const unsigned char*>(data);
  std::string out;
  out.reserve(2 * size);
  for (size_t i = 0; i < size; ++i) {
    out += digits[bytes[i] >> 4];
    out += digits[bytes[i] & 0xf];
  }
  return out;
}

std::string lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

std::string base_name(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// The path of the file a mapping's filename names, without the kernel's
// " (deleted)" suffix; says in *deleted whether it had one.
std::string object_path(const Mapping& mapping, bool* deleted) {
  static const std::string suffix = " (deleted)";
  const std::string& name = mapping.filename;
  *deleted = name.size() >= suffix.size() &&
             name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  return *deleted ? name.substr(0, name.size() - suffix.size()) : name;
}

// The demangled form of an Itanium C++ ABI name, "" if it isn't one.
std::string demangle(const char* name) {
  if (name == nullptr || name[0] != '_' || name[1] != 'Z') return "";
  int status = 0;
  char* out = abi::__cxa_demangle(name, nullptr, nullptr, &status);
  std::string result = (status == 0 && out != nullptr) ? out : "";
  std::free(out);
  return result;
}

// A function as the profile stores it, without its id.
struct FunctionKey {
  std::string name;
  std::string system_name;
  std::string filename;
  int64_t start_line = 0;
};

// One frame of a resolved address: a function and the line in it.
struct Frame {
  FunctionKey function;
  int64_t line = 0;
};

Frame named_frame(const std::string& name) {
  Frame frame;
  frame.function.name = name;
  frame.function.system_name = name;
  return frame;
}

CachedFrame cached_frame(const Frame& frame) {
  return {frame.function.name, frame.function.system_name, frame.function.filename,
          frame.function.start_line, frame.line};
}

// The frames of an answer; a frame without a name gets `fallback_name`.
std::vector<Frame> frames_of(const CachedAnswer& answer, const std::string& fallback_name) {
  std::vector<Frame> frames;
  for (const CachedFrame& f : answer.frames) {
    Frame frame = f.name.empty() ? named_frame(fallback_name)
                                 : Frame{{f.name, f.system_name, f.filename, f.start_line}, 0};
    frame.line = f.line;
    frames.push_back(std::move(frame));
  }
  return frames;
}

// Where libdwfl looks first for the separate debug info of a build id.
std::string build_id_debug_path(const std::string& build_id) {
  return "/usr/lib/debug/.build-id/" + build_id.substr(0, 2) + "/" + build_id.substr(2) + ".debug";
}

// ---------------------------------------------------------------------------
// ObjectFile: the ELF headers of one file on disk.

struct Segment {  // a PT_LOAD program header
  uint64_t offset, vaddr, filesz, memsz;
};

struct ObjectFile {
  bool usable = false;  // a regular ELF executable or shared object
  std::vector<Segment> loads;
  std::string build_id;  // hex, "" if it has none

  // The ELF virtual address that file offset `offset` is loaded at, by the
  // PT_LOAD segment that holds it, and where that segment begins. False if
  // no segment does.
  bool elf_address(uint64_t offset, uint64_t* address, uint64_t* segment_vaddr) const {
    for (bool file_part : {true, false}) {
      for (const Segment& s : loads) {
        uint64_t size = file_part ? s.filesz : s.memsz;
        if (offset >= s.offset && offset - s.offset < size) {
          *address = offset - s.offset + s.vaddr;
          *segment_vaddr = s.vaddr;
          return true;
        }
      }
    }
    return false;
  }
};

ObjectFile read_object_file(const std::string& path) {
  ObjectFile object;
  // Only regular files: opening a FIFO or a device named in the maps could
  // block or have side effects.
  struct stat st;
  if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return object;
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return object;
  Elf* elf = elf_begin(fd, ELF_C_READ_MMAP, nullptr);
  if (elf != nullptr && elf_kind(elf) == ELF_K_ELF) {
    size_t phnum = 0;
    if (elf_getphdrnum(elf, &phnum) == 0) {
      for (size_t i = 0; i < phnum; ++i) {
        GElf_Phdr mem;
        const GElf_Phdr* ph = gelf_getphdr(elf, static_cast<int>(i), &mem);
        if (ph != nullptr && ph->p_type == PT_LOAD) {
          object.loads.push_back(
              {ph->p_offset, ph->p_vaddr, ph->p_filesz, ph->p_memsz});
        }
      }
    }
    const void* id = nullptr;
    ssize_t id_size = dwelf_elf_gnu_build_id(elf, &id);
    if (id_size > 0) object.build_id = hex_bytes(id, static_cast<size_t>(id_size));
    // Only these are mapped by the loader; libdwfl would lay out an ET_REL
    // object at made-up addresses.
    GElf_Ehdr ehdr;
    bool loadable = gelf_getehdr(elf, &ehdr) != nullptr &&
                    (ehdr.e_type == ET_EXEC || ehdr.e_type == ET_DYN);
    object.usable = loadable && !object.loads.empty();
  }
  if (elf != nullptr) elf_end(elf);
  close(fd);
  return object;
}

// ---------------------------------------------------------------------------
// IntervalIndex: which value's address range holds an address, for ranges
// that may be several per value (hot/cold split functions) and, rarely,
// nested or overlapping.

template <typename T>
class IntervalIndex {
 public:
  void add(uint64_t low, uint64_t high, const T& value) {
    if (low < high) entries_.push_back({low, high, value});
  }

  // Call once after the last add().
  void finish() {
    std::stable_sort(entries_.begin(), entries_.end(),
                     [](const Entry& a, const Entry& b) { return a.low < b.low; });
    max_high_.resize(entries_.size());
    uint64_t max_high = 0;
    for (size_t i = 0; i < entries_.size(); ++i) {
      max_high = std::max(max_high, entries_[i].high);
      max_high_[i] = max_high;
    }
  }

  // Of the values whose range holds `address`, the one whose range starts
  // last (the innermost), the first added among equals; null if none.
  const T* find(uint64_t address) const {
    auto it = std::upper_bound(
        entries_.begin(), entries_.end(), address,
        [](uint64_t value, const Entry& e) { return value < e.low; });
    const Entry* found = nullptr;
    // Walk back only while some earlier range still reaches past address.
    for (size_t i = static_cast<size_t>(it - entries_.begin()); i-- > 0;) {
      if (max_high_[i] <= address) break;
      if (found != nullptr && entries_[i].low < found->low) break;
      if (address < entries_[i].high) found = &entries_[i];
    }
    return found ? &found->value : nullptr;
  }

 private:
  struct Entry {
    uint64_t low, high;
    T value;
  };
  std::vector<Entry> entries_;
  std::vector<uint64_t> max_high_;  // max of high over entries_[0..i]
};

using DieIndex = IntervalIndex<Dwarf_Die>;

// Adds every address range of `die` (DW_AT_low_pc/high_pc or DW_AT_ranges).
void add_ranges(Dwarf_Die* die, DieIndex* index) {
  Dwarf_Addr base = 0, low = 0, high = 0;
  ptrdiff_t offset = 0;
  while ((offset = dwarf_ranges(die, offset, &base, &low, &high)) > 0) {
    index->add(low, high, *die);
  }
}

// Adds the concrete subprograms under `parent` to `index`, looking into
// namespaces and Fortran modules (where C++/Fortran definitions live) but not
// into types or function bodies.
void collect_subprograms(Dwarf_Die* parent, DieIndex* index) {
  Dwarf_Die child;
  if (dwarf_child(parent, &child) != 0) return;
  do {
    switch (dwarf_tag(&child)) {
      case DW_TAG_subprogram:
        add_ranges(&child, index);
        break;
      case DW_TAG_namespace:
      case DW_TAG_module:
        collect_subprograms(&child, index);
        break;
      default:
        break;
    }
  } while (dwarf_siblingof(&child, &child) == 0);
}

// The child scope of `parent` that contains `pc`: a lexical block, an
// inlined subroutine or a nested subprogram. Blocks without any address
// attribute are searched through.
bool child_scope_containing(Dwarf_Die* parent, Dwarf_Addr pc, Dwarf_Die* out) {
  Dwarf_Die child;
  if (dwarf_child(parent, &child) != 0) return false;
  do {
    int tag = dwarf_tag(&child);
    if (tag != DW_TAG_lexical_block && tag != DW_TAG_inlined_subroutine &&
        tag != DW_TAG_subprogram && tag != DW_TAG_try_block &&
        tag != DW_TAG_catch_block) {
      continue;
    }
    if (dwarf_haspc(&child, pc) > 0) {
      *out = child;
      return true;
    }
    if (tag == DW_TAG_lexical_block && !dwarf_hasattr(&child, DW_AT_low_pc) &&
        !dwarf_hasattr(&child, DW_AT_ranges) &&
        child_scope_containing(&child, pc, out)) {
      return true;
    }
  } while (dwarf_siblingof(&child, &child) == 0);
  return false;
}

// The function scopes that contain `pc`, outermost first: the subprogram,
// then each inlined_subroutine nested in it.
std::vector<Dwarf_Die> function_scopes(Dwarf_Die subprogram, Dwarf_Addr pc) {
  std::vector<Dwarf_Die> chain{subprogram};
  Dwarf_Die scope = subprogram, child;
  while (child_scope_containing(&scope, pc, &child)) {
    int tag = dwarf_tag(&child);
    if (tag == DW_TAG_inlined_subroutine) {
      chain.push_back(child);
    } else if (tag == DW_TAG_subprogram) {
      chain.assign(1, child);  // a nested function has a frame of its own
    }
    scope = child;
  }
  return chain;
}

// A string attribute, following DW_AT_abstract_origin / DW_AT_specification.
const char* integrated_string(Dwarf_Die* die, unsigned int name) {
  Dwarf_Attribute mem;
  return dwarf_formstring(dwarf_attr_integrate(die, name, &mem));
}

int64_t udata_attribute(Dwarf_Attribute* attr) {
  Dwarf_Word value = 0;
  if (attr == nullptr || dwarf_formudata(attr, &value) != 0) return 0;
  return static_cast<int64_t>(value);
}

// `name` from a line table of `unit`, made absolute with the unit's
// comp_dir when that is absolute; "" for libdw's "???" (no file).
std::string source_path(const char* name, Dwarf_Die* unit) {
  if (name == nullptr || *name == '\0' || std::strcmp(name, "???") == 0) {
    return "";
  }
  std::string path = name;
  if (path[0] != '/') {
    Dwarf_Attribute mem;
    const char* dir = dwarf_formstring(dwarf_attr(unit, DW_AT_comp_dir, &mem));
    if (dir != nullptr && dir[0] == '/') path = std::string(dir) + "/" + path;
  }
  return path;
}

// The source file that declares `die`.
std::string decl_file(Dwarf_Die* die) {
  Dwarf_Attribute mem;
  Dwarf_Attribute* attr = dwarf_attr_integrate(die, DW_AT_decl_file, &mem);
  Dwarf_Word index = 0;
  if (attr == nullptr || dwarf_formudata(attr, &index) != 0) return "";
  // The file index refers to the line table of the unit the attribute was
  // found in, which for an abstract origin may not be die's own unit.
  Dwarf_Die unit;
  if (dwarf_cu_die(attr->cu, &unit, nullptr, nullptr, nullptr, nullptr,
                   nullptr, nullptr) == nullptr) {
    return "";
  }
  Dwarf_Files* files = nullptr;
  size_t count = 0;
  if (dwarf_getsrcfiles(&unit, &files, &count) != 0 || index >= count) return "";
  return source_path(dwarf_filesrc(files, index, nullptr, nullptr), &unit);
}

// Name, linkage name, file and line of the function a subprogram or
// inlined_subroutine DIE is an instance of. An empty name means DWARF
// doesn't name it.
FunctionKey describe_function(Dwarf_Die* die) {
  FunctionKey key;
  const char* linkage_name = integrated_string(die, DW_AT_linkage_name);
  if (linkage_name == nullptr) linkage_name = integrated_string(die, DW_AT_MIPS_linkage_name);
  const char* plain = integrated_string(die, DW_AT_name);
  // A compiler's copy (LTO names them in DWARF too) is the function copied.
  const std::string linkage = linkage_name ? without_clone_suffix(linkage_name) : "";
  key.name = demangle(linkage.c_str());
  if (key.name.empty()) key.name = plain ? without_clone_suffix(plain) : linkage;
  key.system_name = linkage_name ? linkage : key.name;
  if (std::string python = cython_name(key.system_name); !python.empty()) key.name = python;
  key.filename = decl_file(die);
  Dwarf_Attribute mem;
  key.start_line = udata_attribute(dwarf_attr_integrate(die, DW_AT_decl_line, &mem));
  // Assembly functions (GNU as describes each one with a subprogram) have no
  // declaration: use the line table at their entry instead.
  Dwarf_Addr entry = 0;
  Dwarf_Die unit;
  if (key.filename.empty() && dwarf_tag(die) == DW_TAG_subprogram &&
      dwarf_entrypc(die, &entry) == 0 &&
      dwarf_diecu(die, &unit, nullptr, nullptr) != nullptr) {
    Dwarf_Line* row = dwarf_getsrc_die(&unit, entry);
    int line = 0;
    if (row != nullptr) {
      key.filename = source_path(dwarf_linesrc(row, nullptr, nullptr), &unit);
      if (key.start_line == 0 && dwarf_lineno(row, &line) == 0) key.start_line = line;
    }
  }
  return key;
}

// A named symbol of an object's symbol tables: the candidates for addresses
// that DWARF doesn't cover.
struct Symbol {
  const char* name;  // owned by libdwfl's ELF data, lives as long as the Dwfl
};

// Of several symbols at the same address (aliases such as getpid,
// __getpid and __GI_getpid), the one people know: global or weak before
// local, then the fewest leading underscores, then the shortest.
bool better_alias(const char* a, int a_binding, const char* b, int b_binding) {
  auto rank = [](const char* name, int binding) {
    size_t underscores = std::strspn(name, "_");
    return std::make_tuple(binding == STB_LOCAL, underscores, std::strlen(name));
  };
  auto ra = rank(a, a_binding), rb = rank(b, b_binding);
  return ra != rb ? ra < rb : std::strcmp(a, b) < 0;
}

// All sized symbols of a module (.symtab, else .dynsym, plus MiniDebugInfo),
// by Dwfl address.
IntervalIndex<Symbol> symbol_index(Dwfl_Module* module) {
  struct Candidate {
    uint64_t low, high;
    const char* name;
    int binding;
  };
  std::vector<Candidate> candidates;
  int count = dwfl_module_getsymtab(module);
  for (int i = 1; i < count; ++i) {
    GElf_Sym sym;
    GElf_Addr address = 0;
    GElf_Word section = 0;
    const char* name = dwfl_module_getsym_info(module, i, &sym, &address,
                                               &section, nullptr, nullptr);
    int type = GELF_ST_TYPE(sym.st_info);
    // Sizeless symbols say nothing about where they end; undefined,
    // absolute and non-allocated ones are not in this object's memory.
    if (name == nullptr || *name == '\0' || sym.st_size == 0 ||
        section == SHN_UNDEF || section == SHN_ABS ||
        section == static_cast<GElf_Word>(-1) || type == STT_SECTION ||
        type == STT_FILE || type == STT_TLS) {
      continue;
    }
    candidates.push_back({address, address + sym.st_size, name,
                          GELF_ST_BIND(sym.st_info)});
  }
  // IntervalIndex prefers the first added of equal ranges: add the best
  // alias first.
  std::sort(candidates.begin(), candidates.end(),
            [](const Candidate& a, const Candidate& b) {
              if (a.low != b.low) return a.low < b.low;
              return better_alias(a.name, a.binding, b.name, b.binding);
            });
  IntervalIndex<Symbol> index;
  for (const Candidate& c : candidates) index.add(c.low, c.high, Symbol{c.name});
  index.finish();
  return index;
}

// Where libdwfl looks for separate debug info: next to the file, in .debug/
// beside it, and under /usr/lib/debug (by build id and by .gnu_debuglink).
char* debuginfo_path = nullptr;  // null: libdwfl's default, which is that
const Dwfl_Callbacks dwfl_callbacks = {
    dwfl_build_id_find_elf,
    dwfl_standard_find_debuginfo,
    dwfl_offline_section_address,
    &debuginfo_path,
};

}  // namespace

// ---------------------------------------------------------------------------

class Symbolizer::Impl {
 public:
  Impl() {
    elf_version(EV_CURRENT);
    dwfl_ = dwfl_begin(&dwfl_callbacks);
    const char* dirs = std::getenv("YEP_BINARY_PATH");
    if (dirs == nullptr || !*dirs) dirs = std::getenv("PPROF_BINARY_PATH");
    for (std::string rest = dirs ? dirs : ""; !rest.empty();) {
      const size_t colon = rest.find(':');
      std::string dir = rest.substr(0, colon);
      while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
      if (!dir.empty()) binary_path_.push_back(dir);
      rest = colon == std::string::npos ? "" : rest.substr(colon + 1);
    }
  }
  ~Impl() {
    if (dwfl_ != nullptr) dwfl_end(dwfl_);
  }

  void symbolize(Profile& profile);

 private:
  // One object file reported to the libdwfl session at one load bias.
  struct Module {
    Dwfl_Module* dwfl_module = nullptr;  // null if libdwfl refused the file
    GElf_Addr bias = 0;                  // Dwfl address = ELF address + bias
    // Built on first use:
    std::unique_ptr<DieIndex> cu_index;  // where .debug_aranges has no answer
    std::unique_ptr<IntervalIndex<Symbol>> symbols;
  };

  const ObjectFile& object_file(const std::string& path);
  // The object file for a mapping (its path, or a copy in binary_path_;
  // *found says which), nullptr when there is none of its build.
  const ObjectFile* object_for(const Mapping& mapping, std::string* found);
  Module& module(const std::string& path, uint64_t bias);
  // Where an address was found in its object file: the load bias and the
  // start of the PT_LOAD segment that holds it.
  struct Found {
    bool in_file = false;
    uint64_t load_bias = 0, segment_vaddr = 0;
  };
  std::vector<Frame> resolve(const Mapping* mapping, uint64_t address, Found* where);
  Frame hinted_or(uint64_t address, const std::string& fallback) const;
  const std::vector<FunctionHint>* hints_ = nullptr;  // of the profile being symbolized
  // Frames without a name in DWARF are left without one (the caller's
  // fallback name).
  std::vector<Frame> dwarf_frames(Module& module, Dwarf_Addr address);
  Dwarf_Die* cu_from_own_index(Module& module, Dwarf_Addr address,
                               Dwarf_Addr* bias);
  const DieIndex& subprograms(Dwarf_Die* cu);
  const FunctionKey& function_of(Dwarf_Die* die);
  bool symbol_frame(Module& module, Dwarf_Addr address, Frame* frame);
  // The answer for an ELF address of the object file at `path`, from DWARF,
  // the symbol tables or the unwind information.
  CachedAnswer answer(const std::string& path, uint64_t load_bias, uint64_t elf_address);
  // The cached answers of the object file at `path`, read on first use.
  struct CachedObject {
    std::string build_id;
    std::map<uint64_t, CachedAnswer> answers;
    bool changed = false;  // holds answers the cache file does not
  };
  CachedObject& cached(const std::string& path, const std::string& build_id);
  void save_cache();

  Dwfl* dwfl_ = nullptr;
  std::vector<std::string> binary_path_;  // where copies of missing objects may be
  std::map<std::string, bool> missing_;   // of the profile being symbolized: path -> changed
  std::unordered_map<std::string, ObjectFile> files_;
  std::map<std::pair<std::string, uint64_t>, Module> modules_;
  // Keyed by the DIE's address in the mapped debug data, unique per DIE.
  std::unordered_map<const void*, DieIndex> cu_subprograms_;
  std::unordered_map<const void*, FunctionKey> functions_;
  SymbolCache cache_;
  std::unordered_map<std::string, CachedObject> cached_;  // by path of the object file read
};

const ObjectFile& Symbolizer::Impl::object_file(const std::string& path) {
  auto it = files_.find(path);
  if (it == files_.end()) it = files_.emplace(path, read_object_file(path)).first;
  return it->second;
}

// The file to read for `mapping`, or null if there is none we can trust.
const ObjectFile* Symbolizer::Impl::object_for(const Mapping& mapping, std::string* found) {
  bool deleted = false;
  const std::string path = object_path(mapping, &deleted);
  if (path.empty() || path[0] != '/') return nullptr;  // [vdso], [heap], ...
  auto matches = [&](const ObjectFile& object) {
    return object.usable && (mapping.build_id.empty() || lower(mapping.build_id) == object.build_id);
  };
  // A deleted file's path may now hold another build: use it only when the
  // profile recorded the build id to check it against.
  if (!deleted || !mapping.build_id.empty()) {
    const ObjectFile& object = object_file(path);
    if (matches(object)) {
      *found = path;
      return &object;
    }
  }
  for (const std::string& dir : binary_path_) {
    for (const std::string& candidate : {dir + path, dir + "/" + base_name(path)}) {
      const ObjectFile& object = object_file(candidate);
      if (matches(object)) {
        *found = candidate;
        return &object;
      }
    }
  }
  return nullptr;
}

Symbolizer::Impl::Module& Symbolizer::Impl::module(const std::string& path,
                                                   uint64_t bias) {
  auto key = std::make_pair(path, bias);
  auto it = modules_.find(key);
  if (it != modules_.end()) return it->second;
  Module& m = modules_[key];
  if (dwfl_ == nullptr) return m;
  dwfl_report_begin_add(dwfl_);
  // For ET_DYN, base with add_p_vaddr = true is the load bias itself. libdwfl
  // ignores the base of ET_EXEC files (their bias is 0), so the bias is read
  // back from libdwfl rather than assumed.
  Dwfl_Module* dm =
      dwfl_report_elf(dwfl_, path.c_str(), path.c_str(), -1, bias, true);
  dwfl_report_end(dwfl_, nullptr, nullptr);
  GElf_Addr dwfl_bias = 0;
  if (dm != nullptr && dwfl_module_getelf(dm, &dwfl_bias) != nullptr) {
    m.dwfl_module = dm;
    m.bias = dwfl_bias;
  }
  return m;
}

std::vector<Frame> Symbolizer::Impl::resolve(const Mapping* mapping,
                                             uint64_t address, Found* where) {
  if (mapping == nullptr || mapping->filename.empty() ||
      address < mapping->memory_start || address >= mapping->memory_limit) {
    return {named_frame(hex(address))};
  }
  bool deleted = false;
  const std::string path = object_path(*mapping, &deleted);
  const std::string label = base_name(path) + "+";
  const uint64_t file_offset =
      address - mapping->memory_start + mapping->file_offset;

  std::string found;
  const ObjectFile* object = object_for(*mapping, &found);
  if (object == nullptr && path[0] == '/' && !deleted) {
    // Gone from here, or another build than the profile's (not a file that
    // is no object file: /memfd:..., a device).
    struct stat st;
    const bool gone = stat(path.c_str(), &st) != 0;
    const ObjectFile& here = object_file(path);
    if (gone || (here.usable && !mapping->build_id.empty())) missing_.emplace(path, !gone);
  }
  uint64_t elf_address = 0, segment_vaddr = 0;
  if (object == nullptr || !object->elf_address(file_offset, &elf_address, &segment_vaddr)) {
    return {hinted_or(address, label + hex(file_offset))};
  }
  *where = {true, address - elf_address, segment_vaddr};
  const CachedAnswer* found_answer = nullptr;
  CachedAnswer computed;
  if (!object->build_id.empty() && cache_.enabled()) {
    CachedObject& c = cached(found, object->build_id);
    auto it = c.answers.find(elf_address);
    if (it == c.answers.end() && c.answers.size() < kMaxCacheEntries) {
      it = c.answers.emplace(elf_address, answer(found, address - elf_address, elf_address)).first;
      c.changed = true;
    }
    if (it != c.answers.end()) found_answer = &it->second;
  }
  if (found_answer == nullptr) found_answer = &(computed = answer(found, address - elf_address, elf_address));
  if (found_answer->unnamed) return {hinted_or(address, label + hex(found_answer->entry))};
  return frames_of(*found_answer, label + hex(elf_address));
}

CachedAnswer Symbolizer::Impl::answer(const std::string& path, uint64_t load_bias, uint64_t elf_address) {
  CachedAnswer result;
  result.unnamed = true;
  result.entry = elf_address;
  Module& m = module(path, load_bias);
  if (m.dwfl_module == nullptr) return result;
  Dwarf_Addr dwfl_address = elf_address + m.bias;
  std::vector<Frame> frames = dwarf_frames(m, dwfl_address);
  Frame frame;
  if (frames.empty() && symbol_frame(m, dwfl_address, &frame)) frames.push_back(frame);
  if (!frames.empty()) {
    result.unnamed = false;
    for (const Frame& f : frames) result.frames.push_back(cached_frame(f));
    return result;
  }
  // No symbol: the function's entry, where its unwind information (every
  // object has it) says the function starts, names every address in it.
  Dwarf_Addr cfi_bias = 0;
  Dwarf_CFI* cfi = dwfl_module_eh_cfi(m.dwfl_module, &cfi_bias);
  Dwarf_Frame* fde = nullptr;
  Dwarf_Addr start = 0, end = 0;
  if (cfi && dwarf_cfi_addrframe(cfi, dwfl_address - cfi_bias, &fde) == 0) {
    if (dwarf_frame_info(fde, &start, &end, nullptr) >= 0 && start + cfi_bias - m.bias <= elf_address)
      result.entry = start + cfi_bias - m.bias;
    free(fde);
  }
  return result;
}

Symbolizer::Impl::CachedObject& Symbolizer::Impl::cached(const std::string& path, const std::string& build_id) {
  auto it = cached_.find(path);
  if (it == cached_.end()) it = cached_.emplace(path, CachedObject{build_id, cache_.load(build_id, path), false}).first;
  return it->second;
}

// Writes the answers found since the last save, with the files they came from.
void Symbolizer::Impl::save_cache() {
  for (auto& [path, c] : cached_) {
    if (!c.changed) continue;
    c.changed = false;
    CacheContents contents;
    contents.build_id = c.build_id;
    const char* urls = std::getenv("DEBUGINFOD_URLS");
    contents.debuginfod = urls != nullptr && *urls != '\0';
    contents.sources.push_back(stamp_of(path));
    contents.sources.push_back(stamp_of(build_id_debug_path(c.build_id)));
    // The separate debug file libdwfl read for it, wherever it found it.
    for (const auto& [key, m] : modules_) {
      const char* debugfile = nullptr;
      if (key.first != path || m.dwfl_module == nullptr) continue;
      dwfl_module_info(m.dwfl_module, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, &debugfile);
      if (debugfile != nullptr && debugfile != contents.sources[1].path) contents.sources.push_back(stamp_of(debugfile));
      break;
    }
    contents.answers = c.answers;
    cache_.save(contents);
  }
}

// The capture's name for a function the object file does not name (see
// FunctionHint), else `fallback`.
Frame Symbolizer::Impl::hinted_or(uint64_t address, const std::string& fallback) const {
  const std::vector<FunctionHint>& hints = *hints_;
  auto it = std::upper_bound(hints.begin(), hints.end(), address,
                             [](uint64_t a, const FunctionHint& h) { return a < h.start; });
  if (it != hints.begin() && address < std::prev(it)->end) return named_frame(std::prev(it)->name);
  return named_frame(fallback);
}

// Frames from DWARF, innermost first; empty if DWARF doesn't cover the
// address with a subprogram.
std::vector<Frame> Symbolizer::Impl::dwarf_frames(Module& m, Dwarf_Addr address) {
  Dwarf_Addr bias = 0;
  Dwarf_Die* cu = dwfl_module_addrdie(m.dwfl_module, address, &bias);
  if (cu == nullptr) cu = cu_from_own_index(m, address, &bias);
  if (cu == nullptr) return {};
  const Dwarf_Addr pc = address - bias;
  const Dwarf_Die* subprogram = subprograms(cu).find(pc);
  if (subprogram == nullptr) return {};

  std::vector<Dwarf_Die> scopes = function_scopes(*subprogram, pc);
  Dwarf_Line* row = dwarf_getsrc_die(cu, pc);
  int line = 0;
  if (row == nullptr || dwarf_lineno(row, &line) != 0) line = 0;

  std::vector<Frame> frames;
  int64_t current_line = line;
  for (size_t i = scopes.size(); i-- > 0;) {
    Frame frame;
    frame.function = function_of(&scopes[i]);
    frame.line = current_line;
    frames.push_back(std::move(frame));
    // The frame that inlined this one is at the call site.
    Dwarf_Attribute mem;
    current_line = udata_attribute(dwarf_attr(&scopes[i], DW_AT_call_line, &mem));
  }
  return frames;
}

// The CU holding `address` from our own index of CU address ranges, for
// objects whose .debug_aranges is missing or incomplete (libdwfl 0.188 finds
// CUs only through .debug_aranges; clang does not emit it by default).
Dwarf_Die* Symbolizer::Impl::cu_from_own_index(Module& m, Dwarf_Addr address,
                                               Dwarf_Addr* bias) {
  Dwarf_Addr dwarf_bias = 0;
  if (dwfl_module_getdwarf(m.dwfl_module, &dwarf_bias) == nullptr) return nullptr;
  if (m.cu_index == nullptr) {
    m.cu_index.reset(new DieIndex);
    Dwarf_Addr cu_bias = 0;
    Dwarf_Die* cu = nullptr;
    while ((cu = dwfl_module_nextcu(m.dwfl_module, cu, &cu_bias)) != nullptr) {
      add_ranges(cu, m.cu_index.get());
    }
    m.cu_index->finish();
  }
  const Dwarf_Die* cu = m.cu_index->find(address - dwarf_bias);
  if (cu == nullptr) return nullptr;
  *bias = dwarf_bias;
  return const_cast<Dwarf_Die*>(cu);
}

const DieIndex& Symbolizer::Impl::subprograms(Dwarf_Die* cu) {
  auto it = cu_subprograms_.find(cu->addr);
  if (it != cu_subprograms_.end()) return it->second;
  DieIndex& index = cu_subprograms_[cu->addr];
  collect_subprograms(cu, &index);
  index.finish();
  return index;
}

const FunctionKey& Symbolizer::Impl::function_of(Dwarf_Die* die) {
  auto it = functions_.find(die->addr);
  if (it == functions_.end()) {
    it = functions_.emplace(die->addr, describe_function(die)).first;
  }
  return it->second;
}

// A frame from the ELF symbol that contains `address`, if one does (never
// the nearest symbol below it: libdwfl's own lookup would give that, and
// scans the whole table each time).
bool Symbolizer::Impl::symbol_frame(Module& m, Dwarf_Addr address,
                                    Frame* frame) {
  if (m.symbols == nullptr) {
    m.symbols.reset(new IntervalIndex<Symbol>(symbol_index(m.dwfl_module)));
  }
  const Symbol* symbol = m.symbols->find(address);
  if (symbol == nullptr) return false;
  // .symver names such as "memcpy@GLIBC_2.2.5" are shown without the version.
  // A compiler's copy ("f.constprop.0", "f.cold") is named as the function.
  std::string name = symbol->name;
  size_t at = name.find('@');
  if (at != std::string::npos && at > 0) name.resize(at);
  const bool versioned = name.size() != std::strlen(symbol->name);
  name = without_clone_suffix(name);
  std::string demangled = demangle(name.c_str());
  frame->function = FunctionKey();
  frame->function.name = demangled.empty() ? name : demangled;
  frame->function.system_name = versioned ? symbol->name : name;
  if (std::string python = cython_name(name); !python.empty()) frame->function.name = python;
  frame->line = 0;
  return true;
}

void Symbolizer::Impl::symbolize(Profile& profile) {
  hints_ = &profile.function_hints;
  missing_.clear();
  // Functions already in the profile are reused; new ones are appended.
  std::unordered_map<std::string, uint64_t> function_ids;
  for (const Function& f : profile.functions) function_ids.emplace(function_identity(f), f.id);
  auto intern = [&](const FunctionKey& k, const Mapping* mapping) {
    Function f;
    f.name = k.name;
    f.system_name = k.system_name;
    f.filename = k.filename;
    f.start_line = k.start_line;
    if (mapping) f.object = object_name(mapping->filename);
    auto inserted = function_ids.emplace(function_identity(f), 0);
    if (inserted.second) {
      f.id = profile.functions.size() + 1;
      profile.functions.push_back(std::move(f));
      inserted.first->second = profile.functions.back().id;
    }
    return inserted.first->second;
  };

  std::vector<bool> referenced(profile.mappings.size(), false);
  size_t unnamed = 0, done = 0;
  for (const Location& location : profile.locations) unnamed += location.lines.empty();
  Progress progress("symbolizing", "addresses", unnamed);
  // A mapping whose addresses disagree on the load bias (an address in the
  // page another segment's bytes share with its code) is left unplaced.
  std::vector<bool> unplaceable(profile.mappings.size(), false);
  for (Location& location : profile.locations) {
    Mapping* mapping = nullptr;
    if (location.mapping_id != 0 &&
        location.mapping_id <= profile.mappings.size()) {
      mapping = &profile.mappings[location.mapping_id - 1];
      referenced[location.mapping_id - 1] = true;
    }
    if (!location.lines.empty()) continue;
    Found where;
    for (const Frame& frame : resolve(mapping, location.address, &where)) {
      location.lines.push_back({intern(frame.function, mapping), frame.line});
    }
    progress.at(++done);
    if (!where.in_file || unplaceable[location.mapping_id - 1]) continue;
    if (!mapping->placed) {
      mapping->placed = true;
      mapping->load_bias = where.load_bias;
      mapping->code_vaddr = where.segment_vaddr;
    } else if (mapping->load_bias != where.load_bias) {
      mapping->placed = false;
      unplaceable[location.mapping_id - 1] = true;
    } else {
      mapping->code_vaddr = std::min(mapping->code_vaddr, where.segment_vaddr);
    }
  }
  profile.missing_objects.clear();
  for (const auto& [path, changed] : missing_) profile.missing_objects.push_back({path, changed});
  save_cache();

  for (size_t i = 0; i < profile.mappings.size(); ++i) {
    Mapping& mapping = profile.mappings[i];
    if (!mapping.build_id.empty() || !(mapping.executable || referenced[i])) {
      continue;
    }
    bool deleted = false;
    const std::string path = object_path(mapping, &deleted);
    if (path.empty() || path[0] != '/' || deleted) continue;
    const ObjectFile& object = object_file(path);
    if (object.usable) mapping.build_id = object.build_id;
  }
}

Symbolizer::Symbolizer() : impl_(new Impl) {}
Symbolizer::~Symbolizer() = default;
void Symbolizer::symbolize(Profile& profile) { impl_->symbolize(profile); }

}  // namespace yep
