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
  uintptr_t eh_frame_hdr = 0;  // 0: the object has no unwind table
  std::atomic<int> state{0};   // 0 rows not built, 1 being built, 2 built, 3 unusable
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

constexpr size_t kMaxObjects = 16384;
constexpr size_t kMaxRanges = 32768;
Object* objects = nullptr;  // kMaxObjects, mmap'ed; entries are never removed
std::atomic<size_t> object_count{0};
std::atomic<Snapshot*> current{nullptr};
std::atomic<bool> stale{false};
std::atomic_flag scanning = ATOMIC_FLAG_INIT;
Range* scratch = nullptr;  // kMaxRanges, for a scan in progress

Object* find_object(uintptr_t bias, uintptr_t hdr) {
  const size_t n = object_count.load(std::memory_order_acquire);
  for (size_t i = 0; i < n; ++i)
    if (objects[i].bias == bias && objects[i].eh_frame_hdr == hdr) return &objects[i];
  if (n >= kMaxObjects) return nullptr;
  Object* o = &objects[n];
  o->bias = bias;
  o->eh_frame_hdr = hdr;
  object_count.store(n + 1, std::memory_order_release);
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

const Range* find_range(const Snapshot* s, uintptr_t pc) {
  if (!s) return nullptr;
  size_t lo = 0, hi = s->count;
  while (lo < hi) {
    const size_t mid = (lo + hi) / 2;
    if (s->ranges[mid].start <= pc) lo = mid + 1; else hi = mid;
  }
  if (lo == 0) return nullptr;
  const Range* r = &s->ranges[lo - 1];
  return pc < r->end ? r : nullptr;
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
// no known object.
const UnwindRow* find_row(uintptr_t pc, const UnwindRows** table = nullptr, uintptr_t* bias = nullptr) {
  const Range* range = find_range(snapshot(), pc);
  if (!range) {
    stale.store(true, std::memory_order_relaxed);
    return nullptr;
  }
  const UnwindRows* rows = rows_of(range->object);
  if (!rows) return nullptr;
  if (table) *table = rows;
  if (bias) *bias = range->object->bias;
  return rows->find(pc - range->object->bias);
}

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
    const UnwindRow* row = find_row(lookup);
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
  if (!objects) objects = static_cast<Object*>(map_memory(kMaxObjects * sizeof(Object)));
  if (!scratch) scratch = static_cast<Range*>(map_memory(kMaxRanges * sizeof(Range)));
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
      seen_adds = counts.adds;
      seen_subs = counts.subs;
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
  const UnwindRow* row = find_row(pc, &table, &bias);
  if (!row) return false;
  table->function_bounds(row, start, end);
  *start += bias;
  *end += bias;
  return true;
}

}  // namespace yep
