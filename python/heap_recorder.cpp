#include "heap_recorder.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <link.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <climits>
#include <cstring>
#include <ctime>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "profile_file.h"
#include "cpu_profiler.h"  // CaptureError
#include "heap_sampler.h"
#include "native_unwinder.h"
#include "interpreter_code.h"
#include "python_frames.h"
#include "python_allocator_hook.h"
#include "stack_merge.h"

namespace yep {

namespace {

constexpr int kMaxNativeDepth = 64;  // native frames walked per allocation
constexpr int kMaxDepth = 128;       // frames kept per stack, Python ones (--mixed) included
constexpr uint32_t kMaxBuckets = 1u << 20;        // distinct stacks; more go to bucket 0
constexpr size_t kBucketSlots = 1u << 21;         // open addressing over bucket indices
constexpr size_t kInitialLiveSlots = 1u << 20;    // live allocations; doubles when half full
constexpr size_t kInitialSampledLiveSlots = 1u << 12;  // the sampled mode keeps far fewer

// Memory for the tables: mmap'ed, never malloc'ed (the hooks run in malloc).
void* map_memory(size_t bytes) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

// Counts are doubles: in the sampled mode each sample adds its weight
// (heap_sampler.h), not 1; in the exact mode they count exactly up to 2^53.
struct Bucket {
  uint64_t hash;
  uint32_t depth;
  uint32_t unused;
  double allocs, frees, alloc_bytes, free_bytes;
  uintptr_t stack[kMaxDepth];
};

struct Live {
  uintptr_t ptr;  // 0: empty slot
  uint64_t size : 40;
  uint64_t bucket : 24;
};
static_assert(kMaxBuckets <= (1u << 24), "bucket index must fit in Live::bucket");

class SpinLock {
 public:
  void lock() {
    while (flag_.test_and_set(std::memory_order_acquire)) __builtin_ia32_pause();
  }
  void unlock() { flag_.clear(std::memory_order_release); }

