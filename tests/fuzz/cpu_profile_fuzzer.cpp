// Fuzz target: the CPU profile reader (gperftools' binary format, with the
// maps text and yep's records after it: Python frames, threads, build ids,
// the process record, notes). See reader_fuzzer.h.
#include "cpu_profile_reader.h"
#include "reader_fuzzer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return yep::fuzz_one(data, size, yep::parse_cpu_profile);
}
