#include "code_table.h"

#include <sys/mman.h>

namespace yep {

namespace {

size_t hash_code(uintptr_t code) {
  uint64_t h = code * 0x9E3779B97F4A7C15ull;
  return static_cast<size_t>(h >> 40);
}

void* map(size_t bytes) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

constexpr size_t kSlots = CodeTable::kCapacity * 2;

}  // namespace

bool CodeTable::init() {
  if (entries_) return true;
  entries_ = static_cast<Entry*>(map(kCapacity * sizeof(Entry)));
  slots_ = static_cast<uint32_t*>(map(kSlots * sizeof(uint32_t)));
  arena_ = static_cast<unsigned char*>(map(kArenaBytes));
  return entries_ && slots_ && arena_;
}

void CodeTable::clear() {
  madvise(entries_, kCapacity * sizeof(Entry), MADV_DONTNEED);
  madvise(slots_, kSlots * sizeof(uint32_t), MADV_DONTNEED);
  madvise(arena_, kArenaBytes, MADV_DONTNEED);
  used_ = 0;
  arena_used_ = 0;
}

uint32_t CodeTable::find(const CodeKey& key) const {
  for (size_t slot = hash_code(key.code) % kSlots, probes = 0; probes < kSlots; slot = (slot + 1) % kSlots, ++probes) {
    const uint32_t e = __atomic_load_n(&slots_[slot], __ATOMIC_ACQUIRE);
    if (e == 0) return kNoCode;
    const Entry& entry = entries_[e - 1];
    if (entry.state.load(std::memory_order_acquire) == 2 && entry.key == key)
      return e - 1;
  }
  return kNoCode;
}

uint32_t CodeTable::claim(const CodeKey& key) {
  const size_t index = used_.fetch_add(1);
  if (index >= kCapacity) {
    used_ = kCapacity;
    return kNoCode;
  }
  Entry& entry = entries_[index];
  entry.key = key;
  entry.state.store(1, std::memory_order_release);
  for (size_t slot = hash_code(key.code) % kSlots, probes = 0; probes < kSlots; slot = (slot + 1) % kSlots, ++probes) {
    uint32_t expected = 0;
    if (__atomic_compare_exchange_n(&slots_[slot], &expected, static_cast<uint32_t>(index + 1), false,
                                    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
      return static_cast<uint32_t>(index);
  }
  return kNoCode;
}

unsigned char* CodeTable::arena(size_t n) {
  const size_t at = arena_used_.fetch_add(n);
  return at + n <= kArenaBytes ? arena_ + at : nullptr;
}

void CodeTable::set_strings(uint32_t index, const unsigned char* filename, size_t filename_size,
                            const unsigned char* qualname, size_t qualname_size, const unsigned char* linetable,
                            size_t linetable_size) {
  Entry& e = entries_[index];
  e.filename = filename;
  e.filename_size = static_cast<uint32_t>(filename_size);
  e.qualname = qualname;
  e.qualname_size = static_cast<uint32_t>(qualname_size);
  e.linetable = linetable;
  e.linetable_size = static_cast<uint32_t>(linetable_size);
}

void CodeTable::publish(uint32_t index) { entries_[index].state.store(2, std::memory_order_release); }

CodeInfo CodeTable::info(uint32_t index) const {
  CodeInfo out;
  if (index >= used_.load() || index >= kCapacity) return out;
  const Entry& e = entries_[index];
  if (e.state.load(std::memory_order_acquire) != 2) return out;
  if (e.filename) out.filename.assign(reinterpret_cast<const char*>(e.filename), e.filename_size);
  if (e.qualname) out.qualname.assign(reinterpret_cast<const char*>(e.qualname), e.qualname_size);
  out.address = e.key.code;
  out.firstlineno = e.key.firstlineno;
  out.linetable = e.linetable;
  out.linetable_size = e.linetable_size;
  return out;
}

uintptr_t CodeTable::address(uint32_t index) const {
  if (index >= used_.load() || index >= kCapacity) return 0;
  const Entry& e = entries_[index];
  return e.state.load(std::memory_order_acquire) == 2 ? e.key.code : 0;
}

std::string_view CodeTable::filename(uint32_t index) const {
  if (index >= used_.load() || index >= kCapacity) return {};
  const Entry& e = entries_[index];
  if (e.state.load(std::memory_order_acquire) != 2 || !e.filename) return {};
  return {reinterpret_cast<const char*>(e.filename), e.filename_size};
}

bool CodeTable::line_table(uint32_t index, const unsigned char** table, size_t* size, int* firstlineno) const {
  if (index >= used_.load() || index >= kCapacity) return false;
  const Entry& e = entries_[index];
  if (e.state.load(std::memory_order_acquire) != 2) return false;
  *table = e.linetable;
  *size = e.linetable_size;
  *firstlineno = e.key.firstlineno;
  return true;
}

CodeTable& code_table() {
  static CodeTable table;
  return table;
}

}  // namespace yep