 private:
  std::atomic_flag flag_ = ATOMIC_FLAG_INIT;
};

struct Tables {
  Bucket* buckets = nullptr;  // [0] collects stacks beyond kMaxBuckets
  uint32_t nbuckets = 0;
  uint32_t* bucket_slots = nullptr;  // bucket index + 1, 0: empty
  Live* live = nullptr;
  size_t live_capacity = 0, live_count = 0;
  int64_t dropped_stacks = 0;
};

SpinLock table_lock;
Tables tables;
// Set on a thread while it writes a dump: its own allocations are yep's, not
// the program's, and are not recorded. initial-exec: reading it never
// allocates (general-dynamic TLS may, on a thread's first access).
__attribute__((tls_model("initial-exec"))) thread_local bool in_dump = false;
MallocHooks hooks{};
std::atomic<bool> recording{false};
std::atomic<bool> hooks_added{false};
// Totals for the interval dumps, read without the lock.
std::atomic<int64_t> total_allocated{0}, total_inuse{0}, peak_inuse{0};

// ---- the sampled mode ---------------------------------------------------------
// sample_mean > 0: only the allocations heap_sampler_take picks are
// recorded, and frees look at the sampler's filter first (heap_sampler.h).
int64_t sample_mean = 0;  // set before recording starts

// What one recorded allocation of `size` bytes stands for, in objects (the
// weight) and bytes: the same at its free, so in-use figures return to 0.
double weight_of(size_t size) { return sample_mean > 0 ? heap_sample_weight(static_cast<double>(size), sample_mean) : 1; }

// Only holders of table_lock write the totals: a plain load and store is
// enough, and cheaper than a locked read-modify-write on every malloc.
int64_t add_under_lock(std::atomic<int64_t>& total, int64_t delta) {
  const int64_t now = total.load(std::memory_order_relaxed) + delta;
  total.store(now, std::memory_order_relaxed);
  return now;
}

// Two independent lanes (even and odd frames): each step waits for the
// previous multiply, so one lane would take twice as long on deep stacks.
uint64_t hash_stack(const uintptr_t* stack, int depth) {
  uint64_t a = 0x84222325cbf29ce4ull, b = 0x9E3779B97F4A7C15ull ^ static_cast<uint64_t>(depth);
  int i = 0;
  for (; i + 1 < depth; i += 2) {
    a = (a ^ stack[i]) * 0x100000001b3ull;
    b = (b ^ stack[i + 1]) * 0x100000001b3ull;
    a ^= a >> 32;
    b ^= b >> 32;
  }
  if (i < depth) a = (a ^ stack[i]) * 0x100000001b3ull;
  const uint64_t h = (a ^ (b * 0xC2B2AE3D27D4EB4Full));
  return h ^ (h >> 29);
}

size_t live_slot(uintptr_t ptr, size_t capacity) {
  return static_cast<size_t>(((ptr >> 4) * 0x9E3779B97F4A7C15ull) >> 20) & (capacity - 1);
}

// Under the lock. Index of the bucket of this stack, created if new.
uint32_t find_bucket(const uintptr_t* stack, int depth) {
  const uint64_t h = hash_stack(stack, depth);
  size_t slot = h & (kBucketSlots - 1);
  while (uint32_t index = tables.bucket_slots[slot]) {
    const Bucket& b = tables.buckets[index - 1];
    if (b.hash == h && b.depth == static_cast<uint32_t>(depth) &&
        std::equal(stack, stack + depth, b.stack))
      return index - 1;
    slot = (slot + 1) & (kBucketSlots - 1);
  }
  if (tables.nbuckets >= kMaxBuckets) {
    ++tables.dropped_stacks;
    return 0;
  }
  const uint32_t index = tables.nbuckets++;
  Bucket& b = tables.buckets[index];
  b.hash = h;
  b.depth = static_cast<uint32_t>(depth);
  std::copy(stack, stack + depth, b.stack);
  tables.bucket_slots[slot] = index + 1;
  return index;
}

// Under the lock: doubles the live map (mmap, rehash, munmap).
bool grow_live() {
  const size_t capacity = tables.live_capacity * 2;
  Live* fresh = static_cast<Live*>(map_memory(capacity * sizeof(Live)));
  if (!fresh) return false;
  for (size_t i = 0; i < tables.live_capacity; ++i) {
    const Live& e = tables.live[i];
    if (!e.ptr) continue;
    size_t slot = live_slot(e.ptr, capacity);
    while (fresh[slot].ptr) slot = (slot + 1) & (capacity - 1);
    fresh[slot] = e;
  }
  munmap(tables.live, tables.live_capacity * sizeof(Live));
  // Relaxed atomic stores: on_new reads both without the lock (a prefetch hint).
  __atomic_store_n(&tables.live, fresh, __ATOMIC_RELAXED);
  __atomic_store_n(&tables.live_capacity, capacity, __ATOMIC_RELAXED);
  return true;
}

// ---- stacks ----------------------------------------------------------------
// The allocator's own frames and yep's hook are skipped: the first frame
// kept is the return address into malloc's caller, as in gperftools.

struct CodeRange {
  uintptr_t start, end;
};
CodeRange skipped[8];
int nskipped = 0;

// Adds the executable segments of the object containing `address`.
void skip_object_of(const void* address) {
  Dl_info info{};
  if (!address || !dladdr(address, &info) || !info.dli_fbase) return;
  struct Search {
    uintptr_t base;
  } search{reinterpret_cast<uintptr_t>(info.dli_fbase)};
  dl_iterate_phdr(
      [](dl_phdr_info* object, size_t, void* data) {
        auto* want = static_cast<Search*>(data);
        // dli_fbase is where the object's first segment is mapped.
        uintptr_t first = UINTPTR_MAX;
        for (int i = 0; i < object->dlpi_phnum; ++i)
          if (object->dlpi_phdr[i].p_type == PT_LOAD)
            first = std::min<uintptr_t>(first, object->dlpi_addr + (object->dlpi_phdr[i].p_vaddr & ~uintptr_t(0xfff)));
        if (first != want->base) return 0;
        for (int i = 0; i < object->dlpi_phnum && nskipped < 8; ++i) {
          const ElfW(Phdr)& ph = object->dlpi_phdr[i];
          if (ph.p_type == PT_LOAD && (ph.p_flags & PF_X))
            skipped[nskipped++] = {object->dlpi_addr + ph.p_vaddr, object->dlpi_addr + ph.p_vaddr + ph.p_memsz};
        }
        return 1;
      },
      &search);
}

bool in_skipped(uintptr_t pc) {
  for (int i = 0; i < nskipped; ++i)
    if (pc >= skipped[i].start && pc < skipped[i].end) return true;
  return false;
}

// The caller's stack, leaf first; returns its depth. A walk that met code
// loaded since the last scan rescans (dl_iterate_phdr may run here: a
// malloc hook is not a signal handler, and the loader's lock is recursive).
int caller_stack(uintptr_t* stack) {
  constexpr int kSlack = 16;  // frames of the hook and the allocator
  uintptr_t frames[kMaxNativeDepth + kSlack];
  int n = native_unwind_here(frames, nullptr, kMaxNativeDepth + kSlack);
  if (native_unwinder_stale()) {
    native_unwinder_scan();
    n = native_unwind_here(frames, nullptr, kMaxNativeDepth + kSlack);
  }
  int first = 0;
  while (first < n && in_skipped(frames[first])) ++first;
  const int depth = std::min(n - first, kMaxNativeDepth);
  for (int i = 0; i < depth; ++i) stack[i] = frames[first + i];
  return std::max(depth, 0);
}

// ---- Python frames (--heap --mixed) ------------------------------------------
// A Python frame in a stack is a stand-in address that encodes its code
// table index and line, so allocations are grouped by line as CPU samples
// are. Lines come from a small lock-free cache of (code, instruction) ->
// line: decoding a line table on every malloc would cost microseconds.
HeapMixed mixed_stacks;
const InterpreterCode* interpreter = nullptr;  // with mixed stacks only
const InterpreterCode no_interpreter{};           // without: no frame is marked
constexpr uint64_t kPythonBase = 0x1000000000000000ull;
constexpr uint64_t kPythonEnd = 0x2000000000000000ull;
constexpr size_t kLineCacheSize = 1 << 16;
std::atomic<uint64_t>* line_cache = nullptr;  // code (24 bits) | lasti + 1 (20) | line (20)

int frame_line(const PyFrameRecord& f) {
  const uint64_t lasti = static_cast<uint64_t>(f.lasti + 1) & 0xfffff;
  const uint64_t key = (static_cast<uint64_t>(f.code) << 40) | (lasti << 20);
  std::atomic<uint64_t>& slot = line_cache[((f.code * 0x9E3779B1u) ^ (lasti * 0x85EBCA77u)) & (kLineCacheSize - 1)];
  const uint64_t seen = slot.load(std::memory_order_relaxed);
  if ((seen & ~uint64_t(0xfffff)) == key) return static_cast<int>(seen & 0xfffff);
  const unsigned char* table;
  size_t size;
  int firstlineno;
  if (!code_table().line_table(f.code, &table, &size, &firstlineno)) return 0;
  const int line = python_line(table, size, firstlineno, f.lasti);
  slot.store(key | (static_cast<uint64_t>(line) & 0xfffff), std::memory_order_relaxed);
  return line;
}

uintptr_t python_stand_in(const PyFrameRecord& f) {
  return static_cast<uintptr_t>(kPythonBase + (static_cast<uint64_t>(f.code) << 24) +
                                (static_cast<uint64_t>(frame_line(f)) & 0x7fffff) * 2);
}

bool is_python_stand_in(uint64_t pc) { return pc >= kPythonBase && pc < kPythonEnd; }
uint32_t stand_in_code(uint64_t pc) { return static_cast<uint32_t>((pc - kPythonBase) >> 24); }
int stand_in_line(uint64_t pc) { return static_cast<int>(((pc - kPythonBase) & 0xffffff) / 2); }

// The allocating thread's native stack, merged with its Python frames when
// mixed; returns its depth. Reads the interpreter's frames directly: the
// hook runs in the thread that owns them, between two of its own steps.
int allocation_stack(uintptr_t* stack) {
  if (!mixed_stacks.enabled) return caller_stack(stack);
  uintptr_t native[kMaxNativeDepth];
  const int native_depth = caller_stack(native);
  PyFrameRecord python[kMaxDepth];
  DirectReader reader;
  uint64_t thread_id;
  const int python_depth = read_python_frames(reader, python, kMaxDepth, &thread_id);
  // Merged in full first, so that the runner's frames can be cut off below
  // the program before the stack is cut to kMaxDepth.
  uint64_t merged[kMaxNativeDepth + kMaxDepth];
  size_t depth = 0;
  merge_stacks(
      native, native_depth, python, python_depth, interpreter->eval, [&](uintptr_t pc) { merged[depth++] = pc; },
      [&](const PyFrameRecord& f) { merged[depth++] = python_stand_in(f); });
  if (mixed_stacks.root_code) {
    const CodeTable& codes = code_table();
    depth = depth_above_root(
        merged, depth,
        [&](uint64_t pc) { return is_python_stand_in(pc) && codes.address(stand_in_code(pc)) == mixed_stacks.root_code; },
        [&](uint64_t pc) { return is_python_stand_in(pc) && is_runpy_file(codes.filename(stand_in_code(pc))); },
        [&](uint64_t pc) { return is_python_stand_in(pc); },
        [&](uint64_t pc) { return !is_python_stand_in(pc) && interpreter->eval.contains(pc - 1); });
  }
  depth = std::min<size_t>(depth, kMaxDepth);
  for (size_t i = 0; i < depth; ++i) stack[i] = static_cast<uintptr_t>(merged[i]);
  return static_cast<int>(depth);
}

void dump_at_threshold(int64_t allocated, int64_t inuse);

void record(const void* ptr, size_t size);

void on_new(const void* ptr, size_t size) {
  if (!ptr || in_dump || !recording.load(std::memory_order_relaxed) || inside_python_allocator()) return;
  if (sample_mean > 0 && !heap_sampler_take(size)) return;  // the sampled mode's fast path
  record(ptr, size);
}

// An allocation of Python's allocator that the sampler already picked
// (python_allocator_hook.h). Marked inside Python's allocator while it is
// recorded: this thread is not inside malloc's hooks, whose own flag would
// keep record's mmaps (the live map doubling) and mallocs from the hooks, and
// the mmap's hook would otherwise record it under the lock record holds
// (a sampled run once hung there).
void on_python_sampled(const void* ptr, size_t size) {
  if (in_dump || !recording.load(std::memory_order_relaxed)) return;
  ++python_allocator_depth;
  record(ptr, size);
  --python_allocator_depth;
}

// Takes the stack and enters the block in the live map.
void record(const void* ptr, size_t size) {
  const uintptr_t key = reinterpret_cast<uintptr_t>(ptr);
  // The live map is far larger than the caches: start loading this
  // allocation's slot now, while the stack is walked. Read without the lock,
  // the table may be stale; a prefetch of any address is harmless.
  if (const Live* live = __atomic_load_n(&tables.live, __ATOMIC_RELAXED))
    __builtin_prefetch(&live[live_slot(key, __atomic_load_n(&tables.live_capacity, __ATOMIC_RELAXED))], 1);
  uintptr_t stack[kMaxDepth];
  const int depth = allocation_stack(stack);
  table_lock.lock();
  if (tables.live_count * 2 >= tables.live_capacity && !grow_live()) {
    table_lock.unlock();
    return;  // out of address space: this allocation goes unrecorded
  }
  const uint32_t index = find_bucket(stack, depth);
  Bucket& b = tables.buckets[index];
  const double weight = weight_of(size);
  const double bytes = static_cast<double>(size) * weight;
  b.allocs += weight;
  b.alloc_bytes += bytes;
  size_t slot = live_slot(key, tables.live_capacity);
  while (tables.live[slot].ptr && tables.live[slot].ptr != key) slot = (slot + 1) & (tables.live_capacity - 1);
  if (!tables.live[slot].ptr) {
    ++tables.live_count;
    if (sample_mean > 0) heap_sampler_filter_add(ptr);
  }
  tables.live[slot] = Live{key, size, index};
  const int64_t allocated = add_under_lock(total_allocated, static_cast<int64_t>(bytes));
  const int64_t inuse = add_under_lock(total_inuse, static_cast<int64_t>(bytes));
  if (inuse > peak_inuse.load(std::memory_order_relaxed)) peak_inuse.store(inuse, std::memory_order_relaxed);
  table_lock.unlock();
  dump_at_threshold(allocated, inuse);
}

// Records the free of a block (or mapping) if it was recorded; says whether it was.
bool forget(const void* ptr) {
  const uintptr_t key = reinterpret_cast<uintptr_t>(ptr);
  if (sample_mean > 0 && !heap_sampler_maybe_sampled(ptr)) return false;  // the sampled mode's fast path
  if (!ptr || in_dump || !recording.load(std::memory_order_relaxed) || inside_python_allocator()) return false;
  table_lock.lock();
  const size_t mask = tables.live_capacity - 1;
  size_t slot = live_slot(key, tables.live_capacity);
  while (tables.live[slot].ptr && tables.live[slot].ptr != key) slot = (slot + 1) & mask;
  if (!tables.live[slot].ptr) {  // allocated before recording started (or not sampled)
    table_lock.unlock();
    return false;
  }
  const Live found = tables.live[slot];
  Bucket& b = tables.buckets[found.bucket];
  const double weight = weight_of(found.size);
  const double bytes = static_cast<double>(found.size) * weight;
  b.frees += weight;
  b.free_bytes += bytes;
  if (sample_mean > 0) heap_sampler_filter_remove(ptr);
  // Linear probing deletion: shift later entries of the cluster back.
  size_t hole = slot;
  for (size_t next = (hole + 1) & mask; tables.live[next].ptr; next = (next + 1) & mask) {
    const size_t home = live_slot(tables.live[next].ptr, tables.live_capacity);
    // Move the entry if its home is not in the cyclic range (hole, next].
    if ((next > hole && (home <= hole || home > next)) || (next < hole && home <= hole && home > next)) {
      tables.live[hole] = tables.live[next];
      hole = next;
    }
  }
  tables.live[hole] = Live{0, 0, 0};
  --tables.live_count;
  add_under_lock(total_inuse, -static_cast<int64_t>(bytes));
  table_lock.unlock();
  return true;
}

void on_delete(const void* ptr) { forget(ptr); }

// The program's anonymous mappings (the interposer's map hooks) are blocks
// like malloc's, at the caller of mmap. A mapping placed over a recorded one
// (MAP_FIXED) replaces it. munmap of a recorded mapping frees all of it, even
// when it unmaps only its start (the rest is rarely kept); one that starts
// inside a mapping is not seen.
void on_map(const void* ptr, size_t size) {
  forget(ptr);
  on_new(ptr, size);
}

int on_unmap(const void* ptr, size_t) { return forget(ptr) ? 1 : 0; }

// ---- dumps ---------------------------------------------------------------

std::mutex dump_mutex;  // one dump at a time (API and interval thread)
std::string session_prefix;
int dump_count = 0;

// A bucket's figures as written: whole numbers (the sampled mode's sums of
// weights rounded; in use rounded from the difference, so a stack whose
// samples were all freed shows 0).
struct Copy {
  int64_t inuse_objects, inuse_bytes, allocs, alloc_bytes;
  uint32_t index;
};

Copy copy_of(const Bucket& b, uint32_t index) {
  return {std::llround(b.allocs - b.frees), std::llround(b.alloc_bytes - b.free_bytes), std::llround(b.allocs),
          std::llround(b.alloc_bytes), index};
}

// " 0x%08lx", without printf: a dump writes millions of them.
void append_address(MappedString& out, uint64_t pc) {
  char buf[20];
  char* end = buf + sizeof buf;
  char* p = end;
  for (int digits = 0; pc != 0 || digits < 8; ++digits, pc >>= 4) *--p = "0123456789abcdef"[pc & 0xf];
  *--p = 'x';
  *--p = '0';
  *--p = ' ';
  out.append(p, static_cast<size_t>(end - p));
}

// "%*lld" without printf (a dump writes one per stack: printf's format
// parsing was 8% of an exact run's time).
void append_number(MappedString& out, int64_t value, int width) {
  char buf[24];
  char* end = buf + sizeof buf;
  char* p = end;
  uint64_t magnitude = value < 0 ? 0 - static_cast<uint64_t>(value) : static_cast<uint64_t>(value);
  do {
    *--p = static_cast<char>('0' + magnitude % 10);
    magnitude /= 10;
  } while (magnitude);
  if (value < 0) *--p = '-';
  for (int pad = width - static_cast<int>(end - p); pad > 0; --pad) out += ' ';
  out.append(p, static_cast<size_t>(end - p));
}

// "%6lld: %8lld [%6lld: %8lld] @"
void append_counts(MappedString& out, const Copy& c) {
  append_number(out, c.inuse_objects, 6);
  out += ": ";
  append_number(out, c.inuse_bytes, 8);
  out += " [";
  append_number(out, c.allocs, 6);
  out += ": ";
  append_number(out, c.alloc_bytes, 8);
  out += "] @";
}

// The Python frames' keys of one file: a dump's, or the session's stacks file's.
struct PythonKeys {
  std::map<uint64_t, long long> keys;  // stand-in -> key, in order of first use
  MappedVector<uint64_t> frames;       // by key
  size_t defined = 0;                  // keys whose "# yep-python:" line is written

