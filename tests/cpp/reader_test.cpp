// The gperftools CPU profile reader on crafted files: every word size and
// byte order, summing of repeated stacks, return-address adjustment, maps,
// yep's record, and clear errors for broken input.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cpu_profile_reader.h"
#include "proc_maps.h"
#include "text_writer.h"

namespace {

// Encodes words in the given size and byte order.
std::string encode(const std::vector<uint64_t>& words, int size, bool big_endian) {
  std::string out;
  for (uint64_t w : words)
    for (int b = 0; b < size; ++b) {
      int shift = big_endian ? (size - 1 - b) * 8 : b * 8;
      out.push_back(static_cast<char>((w >> shift) & 0xff));
    }
  return out;
}

const char kMaps[] =
    "00400000-00401000 r--p 00000000 08:01 42 /usr/bin/prog\n"
    "00401000-00500000 r-xp 00001000 08:01 42 /usr/bin/prog\n"
    "7f0000000000-7f0000100000 r-xp 00002000 08:01 43 /lib/libfoo.so\n"
    "7ffd00000000-7ffd00001000 rw-p 00000000 00:00 0 [stack]\n";

// Two records with the same stack, one different, period 10000 us.
std::vector<uint64_t> sample_words() {
  return {0, 3, 0, 10000, 0,
          5, 2, 0x401100, 0x401200,
          7, 2, 0x401100, 0x401200,
          1, 3, 0x7f0000000010, 0x401200, 0x401300,
          0, 1, 0};
}

TEST(CpuProfileReader, ReadsEveryWordSizeAndByteOrder) {
  for (int size : {8, 4}) {
    for (bool big : {false, true}) {
      std::vector<uint64_t> words = sample_words();
      if (size == 4) words[13 + 2] = 0x7f000010;  // fit the 32-bit word
      yep::Profile p = yep::parse_cpu_profile(encode(words, size, big) + kMaps, "t.prof");
      ASSERT_EQ(p.samples.size(), 2u) << size << big;
      EXPECT_EQ(p.samples[0].values[0], 12);  // 5 + 7: repeated stacks summed
      EXPECT_EQ(p.samples[0].values[1], 12 * 10000 * 1000LL);
      EXPECT_EQ(p.samples[1].values[0], 1);
      EXPECT_EQ(p.period, 10000 * 1000LL);
    }
  }
}

TEST(CpuProfileReader, LeafKeepsItsAddressReturnAddressesAreMinusOne) {
  yep::Profile p = yep::parse_cpu_profile(encode(sample_words(), 8, false) + kMaps, "t.prof");
  const yep::Sample& s = p.samples[0];
  ASSERT_EQ(s.location_ids.size(), 2u);
  EXPECT_EQ(p.location(s.location_ids[0]).address, 0x401100u);
  EXPECT_EQ(p.location(s.location_ids[1]).address, 0x4011ffu);
  // The leaf of sample 1 is in libfoo's executable mapping.
  const yep::Location& leaf = p.location(p.samples[1].location_ids[0]);
  ASSERT_NE(leaf.mapping_id, 0u);
  EXPECT_EQ(p.mapping(leaf.mapping_id)->filename, "/lib/libfoo.so");
  EXPECT_TRUE(p.mapping(leaf.mapping_id)->executable);
}

TEST(CpuProfileReader, ParsesAllMappings) {
  std::vector<yep::Mapping> m = yep::parse_proc_maps(kMaps);
  ASSERT_EQ(m.size(), 4u);
  EXPECT_EQ(m[1].memory_start, 0x401000u);
  EXPECT_EQ(m[1].memory_limit, 0x500000u);
  EXPECT_EQ(m[1].file_offset, 0x1000u);
  EXPECT_FALSE(m[0].executable);
  EXPECT_EQ(m[3].filename, "[stack]");
  yep::MappingIndex index(m);
  EXPECT_EQ(index.find(0x401000), 2u);
  EXPECT_EQ(index.find(0x3fffff), 0u);
  EXPECT_EQ(index.find(0x500000), 0u);
}

TEST(CpuProfileReader, ReadsYepRecord) {
  std::string maps = std::string(kMaps) + "# yep: timer=cpu requested_hz=1000 achieved_hz=250 wall_seconds=2.5\n";
  yep::Profile p = yep::parse_cpu_profile(encode(sample_words(), 8, false) + maps, "t.prof");
  EXPECT_EQ(p.duration_nanos, 2500000000LL);
  EXPECT_EQ(p.mappings.size(), 4u);
  ASSERT_EQ(p.comments.size(), 1u);
  EXPECT_EQ(p.comments[0], "CPU-time timer: asked 1000 Hz, got 250.0 Hz; 0.000 s CPU, 2.500 s wall between start and stop");
}

TEST(CpuProfileReader, ZeroSamplesIsAnEmptyProfile) {
  yep::Profile p = yep::parse_cpu_profile(encode({0, 3, 0, 10000, 0, 0, 1, 0}, 8, false) + kMaps, "t.prof");
  EXPECT_TRUE(p.samples.empty());
  std::string text = yep::write_text(p, {});
  EXPECT_NE(text.find("Total: 0.000s"), std::string::npos) << text;
}

TEST(CpuProfileReader, AcceptsDeepStacks) {
  std::vector<uint64_t> words = {0, 3, 0, 4000, 0, 1, 1000};
  for (int i = 0; i < 1000; ++i) words.push_back(0x401000 + i);
  words.insert(words.end(), {0, 1, 0});
  const std::string maps = "00400000-00500000 r-xp 00000000 00:00 42          /usr/bin/prog\n";
  yep::Profile p = yep::parse_cpu_profile(encode(words, 8, false) + maps, "t.prof");
  ASSERT_EQ(p.samples.size(), 1u);
  EXPECT_EQ(p.samples[0].location_ids.size(), 1000u);
}

// Numbers from a file are range-checked: no total may overflow int64, and
// a file that ends at its trailer (no maps) was cut there.
TEST(CpuProfileReader, RefusesNumbersThatOverflowAndProfilesCutAfterTheSamples) {
  const std::string maps = "00400000-00500000 r-xp 00000000 00:00 42          /usr/bin/prog\n";
  auto error = [](const std::string& bytes) {
    try {
      yep::parse_cpu_profile(bytes, "bad.prof");
    } catch (const yep::ProfileError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  const uint64_t half = uint64_t{1} << 62;
  EXPECT_NE(error(encode({0, 3, 0, 10000, 0, half, 1, 0x401000, half, 1, 0x401001, 0, 1, 0}, 8, false) + maps)
                .find("sample counts beyond what 64 bits can add up"),
            std::string::npos);
  EXPECT_NE(error(encode({0, 3, 0, 10000, 0, uint64_t{1} << 50, 1, 0x401000, 0, 1, 0}, 8, false) + maps)
                .find("beyond what 64 bits"),
            std::string::npos);  // the count alone is fine; times the 10 ms period it is not
  EXPECT_NE(error(encode({0, 3, 0, uint64_t{1} << 40, 0, 1, 1, 0x401000, 0, 1, 0}, 8, false) + maps)
                .find("over an hour"),
            std::string::npos);
  EXPECT_NE(error(encode({0, 3, 0, 10000, 0, 1, 1, 0x401000, 0, 1, 0}, 8, false)).find("without the memory maps"),
            std::string::npos);
  EXPECT_EQ(error(encode({0, 3, 0, 10000, 0, 1, 1, 0x401000, 0, 1, 0}, 8, false) + maps), "");
}

std::string error_of(const std::string& bytes) {
  try {
    yep::parse_cpu_profile(bytes, "bad.prof");
  } catch (const yep::ProfileError& e) {
    return e.what();
  }
  return "";
}

TEST(CpuProfileReader, RefusesBrokenFilesWithClearErrors) {
  EXPECT_NE(error_of("").find("empty"), std::string::npos);
  EXPECT_NE(error_of("hello").find("too short"), std::string::npos);
  EXPECT_NE(error_of(encode({1, 3, 0, 10000, 0, 0, 1, 0}, 8, false)).find("bad header"), std::string::npos);
  EXPECT_NE(error_of("heap profile:    1:  1024 [   1:  1024] @ heapprofile\n").find("heap profile"), std::string::npos);
  // Cut in the middle of the records: no trailer.
  std::string full = encode(sample_words(), 8, false);
  EXPECT_NE(error_of(full.substr(0, 8 * 12)).find("truncated"), std::string::npos);
  // Cut in the middle of the maps text.
  EXPECT_NE(error_of(full + std::string(kMaps).substr(0, 70)).find("maps at its end are cut off"), std::string::npos);
  // A depth that runs past the end of the file.
  EXPECT_NE(error_of(encode({0, 3, 0, 10000, 0, 1, 1ull << 40, 0x401000}, 8, false)).find("past the end"),
            std::string::npos);
  // A zero-count record that is not the trailer.
  EXPECT_NE(error_of(encode({0, 3, 0, 10000, 0, 0, 2, 1, 2, 0, 1, 0}, 8, false)).find("corrupt"), std::string::npos);
  // Every message names the file.
  EXPECT_EQ(error_of("").rfind("bad.prof", 0), 0u);
}

}  // namespace
