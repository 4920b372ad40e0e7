#include "safe_reader.h"

#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>

namespace yep {

namespace {

enum class Method { kUnknown, kProcessVmReadv, kMincore };
Method method = Method::kUnknown;
pid_t self = 0;

bool copy_page(void* dst, uintptr_t addr, size_t size) {
  if (method == Method::kProcessVmReadv) {
    iovec local{dst, size}, remote{reinterpret_cast<void*>(addr), size};
    return process_vm_readv(self, &local, 1, &remote, 1, 0) == static_cast<ssize_t>(size);
  }
  unsigned char resident;
  if (mincore(reinterpret_cast<void*>(addr), size, &resident) != 0) return false;
  std::memcpy(dst, reinterpret_cast<const void*>(addr), size);
  return true;
}

}  // namespace

void SafeReader::init() {
  self = getpid();  // a forked child calls init again through the sampler's start
  static unsigned char probe_src[64], probe_dst[64];
  iovec local{probe_dst, sizeof probe_dst}, remote{probe_src, sizeof probe_src};
  method = process_vm_readv(self, &local, 1, &remote, 1, 0) == static_cast<ssize_t>(sizeof probe_src)
               ? Method::kProcessVmReadv
               : Method::kMincore;
}

const unsigned char* SafeReader::page(uintptr_t page_addr) {
  for (int i = 0; i < kPages; ++i)
    if (valid_[i] && addr_[i] == page_addr) return data_[i];
  const int slot = next_;
  next_ = (next_ + 1) % kPages;
  valid_[slot] = false;
  if (page_addr < kPageSize || !copy_page(data_[slot], page_addr, kPageSize)) return nullptr;
  addr_[slot] = page_addr;
  valid_[slot] = true;
  return data_[slot];
}

bool SafeReader::read(void* dst, uintptr_t addr, size_t n) {
  unsigned char* out = static_cast<unsigned char*>(dst);
  while (n > 0) {
    const uintptr_t page_addr = addr & ~(kPageSize - 1);
    const size_t offset = addr - page_addr;
    const size_t chunk = n < kPageSize - offset ? n : kPageSize - offset;
    const unsigned char* p = page(page_addr);
    if (!p) return false;
    std::memcpy(out, p + offset, chunk);
    out += chunk;
    addr += chunk;
    n -= chunk;
  }
  return true;
}

}  // namespace yep
