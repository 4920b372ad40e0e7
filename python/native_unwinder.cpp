#include "native_unwinder.h"

#include <link.h>
#include <sys/mman.h>
#include <ucontext.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstring>

#include "unwind_table.h"

namespace yep {

namespace {

void* map_memory(size_t bytes) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

// ---- the loaded objects ------------------------------------------------------

struct Object {
  uintptr_t bias = 0;
  uintptr_t eh_frame_hdr = 0;     // 0: the object has no unwind table
  std::atomic<bool> published;    // the fields above are set
  std::atomic<int> state;         // 0 rows not built, 1 being built, 2 built, 3 unusable
  UnwindRows rows;
};

struct Range {
  uintptr_t start, end;  // an executable segment
  Object* object;
};

// An immutable, sorted list of executable ranges; a scan publishes a new one.
// Old ones are never freed: a walk may still be reading them, and scans are
// rare (at start, after a new object was met).
struct Snapshot {
  size_t count;
  Range ranges[1];
};

// Objects a walk inside a signal handler found on its own, between two
// scans (see discover): appended, never removed; the next scan's snapshot
// has them too.
struct ExtraRange {
  uintptr_t start, end;
  std::atomic<Object*> object;  // set last: nullptr while being written
};

constexpr size_t kMaxObjects = 16384;
constexpr size_t kMaxRanges = 32768;
constexpr size_t kMaxExtra = 1024;
Object* objects = nullptr;  // kMaxObjects, mmap'ed; entries are never removed
std::atomic<size_t> object_count{0};
std::atomic<Snapshot*> current{nullptr};
ExtraRange* extra = nullptr;  // kMaxExtra, mmap'ed
std::atomic<size_t> extra_count{0};
std::atomic<bool> stale{false};
std::atomic_flag scanning = ATOMIC_FLAG_INIT;
Range* scratch = nullptr;  // kMaxRanges, for a scan in progress

// The object loaded at `bias` with this unwind table, claimed if new (by a
// scan or by a walk in a signal handler: both may append at once).
Object* find_object(uintptr_t bias, uintptr_t hdr) {
  const size_t n = std::min(object_count.load(std::memory_order_acquire), kMaxObjects);
  for (size_t i = 0; i < n; ++i)
    if (objects[i].published.load(std::memory_order_acquire) && objects[i].bias == bias &&
        objects[i].eh_frame_hdr == hdr)
      return &objects[i];
  const size_t index = object_count.fetch_add(1, std::memory_order_acq_rel);
  if (index >= kMaxObjects) return nullptr;
  Object* o = &objects[index];
  o->bias = bias;
  o->eh_frame_hdr = hdr;
  o->published.store(true, std::memory_order_release);
  return o;
}

struct ScanState {
  size_t ranges = 0;
};

int scan_object(dl_phdr_info* info, size_t, void* data) {
  auto* scan = static_cast<ScanState*>(data);
  uintptr_t hdr = 0;
  for (int i = 0; i < info->dlpi_phnum; ++i)
    if (info->dlpi_phdr[i].p_type == PT_GNU_EH_FRAME) hdr = info->dlpi_addr + info->dlpi_phdr[i].p_vaddr;
  Object* object = nullptr;
  for (int i = 0; i < info->dlpi_phnum && scan->ranges < kMaxRanges; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD || !(ph.p_flags & PF_X) || ph.p_memsz == 0) continue;
    if (!object && !(object = find_object(info->dlpi_addr, hdr))) return 1;
    const uintptr_t start = info->dlpi_addr + ph.p_vaddr;
    scratch[scan->ranges++] = Range{start, start + ph.p_memsz, object};
  }
  return 0;
}

const Snapshot* snapshot() { return current.load(std::memory_order_acquire); }

// The object whose code holds pc: in the last scan's snapshot, else among
// the objects walks found since.
Object* find_code(uintptr_t pc) {
  if (const Snapshot* s = snapshot()) {
    size_t lo = 0, hi = s->count;
    while (lo < hi) {
      const size_t mid = (lo + hi) / 2;
      if (s->ranges[mid].start <= pc) lo = mid + 1; else hi = mid;
    }
    if (lo > 0 && pc < s->ranges[lo - 1].end) return s->ranges[lo - 1].object;
  }
  const size_t n = std::min(extra_count.load(std::memory_order_acquire), kMaxExtra);
  for (size_t i = 0; i < n; ++i) {
    Object* o = extra[i].object.load(std::memory_order_acquire);
    if (o && pc >= extra[i].start && pc < extra[i].end) return o;
  }
  return nullptr;
}

// Inside a signal handler, where dl_iterate_phdr may not run (its lock may
// be held by the interrupted code, or by a thread waiting for a lock the
// interrupted code holds): finds the object holding pc in the loader's own
// list (_r_debug's link maps, which debuggers read the same way), every
// read checked, and its program headers in its mapped ELF header. Misses
// are remembered by page until the next scan, so code outside every object
// (JIT code) costs one walk of the list, not one per sample.
constexpr int kMissPages = 64;
std::atomic<uintptr_t> missed_pages[kMissPages];
std::atomic<unsigned> next_miss{0};

bool missed(uintptr_t pc) {
  const uintptr_t page = pc >> 12;
  for (const auto& m : missed_pages)
    if (m.load(std::memory_order_relaxed) == page) return true;
  return false;
}

void remember_miss(uintptr_t pc) {
  missed_pages[next_miss.fetch_add(1, std::memory_order_relaxed) % kMissPages].store(pc >> 12, std::memory_order_relaxed);
}

Object* discover(SafeReader& reader, uintptr_t pc) {
  if (missed(pc)) return nullptr;
  r_debug debug;
  if (!extra || !reader.read(&debug, reinterpret_cast<uintptr_t>(&_r_debug), sizeof debug)) return nullptr;
  uintptr_t at = reinterpret_cast<uintptr_t>(debug.r_map);
  for (int guard = 0; at && guard < 8192; ++guard) {
    link_map map;
    if (!reader.read(&map, at, sizeof map)) break;
    at = reinterpret_cast<uintptr_t>(map.l_next);
    ElfW(Ehdr) ehdr;
    if (!map.l_addr || !reader.read(&ehdr, map.l_addr, sizeof ehdr) || std::memcmp(ehdr.e_ident, ELFMAG, SELFMAG) != 0 ||
        ehdr.e_phnum == 0 || ehdr.e_phnum > 64 || ehdr.e_phentsize != sizeof(ElfW(Phdr)))
      continue;
    ElfW(Phdr) phdrs[64];
    if (!reader.read(phdrs, map.l_addr + ehdr.e_phoff, ehdr.e_phnum * sizeof(ElfW(Phdr)))) continue;
    bool holds = false;
    uintptr_t hdr = 0;
    for (int i = 0; i < ehdr.e_phnum; ++i) {
      const ElfW(Phdr)& ph = phdrs[i];
      if (ph.p_type == PT_GNU_EH_FRAME) hdr = map.l_addr + ph.p_vaddr;
      if (ph.p_type == PT_LOAD && (ph.p_flags & PF_X) && pc >= map.l_addr + ph.p_vaddr &&
          pc < map.l_addr + ph.p_vaddr + ph.p_memsz)
        holds = true;
    }
    if (!holds) continue;
    Object* object = find_object(map.l_addr, hdr);
    for (int i = 0; object && i < ehdr.e_phnum; ++i) {
      const ElfW(Phdr)& ph = phdrs[i];
      if (ph.p_type != PT_LOAD || !(ph.p_flags & PF_X)) continue;
      const size_t slot = extra_count.fetch_add(1, std::memory_order_acq_rel);
      if (slot >= kMaxExtra) break;
      extra[slot].start = map.l_addr + ph.p_vaddr;
      extra[slot].end = map.l_addr + ph.p_vaddr + ph.p_memsz;
      extra[slot].object.store(object, std::memory_order_release);
    }
    stale.store(true, std::memory_order_relaxed);  // the next scan takes it into its snapshot
    return object;
  }
  remember_miss(pc);
  return nullptr;
}

// The object's rows, built on first use (by whichever thread gets there
// first; the others see none meanwhile).
const UnwindRows* rows_of(Object* o) {
  int state = o->state.load(std::memory_order_acquire);
  if (state == 0 && o->eh_frame_hdr) {
    if (o->state.compare_exchange_strong(state, 1, std::memory_order_acq_rel)) {
      UnwindRows rows;
      const bool ok = build_unwind_rows(o->bias, o->eh_frame_hdr, &rows);
      o->rows = rows;
      state = ok ? 2 : 3;
      o->state.store(state, std::memory_order_release);
    }
  }
  return state == 2 ? &o->rows : nullptr;
}

// The row for pc, nullptr if none; marks the index stale when pc lies in
// no known object (a walk in a signal handler, given its reader, looks for
// the object itself first).
const UnwindRow* find_row(uintptr_t pc, SafeReader* in_handler = nullptr, const UnwindRows** table = nullptr,
                          uintptr_t* bias = nullptr) {
  Object* object = find_code(pc);
  if (!object && in_handler) object = discover(*in_handler, pc);
  if (!object) {
    // Code loaded since the last scan asks for one; code in no object at
    // all (JIT code, libffi's trampolines) only once: its page is remembered.
    if (!missed(pc)) {
      remember_miss(pc);
      stale.store(true, std::memory_order_relaxed);
    }
    return nullptr;
  }
  const UnwindRows* rows = rows_of(object);
  if (!rows) return nullptr;
  if (table) *table = rows;
  if (bias) *bias = object->bias;
  return rows->find(pc - object->bias);
}

// ---- a cache of rows by pc ---------------------------------------------------
// A walk looks up every frame; the heap recorder walks on every malloc, over
// the same few hundred call sites. A direct-mapped cache holds the row of
// each pc met, packed into 64 bits, beside a key that is the pc mixed with
// that value: an entry torn by two threads writing it at once fails the
// check (short of a 64-bit hash collision) and is looked up again. No lock.

struct CachedRow {
  std::atomic<uint64_t> key, value;
};
constexpr size_t kCacheSize = 1 << 15;
CachedRow* row_cache = nullptr;  // kCacheSize, mmap'ed

uint64_t mix(uint64_t v) {
  v ^= v >> 31;
  v *= 0x7fb5d329728ea185ull;
  v ^= v >> 27;
  v *= 0x81dadef4bc2dd44dull;
  return v ^ (v >> 33);
}

size_t cache_slot(uintptr_t pc) { return static_cast<size_t>((pc * 0x9E3779B97F4A7C15ull) >> 49) & (kCacheSize - 1); }

// A row in 64 bits: cfa_offset 24, rbp_offset/8 12, ra_offset/8 8, cfa 3,
// reg 5, rbp 2, flags 2, and bit 63 set (so that 0 is never a value).
bool pack(const UnwindRow& r, uint64_t* out) {
  if (r.cfa_offset < -(1 << 23) || r.cfa_offset >= (1 << 23) || r.rbp_offset % 8 || r.ra_offset % 8 ||
      r.rbp_offset / 8 < -2048 || r.rbp_offset / 8 >= 2048 || r.ra_offset / 8 < -128 || r.ra_offset / 8 >= 128 ||
      r.reg >= 32)
    return false;
  *out = (uint64_t(1) << 63) | (uint64_t(static_cast<uint32_t>(r.cfa_offset) & 0xffffff)) |
         (uint64_t(static_cast<uint16_t>(r.rbp_offset / 8) & 0xfff) << 24) |
         (uint64_t(static_cast<uint8_t>(r.ra_offset / 8)) << 36) | (uint64_t(r.cfa & 7) << 44) |
         (uint64_t(r.reg & 31) << 47) | (uint64_t(r.rbp & 3) << 52) | (uint64_t(r.flags & 3) << 54);
  return true;
}

UnwindRow unpack(uint64_t v) {
  UnwindRow r{};
  r.cfa_offset = static_cast<int32_t>(static_cast<uint32_t>(v << 8)) >> 8;
  r.rbp_offset = static_cast<int16_t>(static_cast<int16_t>(static_cast<uint16_t>((v >> 24) & 0xfff) << 4) >> 4) * 8;
  r.ra_offset = static_cast<int16_t>(static_cast<int8_t>((v >> 36) & 0xff)) * 8;
  r.cfa = static_cast<UnwindRow::Cfa>((v >> 44) & 7);
  r.reg = static_cast<uint8_t>((v >> 47) & 31);
  r.rbp = static_cast<UnwindRow::Rbp>((v >> 52) & 3);
  r.flags = static_cast<uint8_t>((v >> 54) & 3);
  return r;
}

// The row for pc, through the cache; false if none.
bool cached_row(uintptr_t pc, SafeReader* in_handler, UnwindRow* out) {
  CachedRow* entry = row_cache ? &row_cache[cache_slot(pc)] : nullptr;
  if (entry) {
    const uint64_t value = entry->value.load(std::memory_order_relaxed);
    if (value && (entry->key.load(std::memory_order_relaxed) ^ mix(value)) == pc) {
      *out = unpack(value);
      return true;
    }
  }
  const UnwindRow* row = find_row(pc, in_handler);
  if (!row) return false;
  *out = *row;
  uint64_t value;
  if (entry && pack(*row, &value)) {
    entry->value.store(value, std::memory_order_relaxed);
    entry->key.store(pc ^ mix(value), std::memory_order_relaxed);
  }
  return true;
}

SafeReader* handler_reader(SafeReader& reader) { return &reader; }
SafeReader* handler_reader(DirectReader&) { return nullptr; }

// ---- walking -----------------------------------------------------------------

#if defined(__x86_64__)

struct Registers {
  uintptr_t pc, sp, bp;
  const greg_t* gregs;  // every register of the leaf frame, when known
};

// DWARF register numbers to ucontext's gregs (rax rdx rcx rbx rsi rdi rbp rsp r8-r15).
constexpr int kDwarfToGreg[16] = {REG_RAX, REG_RDX, REG_RCX, REG_RBX, REG_RSI, REG_RDI, REG_RBP, REG_RSP,
                                  REG_R8,  REG_R9,  REG_R10, REG_R11, REG_R12, REG_R13, REG_R14, REG_R15};

// glibc's __restore_rt, where a signal handler returns: mov $15,%rax; syscall.
constexpr unsigned char kSigreturn[9] = {0x48, 0xc7, 0xc0, 0x0f, 0x00, 0x00, 0x00, 0x0f, 0x05};

template <typename Reader>
bool read_word(Reader& reader, uintptr_t addr, uintptr_t* out) {
  return reader.read(out, addr, sizeof *out);
}

// Frames from `regs` on; the first pc is exact (interrupted or current),
// the others are return addresses.
template <typename Reader>
int walk(Reader& reader, Registers regs, uintptr_t* pcs, uintptr_t* sps, int max) {
  int n = 0;
  bool exact = true;  // pc is not a return address (look it up as is)
  while (n < max) {
    pcs[n] = regs.pc;
    if (sps) sps[n] = regs.sp;
    ++n;
    const uintptr_t lookup = exact ? regs.pc : regs.pc - 1;
    UnwindRow found;
    const UnwindRow* row = cached_row(lookup, handler_reader(reader), &found) ? &found : nullptr;
    if (!row || row->cfa == UnwindRow::kUnknown) {
      // A signal frame: the interrupted registers are in the ucontext the
      // kernel left on the stack, where the handler returns to.
      unsigned char code[sizeof kSigreturn];
      if (exact || !reader.read(code, regs.pc, sizeof code) || std::memcmp(code, kSigreturn, sizeof code) != 0)
        break;
      ucontext_t uc;
      if (!reader.read(&uc, regs.sp, sizeof uc)) break;
      const greg_t* g = uc.uc_mcontext.gregs;
      regs = Registers{static_cast<uintptr_t>(g[REG_RIP]), static_cast<uintptr_t>(g[REG_RSP]),
                       static_cast<uintptr_t>(g[REG_RBP]), nullptr};
      exact = true;
      if (n > 0) --n;  // __restore_rt is not a frame of the program
      continue;
    }
    if (row->flags & UnwindRow::kEndOfStack) break;
    uintptr_t cfa;
    switch (row->cfa) {
      case UnwindRow::kReg:
        if (row->reg == 7) cfa = regs.sp;
        else if (row->reg == 6) cfa = regs.bp;
        else if (regs.gregs && row->reg < 16) cfa = static_cast<uintptr_t>(regs.gregs[kDwarfToGreg[row->reg]]);
        else return n;
        cfa += row->cfa_offset;
        break;
      case UnwindRow::kDerefRbp:
        if (!read_word(reader, regs.bp + row->cfa_offset, &cfa)) return n;
        break;
      case UnwindRow::kPlt:
        cfa = regs.sp + row->cfa_offset + ((regs.pc & 15) >= row->reg ? 8 : 0);
        break;
      default:
        return n;
    }
    if (cfa <= regs.sp || cfa - regs.sp > (uintptr_t(1) << 30)) break;  // a stack only grows toward callers
    uintptr_t ra, bp = regs.bp;
    if (!read_word(reader, cfa + row->ra_offset, &ra)) break;
    if (row->rbp == UnwindRow::kRbpAtCfa) {
      if (!read_word(reader, cfa + row->rbp_offset, &bp)) break;
    } else if (row->rbp == UnwindRow::kRbpAtRbp) {
      if (!read_word(reader, regs.bp + row->rbp_offset, &bp)) break;
    } else if (row->rbp == UnwindRow::kRbpUndefined) {
      bp = 0;
    }
    if (ra == 0) break;
    regs = Registers{ra, cfa, bp, nullptr};
    exact = false;
  }
  return n;
}

#endif

void init_memory() {
  if (!objects) objects = static_cast<Object*>(map_memory(kMaxObjects * sizeof(Object)));  // zeros: valid atomics
  if (!scratch) scratch = static_cast<Range*>(map_memory(kMaxRanges * sizeof(Range)));
  if (!extra) extra = static_cast<ExtraRange*>(map_memory(kMaxExtra * sizeof(ExtraRange)));
  if (!row_cache) row_cache = static_cast<CachedRow*>(map_memory(kCacheSize * sizeof(CachedRow)));
}

}  // namespace

