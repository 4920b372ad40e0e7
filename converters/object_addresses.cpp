// Object-file addresses of a placed mapping: see object_addresses.h.
#include "object_addresses.h"

namespace yep {

ObjectRange object_range(const Mapping& m) {
  ObjectRange r{m.memory_start, m.memory_limit, m.file_offset};
  if (!m.placed) return r;
  r.start -= m.load_bias;
  r.limit -= m.load_bias;
  if (r.start < m.code_vaddr && m.code_vaddr < r.limit) {
    r.file_offset += m.code_vaddr - r.start;
    r.start = m.code_vaddr;
  }
  return r;
}

uint64_t object_address(const Mapping* m, uint64_t address) {
  return m != nullptr && m->placed ? address - m->load_bias : address;
}

}  // namespace yep