  long long key(uint64_t pc) {
    if (!is_python_stand_in(pc)) return -1;
    auto [it, inserted] = keys.try_emplace(pc, static_cast<long long>(frames.size()));
    if (inserted) frames.push_back(pc);
    return it->second;
  }
  // The "# yep-python:" lines of the keys added since the last call.
  void define_new(MappedString& out) {
    std::map<uint32_t, CodeInfo> codes;
    for (; defined < frames.size(); ++defined) {
      const uint32_t index = stand_in_code(frames[defined]);
      auto it = codes.find(index);
      if (it == codes.end()) it = codes.emplace(index, code_table().info(index)).first;
      out += python_stand_in_line(defined, stand_in_line(frames[defined]), it->second);
    }
  }
};

const InterpreterCode& interpreter_or_none() { return interpreter ? *interpreter : no_interpreter; }

// Appends a bucket's native frames (" 0x..." each) to `out`, and its Python
// frames' "# yep-stack:" line, as record `record`, to `annotations`.
// `native`: scratch space, reused (no allocation per stack). Nothing here may
// take the loader's lock (no thread_local with a destructor: registering it
// does): a dump can be asked for by a malloc in a library's initializer,
// whose thread holds that lock while it waits for the dump.
void append_stack(MappedString& out, MappedString& annotations, size_t record, const Bucket& b, PythonKeys& keys,
                  BuiltinNames& builtins, std::vector<uint64_t>& native) {
  annotations += split_mixed_stack(
      record, b.stack, b.depth, -1, interpreter_or_none(), [&](uint64_t pc) { return keys.key(pc); }, native);
  for (const uint64_t pc : native) append_address(out, pc);
  builtins.add(native.data(), native.size());
}

// ---- the exact mode's stacks file ----------------------------------------------
// A session of the exact mode writes each stack once, in PREFIX.stacks, and
// its dumps refer to them ("@ =<id>", converters/heap_profile_reader.h), so
// a run's files grow with its distinct stacks, not with stacks times dumps.
// The file is only appended to (the stacks new since the last dump, before
// the dump that refers to them is renamed into place). The session's last
// dump (at stop) is complete on its own, for pprof and for passing around.
int stacks_fd = -1;
uint32_t stacks_written = 0;  // buckets [0, stacks_written) are in the file
PythonKeys stacks_keys;       // the session's keys of Python frames

std::string stacks_path() { return session_prefix + ".stacks"; }

std::string stacks_file_name() {
  const std::string path = stacks_path();
  return path.substr(path.rfind('/') + 1);
}

void write_new_stacks_or_fail(uint32_t nbuckets);

// Appends the stacks made since the last call, creating the file at the
// first. After a failed append (a full disk) the file may end inside a
// batch: it is written anew, whole, at the next dump.
void write_new_stacks(uint32_t nbuckets) {
  try {
    write_new_stacks_or_fail(nbuckets);
  } catch (...) {
    if (stacks_fd >= 0) ::close(stacks_fd);
    stacks_fd = -1;
    stacks_written = 0;
    stacks_keys = PythonKeys();
    throw;
  }
}

void write_new_stacks_or_fail(uint32_t nbuckets) {
  if (stacks_fd >= 0 && stacks_written >= nbuckets) return;
  MappedString lines, annotations;
  BuiltinNames builtins(interpreter_or_none());
  std::vector<uint64_t> native;
  std::unique_ptr<ProfileFileWriter> first;
  if (stacks_fd < 0) {
    first = std::make_unique<ProfileFileWriter>(stacks_path(), "the heap profile's stacks");
    lines = "yep heap stacks 1\n";
  }
  auto flush = [&](bool all) {
    if (!all && lines.size() < (size_t{1} << 20)) return;
    if (first) {
      first->text() += lines;
      first->flush_if_full();
    } else {
      append_to(stacks_fd, lines, "the heap profile's stacks '" + stacks_path() + "'");
    }
    lines.clear();
  };
  for (uint32_t id = stacks_written; id < nbuckets; ++id) {
    append_number(lines, id, 0);
    lines += " @";
    append_stack(lines, annotations, id, tables.buckets[id], stacks_keys, builtins, native);
    lines += '\n';
    lines += annotations;  // the file's lines may come in any order
    annotations.clear();
    flush(false);
  }
  stacks_keys.define_new(lines);
  lines += builtins.lines();
  flush(true);
  if (first) stacks_fd = first->commit_keeping_open();
  stacks_written = nbuckets;
}

std::string write_dump(bool last) {
  // Snapshot the counts under the lock (no allocation while holding it: the
  // vector is sized first). Stacks never change once written: read after.
  // The buffers are mapped, not malloc'ed (mapped_allocator.h says why).
  MappedVector<Copy> copy;
  uint32_t nbuckets = 0;
  for (;;) {
    {
      table_lock.lock();
      nbuckets = tables.nbuckets;
      table_lock.unlock();
    }
    copy.resize(nbuckets + 1024);
    table_lock.lock();
    if (tables.nbuckets <= copy.size()) {
      copy.resize(0);
      nbuckets = tables.nbuckets;
      for (uint32_t i = 0; i < nbuckets; ++i)
        copy.push_back(copy_of(tables.buckets[i], i));  // within capacity: no allocation
      table_lock.unlock();
      break;
    }
    table_lock.unlock();
  }
  // The header's totals are the sums of the buckets' figures as written (a
  // reader takes less as buckets missing).
  Copy total{0, 0, 0, 0, 0};
  for (const Copy& c : copy) {
    total.inuse_objects += c.inuse_objects;
    total.inuse_bytes += c.inuse_bytes;
    total.allocs += c.allocs;
    total.alloc_bytes += c.alloc_bytes;
  }
  // Like gperftools: the most bytes in use first.
  std::sort(copy.begin(), copy.end(), [](const Copy& a, const Copy& b) {
    return a.inuse_bytes != b.inuse_bytes ? a.inuse_bytes > b.inuse_bytes : a.alloc_bytes > b.alloc_bytes;
  });
  // The sampled mode's dumps hold few stacks: each is complete.
  const bool refers = sample_mean == 0 && !last;
  if (refers) write_new_stacks(nbuckets);

  char name[32];
  std::snprintf(name, sizeof name, ".%04d.heap", dump_count + 1);
  const std::string path = session_prefix + name;
  ProfileFileWriter file(path, "the heap profile");
  MappedString& out = file.text();
  out += "heap profile: ";
  append_counts(out, total);
  out += " heapprofile\n";
  // The sampled mode's figures are already scaled (what each sample stands
  // for); the mean goes in a comment line, which pprof's readers skip and
  // yep's reader reports (heap_profile_reader.h).
  if (sample_mean > 0)
    out += "# yep-sampled: " + std::to_string(sample_mean) +
           " (mean bytes between samples; objects and bytes are estimates: a sample of s bytes stands for "
           "1 / (1 - exp(-s / mean)) allocations)\n";
  if (refers) out += "# yep-stacks:\t" + stacks_file_name() + "\n";
  // Stacks stay native (what gperftools' readers expect); their Python
  // frames go in "# yep-stack:" lines after the maps, keyed by number.
  PythonKeys keys;
  MappedString annotations;
  BuiltinNames builtins(interpreter_or_none());
  std::vector<uint64_t> native;
  size_t record = 0;
  for (const Copy& c : copy) {
    if (c.allocs == 0) continue;
    append_counts(out, c);
    if (refers) {
      out += " =";
      append_number(out, c.index, 0);
    } else {
      append_stack(out, annotations, record++, tables.buckets[c.index], keys, builtins, native);
    }
    out += '\n';
    file.flush_if_full();
  }
  out += "\nMAPPED_LIBRARIES:\n";
  out += read_self_maps();
  out += read_self_build_ids();
  keys.define_new(out);
  out += annotations;
  out += builtins.lines();
  file.commit();
  ++dump_count;
  return path;
}

// ---- interval dumps --------------------------------------------------------
// As gperftools does, a dump happens when the allocation crossing a
// threshold returns: that thread asks the dump thread and waits for it (the
// hooks themselves must not allocate). The dump thread also keeps time.

HeapDumpIntervals intervals_now;
std::atomic<int64_t> next_allocated_dump{INT64_MAX}, next_inuse_dump{INT64_MAX};
std::atomic<int64_t> dumps_requested{0}, dumps_done{0};
// Never destroyed: a program that leaves by exit() from C, with no stop
// (Python's atexit does not run then), would otherwise abort in the
// joinable thread's destructor, and its exit status would be lost.
std::thread& interval_thread = *new std::thread();
std::mutex& interval_mutex = *new std::mutex();
std::condition_variable& interval_wake = *new std::condition_variable();
bool interval_stop = false;

// Claims a threshold crossing (one thread wins), moving the threshold on.
bool claim(std::atomic<int64_t>& threshold, int64_t value, int64_t step) {
  int64_t at = threshold.load(std::memory_order_relaxed);
  while (value >= at) {
    if (threshold.compare_exchange_weak(at, value + step, std::memory_order_relaxed)) return true;
  }
  return false;
}

void dump_at_threshold(int64_t allocated, int64_t inuse) {
  const bool by_volume = intervals_now.allocated_bytes > 0 &&
                         claim(next_allocated_dump, allocated, intervals_now.allocated_bytes);
  const bool by_inuse = intervals_now.inuse_bytes > 0 && claim(next_inuse_dump, inuse, intervals_now.inuse_bytes);
  if (!by_volume && !by_inuse) return;
  const int64_t ticket = dumps_requested.fetch_add(1) + 1;
  interval_wake.notify_one();  // no allocation, no mutex needed to notify
  while (dumps_done.load() < ticket && recording.load(std::memory_order_relaxed)) {
    struct timespec pause = {0, 200000};
    nanosleep(&pause, nullptr);
  }
}

void interval_loop() {
  in_dump = true;  // everything this thread allocates is yep's
  using clock = std::chrono::steady_clock;
  auto next_time = clock::now() + std::chrono::seconds(intervals_now.seconds);
  int64_t served = 0;
  std::unique_lock<std::mutex> lock(interval_mutex);
  while (!interval_stop) {
    interval_wake.wait_for(lock, std::chrono::milliseconds(50));
    const int64_t requested = dumps_requested.load();
    const bool timed = intervals_now.seconds > 0 && clock::now() >= next_time;
    if (requested == served && !timed) continue;
    if (timed) next_time = clock::now() + std::chrono::seconds(intervals_now.seconds);
    try {
      std::lock_guard<std::mutex> guard(dump_mutex);
      write_dump(false);
    } catch (const CaptureError&) {
      // An explicit dump or the last one at stop reports the problem.
    }
    served = requested;
    dumps_done.store(requested);
  }
}

// In a forked child the heap profile is the parent's: the child records
// nothing (its allocations would wait for a dump thread it does not have),
// and the parent's thread and locks are dropped, not joined or waited on.
// A child that profiles itself (--heap --subprocesses) starts a session of
// its own after this: empty tables, so it counts what it allocates from
// the fork on (a block from before the fork that it frees is not counted).
void after_fork_in_child() {
  if (!recording.load()) return;
  recording = false;
  new (&interval_thread) std::thread();
  new (&interval_mutex) std::mutex();
  new (&interval_wake) std::condition_variable();  // its destructor at exit would wait for the thread
  new (&dump_mutex) std::mutex();
  new (&table_lock) SpinLock();
  in_dump = false;
  if (stacks_fd >= 0) ::close(stacks_fd);  // the parent's session's file
  stacks_fd = -1;
}

}  // namespace

void heap_recorder_start(const MallocHooks& h, const std::string& prefix, const HeapDumpIntervals& intervals,
                         const HeapMixed& mixed, const HeapSampling& sampling) {
  if (recording.load()) throw CaptureError("the heap profiler is already running");
  static const bool fork_handler = ::pthread_atfork(nullptr, nullptr, after_fork_in_child) == 0;
  (void)fork_handler;
  if (!tables.buckets) {
    tables.buckets = static_cast<Bucket*>(map_memory(kMaxBuckets * sizeof(Bucket)));
    tables.bucket_slots = static_cast<uint32_t*>(map_memory(kBucketSlots * sizeof(uint32_t)));
    const size_t slots = sampling.mean > 0 ? kInitialSampledLiveSlots : kInitialLiveSlots;
    tables.live = static_cast<Live*>(map_memory(slots * sizeof(Live)));  // not recording yet
    tables.live_capacity = slots;
    if (!tables.buckets || !tables.bucket_slots || !tables.live)
      throw CaptureError("cannot reserve memory for the heap profiler's tables");
  } else {  // a new session: empty tables (madvise gives the pages back as zeros)
    table_lock.lock();
    madvise(tables.buckets, kMaxBuckets * sizeof(Bucket), MADV_DONTNEED);
    madvise(tables.bucket_slots, kBucketSlots * sizeof(uint32_t), MADV_DONTNEED);
    madvise(tables.live, tables.live_capacity * sizeof(Live), MADV_DONTNEED);
    heap_sampler_filter_clear();
    tables.live_count = 0;
    tables.dropped_stacks = 0;
    table_lock.unlock();
  }
  tables.nbuckets = 1;  // bucket 0: stacks beyond kMaxBuckets (empty stack)
  total_allocated = 0;
  total_inuse = 0;
  peak_inuse = 0;
  session_prefix = prefix;
  dump_count = 0;
  if (stacks_fd >= 0) ::close(stacks_fd);  // the last session's
  stacks_fd = -1;
  stacks_written = 0;
  stacks_keys = PythonKeys();
  hooks = h;
  if (mixed.enabled) {
    if (const char* why = python_frames_unsupported_reason()) throw CaptureError(why);
    if (!code_table().init()) throw CaptureError("cannot map memory for the Python frames of heap stacks");
    if (!line_cache) {
      void* p = mmap(nullptr, kLineCacheSize * sizeof(uint64_t), PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (p == MAP_FAILED) throw CaptureError("cannot map memory for the Python frames of heap stacks");
      line_cache = static_cast<std::atomic<uint64_t>*>(p);
    }
    interpreter = &interpreter_code();
  }
  mixed_stacks = mixed;
  sample_mean = sampling.mean > 0 ? sampling.mean : 0;
  if (sample_mean > 0) heap_sampler_start(sample_mean, sampling.seed);
  native_unwinder_scan();
  if (nskipped == 0) {
    skip_object_of(reinterpret_cast<const void*>(h.add_new_hook));  // the interposer (or libtcmalloc)
    skip_object_of(reinterpret_cast<const void*>(&on_new));         // yep's module
    // Build the unwind rows of the objects every stack starts in here, not
    // inside the first hooks.
    uintptr_t warm[kMaxNativeDepth];
    caller_stack(warm);
  }
  if (!hooks_added.exchange(true)) {
    hooks.add_new_hook(on_new);
    hooks.add_delete_hook(on_delete);
    if (hooks.add_map_hook && hooks.add_unmap_hook) {
      hooks.add_map_hook(on_map);
      hooks.add_unmap_hook(on_unmap);
    }
  }
  // The sampled mode samples Python's objects in pymalloc too (python_allocator_hook.h).
  if (sample_mean > 0) python_allocator_wrap(on_python_sampled, on_delete);
  intervals_now = intervals;
  next_allocated_dump = intervals.allocated_bytes > 0 ? intervals.allocated_bytes : INT64_MAX;
  next_inuse_dump = intervals.inuse_bytes > 0 ? intervals.inuse_bytes : INT64_MAX;
  dumps_requested = 0;
  dumps_done = 0;
  interval_stop = false;
  interval_thread = std::thread(interval_loop);
  recording = true;
}

std::string heap_recorder_dump(bool last) {
  if (!recording.load()) throw CaptureError("the heap profiler is not running; call yep.heap_start() first");
  std::lock_guard<std::mutex> guard(dump_mutex);
  in_dump = true;
  try {
    std::string path = write_dump(last);
    in_dump = false;
    return path;
  } catch (...) {
    in_dump = false;
    throw;
  }
}

void heap_recorder_stop() {
  recording = false;  // also releases threads waiting for an interval dump
  python_allocator_unwrap();
  if (interval_thread.joinable()) {
    {
      std::lock_guard<std::mutex> lock(interval_mutex);
      interval_stop = true;
    }
    interval_wake.notify_all();
    interval_thread.join();
  }
}

bool heap_recorder_running() { return recording.load(); }

int64_t heap_recorder_sample_mean() { return recording.load() ? sample_mean : -1; }

int64_t heap_recorder_inuse_bytes() {
  return recording.load() ? total_inuse.load(std::memory_order_relaxed) : -1;
}

bool heap_recorder_dumping() { return in_dump; }

HeapRecorderStats heap_recorder_stats() {
  HeapRecorderStats s;
  table_lock.lock();
  s.recording = recording.load();
  s.sample_mean = sample_mean;
  s.inuse_bytes = total_inuse.load(std::memory_order_relaxed);
  s.peak_bytes = peak_inuse.load(std::memory_order_relaxed);
  s.allocated_bytes = total_allocated.load(std::memory_order_relaxed);
  s.stacks = tables.nbuckets > 0 ? tables.nbuckets - 1 : 0;  // bucket 0 collects the dropped ones
  s.live_blocks = static_cast<int64_t>(tables.live_count);
  // What the tables have touched: the buckets written, the live map (all of
  // it: probing touches every page), the bucket index (hashed: assume all of
  // its touched pages, at most one per stack), the filter and line cache.
  const int64_t page = 4096;
  const int64_t slot_pages = std::min<int64_t>(s.stacks + 1, static_cast<int64_t>(kBucketSlots * sizeof(uint32_t) / page));
  s.memory_bytes = static_cast<int64_t>(tables.nbuckets) * static_cast<int64_t>(sizeof(Bucket)) +
                   static_cast<int64_t>(tables.live_capacity * sizeof(Live)) + slot_pages * page +
                   static_cast<int64_t>(heap_sampler_filter_bytes()) +
                   (line_cache ? static_cast<int64_t>(kLineCacheSize * sizeof(uint64_t)) : 0);
  table_lock.unlock();
  return s;
}

}  // namespace yep