void native_unwinder_scan() {
  if (scanning.test_and_set(std::memory_order_acquire)) return;  // another thread scans now
  init_memory();
  // glibc counts the objects loaded and unloaded: a scan is only needed
  // when they changed (reading them visits one object, not all).
  struct Counts {
    unsigned long long adds = 0, subs = 0;
  } counts;
  dl_iterate_phdr(
      [](dl_phdr_info* info, size_t size, void* data) {
        auto* c = static_cast<Counts*>(data);
        if (size >= offsetof(dl_phdr_info, dlpi_subs) + sizeof info->dlpi_subs) {
          c->adds = info->dlpi_adds;
          c->subs = info->dlpi_subs;
        }
        return 1;
      },
      &counts);
  static unsigned long long seen_adds = 0, seen_subs = 0;
  stale.store(false, std::memory_order_relaxed);
  const bool changed = !snapshot() || counts.adds != seen_adds || counts.subs != seen_subs || counts.adds == 0;
  if (objects && scratch && changed) {
    ScanState scan;
    dl_iterate_phdr(scan_object, &scan);
    std::sort(scratch, scratch + scan.ranges, [](const Range& a, const Range& b) { return a.start < b.start; });
    auto* fresh = static_cast<Snapshot*>(map_memory(sizeof(Snapshot) + scan.ranges * sizeof(Range)));
    if (fresh) {
      fresh->count = scan.ranges;
      std::copy(scratch, scratch + scan.ranges, fresh->ranges);
      current.store(fresh, std::memory_order_release);
      if (counts.subs != seen_subs && row_cache)  // an object was unloaded: its addresses may hold another now
        for (size_t i = 0; i < kCacheSize; ++i) row_cache[i].value.store(0, std::memory_order_relaxed);
      seen_adds = counts.adds;
      seen_subs = counts.subs;
      for (auto& missed : missed_pages) missed.store(0, std::memory_order_relaxed);
    }
  }
  scanning.clear(std::memory_order_release);
}

