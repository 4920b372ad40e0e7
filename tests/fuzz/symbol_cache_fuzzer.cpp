// Fuzz target: the symbol cache's file reader (converters/symbol_cache.h),
// which reads files from the user's cache folder that anything may have
// damaged. A file is either refused (nullopt) or parses into contents that
// serialize back to exactly its bytes; anything else is a bug. The input is
// also read with a right checksum put in its last four bytes, so that the
// fuzzer reaches the body's checks behind the checksum.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include <zlib.h>

#include "symbol_cache.h"

namespace {

void check(std::string_view bytes) {
  const auto contents = yep::parse_symbol_cache(bytes);
  if (contents && yep::serialize_symbol_cache(*contents) != bytes) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  check(bytes);
  if (size < 4) return 0;
  std::string fixed(bytes);
  const uint32_t crc = static_cast<uint32_t>(crc32(0L, data, static_cast<uInt>(size - 4)));
  for (int i = 0; i < 4; ++i) fixed[size - 4 + i] = static_cast<char>((crc >> (8 * i)) & 0xff);
  check(fixed);
  return 0;
}
