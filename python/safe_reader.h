// Reads another part of this process's memory without trusting it: a copy
// from an address that is not mapped fails instead of crashing.
//
// The mixed-stack sampler walks the interpreter's frames from a signal
// handler that may have interrupted the interpreter in the middle of popping
// a frame, when a pointer can still name memory that was just unmapped.
// process_vm_readv on our own pid copies through the kernel and returns
// EFAULT for such addresses; it is async-signal-safe and allocation-free.
// Whole 4 KiB pages are copied and kept, so a walk over frames that share
// pages costs one system call per page, not one per read. Where
// process_vm_readv is refused (seccomp), mincore() checks the page is mapped
// and the copy is direct.
//
// DirectReader has the same interface for callers that run synchronously in
// the thread that owns the frames (malloc hooks), where memory is consistent.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace yep {

class SafeReader {
 public:
  // Copies n bytes at addr into dst; false if any of them is not readable.
  bool read(void* dst, uintptr_t addr, size_t n);

  template <typename T>
  bool read(T& out, uintptr_t addr) { return read(&out, addr, sizeof(T)); }

  // Call once outside any signal handler: chooses process_vm_readv or mincore.
  static void init();

 private:
  static constexpr size_t kPageSize = 4096;
  static constexpr int kPages = 6;
  const unsigned char* page(uintptr_t page_addr);

  uintptr_t addr_[kPages] = {};
  bool valid_[kPages] = {};
  int next_ = 0;
  unsigned char data_[kPages][kPageSize];
};

class DirectReader {
 public:
  bool read(void* dst, uintptr_t addr, size_t n) {
    if (addr < 4096) return false;
    std::memcpy(dst, reinterpret_cast<const void*>(addr), n);
    return true;
  }
  template <typename T>
  bool read(T& out, uintptr_t addr) { return read(&out, addr, sizeof(T)); }
};

}  // namespace yep