bool native_unwinder_stale() { return stale.load(std::memory_order_relaxed); }

int native_unwind_context(const void* context, SafeReader& reader, uintptr_t* pcs, int max) {
  if (max <= 0) return 0;
#if defined(__x86_64__)
  const greg_t* g = static_cast<const ucontext_t*>(context)->uc_mcontext.gregs;
  Registers regs{static_cast<uintptr_t>(g[REG_RIP]), static_cast<uintptr_t>(g[REG_RSP]),
                 static_cast<uintptr_t>(g[REG_RBP]), g};
  return walk(reader, regs, pcs, nullptr, max);
#else
  (void)context;
  (void)reader;
  return 0;
#endif
}

__attribute__((noinline)) int native_unwind_here(uintptr_t* pcs, uintptr_t* sps, int max) {
  if (max <= 0) return 0;
  if (!snapshot()) native_unwinder_scan();
#if defined(__x86_64__)
  uintptr_t pc, sp, bp;
  asm volatile("lea 0(%%rip), %0\n\tmov %%rsp, %1\n\tmov %%rbp, %2" : "=r"(pc), "=r"(sp), "=r"(bp));
  DirectReader reader;
  // Frame 0 is this function's own: left out.
  const int n = walk(reader, Registers{pc, sp, bp, nullptr}, pcs, sps, max);
  if (n <= 1) return 0;
  std::memmove(pcs, pcs + 1, (n - 1) * sizeof *pcs);
  if (sps) std::memmove(sps, sps + 1, (n - 1) * sizeof *sps);
  return n - 1;
#else
  (void)pcs;
  (void)sps;
  return 0;
#endif
}

bool native_function_bounds(uintptr_t pc, uintptr_t* start, uintptr_t* end) {
  const UnwindRows* table = nullptr;
  uintptr_t bias = 0;
  const UnwindRow* row = find_row(pc, nullptr, &table, &bias);
  if (!row) return false;
  table->function_bounds(row, start, end);
  *start += bias;
  *end += bias;
  return true;
}

}  // namespace yep
