// object_range / object_address against mappings laid out as the loader lays
// out real objects: a shared object whose code segment starts mid-page (as
// numpy's OpenBLAS does: PT_LOAD offset 0x288800, vaddr 0x289800), one whose
// mapping begins inside its code segment, a non-PIE executable, and mappings
// the symbolizer did not place. The invariant checked every time: an
// address's file offset (address - start + file_offset) is the same before
// and after, and the address stays inside its mapping.
#include "object_addresses.h"

#include <gtest/gtest.h>

namespace {

using yep::Mapping;
using yep::ObjectRange;

constexpr uint64_t kBias = 0x7f0000000000;

Mapping Placed(uint64_t start, uint64_t limit, uint64_t offset, uint64_t bias, uint64_t code_vaddr) {
  Mapping m;
  m.id = 1;
  m.memory_start = start;
  m.memory_limit = limit;
  m.file_offset = offset;
  m.filename = "/lib/libexample.so";
  m.executable = true;
  m.placed = true;
  m.load_bias = bias;
  m.code_vaddr = code_vaddr;
  return m;
}

// The file offset of address in m, before and after; the new address lies
// inside the new range.
void ExpectSameFileOffset(const Mapping& m, uint64_t address) {
  const ObjectRange r = yep::object_range(m);
  const uint64_t moved = yep::object_address(&m, address);
  EXPECT_EQ(moved - r.start + r.file_offset, address - m.memory_start + m.file_offset);
  EXPECT_GE(moved, r.start);
  EXPECT_LT(moved, r.limit);
}

TEST(ObjectAddresses, CodeSegmentStartingMidPage) {
  // The r-x mapping begins at the page that holds the segment's first byte.
  const Mapping m = Placed(kBias + 0x289000, kBias + 0x15ca000, 0x288000, kBias, 0x289800);
  const ObjectRange r = yep::object_range(m);
  EXPECT_EQ(r.start, 0x289800u);  // where the code segment starts
  EXPECT_EQ(r.limit, 0x15ca000u);
  EXPECT_EQ(r.file_offset, 0x288800u);  // the segment's own p_offset
  EXPECT_EQ(yep::object_address(&m, kBias + 0x2a1234), 0x2a1234u);
  ExpectSameFileOffset(m, kBias + 0x2a1234);
  ExpectSameFileOffset(m, kBias + 0x289800);
}

TEST(ObjectAddresses, MappingThatBeginsInsideTheCodeSegment) {
  // The second half of a code segment mapped on its own: its start stays.
  const Mapping m = Placed(kBias + 0x5000, kBias + 0x9000, 0x5000, kBias, 0x1000);
  const ObjectRange r = yep::object_range(m);
  EXPECT_EQ(r.start, 0x5000u);
  EXPECT_EQ(r.limit, 0x9000u);
  EXPECT_EQ(r.file_offset, 0x5000u);
  ExpectSameFileOffset(m, kBias + 0x5678);
}

TEST(ObjectAddresses, NonPieExecutableIsUnchanged) {
  const Mapping m = Placed(0x41f000, 0x6d2000, 0x1f000, 0, 0x41f000);
  const ObjectRange r = yep::object_range(m);
  EXPECT_EQ(r.start, m.memory_start);
  EXPECT_EQ(r.limit, m.memory_limit);
  EXPECT_EQ(r.file_offset, m.file_offset);
  EXPECT_EQ(yep::object_address(&m, 0x420abc), 0x420abcu);
}

TEST(ObjectAddresses, UnplacedMappingsAndNoMappingKeepTheirAddresses) {
  Mapping m = Placed(kBias + 0x1000, kBias + 0x2000, 0x1000, kBias, 0x1000);
  m.placed = false;
  const ObjectRange r = yep::object_range(m);
  EXPECT_EQ(r.start, m.memory_start);
  EXPECT_EQ(r.limit, m.memory_limit);
  EXPECT_EQ(r.file_offset, m.file_offset);
  EXPECT_EQ(yep::object_address(&m, kBias + 0x1234), kBias + 0x1234);
  EXPECT_EQ(yep::object_address(nullptr, 0x1234), 0x1234u);
}

}  // namespace
