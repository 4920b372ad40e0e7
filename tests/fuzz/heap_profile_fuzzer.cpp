// Fuzz target: the heap profile reader (gperftools' and yep's dumps,
// tcmalloc's heap_v2 samples, jemalloc's). See reader_fuzzer.h.
#include "heap_profile_reader.h"
#include "reader_fuzzer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return yep::fuzz_one(data, size, yep::parse_heap_profile);
}
