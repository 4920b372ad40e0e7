// Memory for the big buffers yep builds inside the profiled process (a heap
// dump's text and tables): straight from mmap and given back with munmap,
// never through the program's malloc.
//
// Why: glibc's malloc serves blocks of 128 KiB and more with mmap and gives
// them back at free, until the program frees one such block; then it raises
// its mmap threshold to that block's size for good, and later blocks up to
// that size come from the heap, where a free does not lower RSS. One heap
// dump written through malloc (a few MiB of text) raised it to megabytes:
// the program's 1 MiB blocks then stayed resident after their free, which
// an unprofiled run does not do.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <new>
#include <string>
#include <vector>

namespace yep {

template <typename T>
struct MappedAllocator {
  using value_type = T;
  MappedAllocator() = default;
  template <typename U>
  MappedAllocator(const MappedAllocator<U>&) {}

  T* allocate(size_t n) {
    void* p = mmap(nullptr, bytes(n), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    return static_cast<T*>(p);
  }
  void deallocate(T* p, size_t n) { munmap(p, bytes(n)); }

  template <typename U>
  bool operator==(const MappedAllocator<U>&) const { return true; }
  template <typename U>
  bool operator!=(const MappedAllocator<U>&) const { return false; }

 private:
  static size_t bytes(size_t n) { return n * sizeof(T); }
};

// Appends to a std::string as a string_view does (`text += mapped`).
using MappedString = std::basic_string<char, std::char_traits<char>, MappedAllocator<char>>;
template <typename T>
using MappedVector = std::vector<T, MappedAllocator<T>>;

}  // namespace yep
