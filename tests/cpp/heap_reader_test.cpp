// The gperftools heap profile reader on crafted files (values, summing,
// return-address adjustment, mappings, the 1 MiB truncation, heap_v2, clear
// errors), format detection in the loader, comparison with a base profile,
// and a real dump cut by gperftools itself.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "cpu_profile_reader.h"
#include "heap_profile_reader.h"
#include "profile_diff.h"
#include "profile_loader.h"

namespace {

// As gperftools writes them: device 00:00, padded inode.
const char kMaps[] =
    "00400000-00401000 r--p 00000000 00:00 42          /usr/bin/prog\n"
    "00401000-00500000 r-xp 00001000 00:00 42          /usr/bin/prog\n"
    "7f0000000000-7f0000100000 r-xp 00002000 00:00 43          /lib/libfoo.so\n"
    "7ffd00000000-7ffd00001000 rw-p 00000000 00:00 0           [stack]\n";

// Buckets 1 and 3 have the same stack; header totals = sums of the buckets.
const char kNormal[] =
    "heap profile:      4:     1600 [    10:     4000] @ heapprofile\n"
    "     1:      100 [     2:      200] @ 0x00401105 0x7f0000000021\n"
    "     2:     1000 [     5:     2800] @ 0x00401200 0x00401301\n"
    "     1:      500 [     3:     1000] @ 0x00401105 0x7f0000000021\n"
    "\n"
    "MAPPED_LIBRARIES:\n";

std::string error_of(const std::string& text) {
  try {
    yep::parse_heap_profile(text, "bad.heap");
  } catch (const yep::ProfileError& e) {
    return e.what();
  }
  return "";
}

bool has_comment(const yep::Profile& p, const std::string& part) {
  for (const std::string& c : p.comments)
    if (c.find(part) != std::string::npos) return true;
  return false;
}

std::string all_comments(const yep::Profile& p) {
  std::string out;
  for (const std::string& c : p.comments) out += c + "\n";
  return out;
}

TEST(HeapProfileReader, ReadsValuesSumsStacksAndAdjustsEveryAddress) {
  yep::Profile p = yep::parse_heap_profile(std::string(kNormal) + kMaps, "t.heap");
  ASSERT_EQ(p.sample_types.size(), 4u);
  EXPECT_EQ(p.sample_types[0].type, "alloc_objects");
  EXPECT_EQ(p.sample_types[0].unit, "count");
  EXPECT_EQ(p.sample_types[1].type, "alloc_space");
  EXPECT_EQ(p.sample_types[1].unit, "bytes");
  EXPECT_EQ(p.sample_types[2].type, "inuse_objects");
  EXPECT_EQ(p.sample_types[2].unit, "count");
  EXPECT_EQ(p.sample_types[3].type, "inuse_space");
  EXPECT_EQ(p.sample_types[3].unit, "bytes");
  EXPECT_EQ(p.default_sample_type, 3u);
  EXPECT_EQ(p.period_type.type, "space");
  EXPECT_EQ(p.period_type.unit, "bytes");
  EXPECT_EQ(p.period, 1);
  EXPECT_TRUE(p.comments.empty()) << all_comments(p);

  ASSERT_EQ(p.samples.size(), 2u);  // buckets 1 and 3 summed
  EXPECT_EQ(p.samples[0].values, (std::vector<int64_t>{5, 1200, 2, 600}));
  EXPECT_EQ(p.samples[1].values, (std::vector<int64_t>{5, 2800, 2, 1000}));
  // Every frame, the leaf included, is a return address: address - 1.
  ASSERT_EQ(p.samples[0].location_ids.size(), 2u);
  EXPECT_EQ(p.location(p.samples[0].location_ids[0]).address, 0x401104u);
  EXPECT_EQ(p.location(p.samples[0].location_ids[1]).address, 0x7f0000000020u);
  EXPECT_EQ(p.location(p.samples[1].location_ids[0]).address, 0x4011ffu);
  EXPECT_EQ(p.location(p.samples[1].location_ids[1]).address, 0x401300u);
  EXPECT_EQ(p.locations.size(), 4u);  // one location per distinct address

  // Every maps line becomes a mapping; locations point into them.
  ASSERT_EQ(p.mappings.size(), 4u);
  EXPECT_EQ(p.mappings[1].memory_start, 0x401000u);
  EXPECT_EQ(p.mappings[1].file_offset, 0x1000u);
  EXPECT_EQ(p.mappings[3].filename, "[stack]");
  const yep::Mapping* lib = p.mapping(p.location(p.samples[0].location_ids[1]).mapping_id);
  ASSERT_NE(lib, nullptr);
  EXPECT_EQ(lib->filename, "/lib/libfoo.so");
  EXPECT_TRUE(lib->executable);
  EXPECT_EQ(p.mapping(p.location(p.samples[1].location_ids[0]).mapping_id)->filename, "/usr/bin/prog");
}

TEST(HeapProfileReader, TheProcessRecordOfATreesProfileLabelsEverySample) {
  // python -m yep --heap --subprocesses ends each process's dump so.
  const std::string forked = std::string(kNormal) + kMaps + "# yep-process:\t42\t7\tfork\tpython pool.py\n";
  yep::Profile p = yep::parse_heap_profile(forked, "42.heap");
  ASSERT_EQ(p.samples.size(), 2u);
  for (const yep::Sample& s : p.samples) {
    ASSERT_EQ(s.labels.size(), 1u);
    EXPECT_EQ(s.labels[0].key, "process");
    EXPECT_EQ(s.labels[0].value, "python pool.py (42, fork of 7)");
  }
  EXPECT_EQ(p.samples[0].values, (std::vector<int64_t>{5, 1200, 2, 600}));  // the values as without it
  EXPECT_EQ(p.mappings.size(), 4u);                                         // and the maps
  yep::Profile run = yep::parse_heap_profile(std::string(kNormal) + kMaps + "# yep-process:\t9\t1\trun\tpython c.py\n", "9.heap");
  EXPECT_EQ(run.samples[0].labels.at(0).value, "python c.py (9)");
  yep::Profile none = yep::parse_heap_profile(std::string(kNormal) + kMaps, "t.heap");
  EXPECT_TRUE(none.samples[0].labels.empty());
}

TEST(HeapProfileReader, AcceptsNegativeInUseAndEmptyProfiles) {
  yep::Profile p = yep::parse_heap_profile(
      "heap profile:      0:        0 [     0:        0] @ heapprofile\n\nMAPPED_LIBRARIES:\n" + std::string(kMaps),
      "t.heap");
  EXPECT_TRUE(p.samples.empty());
  EXPECT_EQ(p.mappings.size(), 4u);
  EXPECT_TRUE(p.comments.empty());
  p = yep::parse_heap_profile(
      "heap profile: -1: -64 [ 1: 64] @ heapprofile\n  -1:  -64 [  1:  64] @ 0x00401105\n\nMAPPED_LIBRARIES:\n",
      "t.heap");
  ASSERT_EQ(p.samples.size(), 1u);
  EXPECT_EQ(p.samples[0].values, (std::vector<int64_t>{1, 64, -1, -64}));
}

// What gperftools (up to 2.15) does when a dump outgrows its buffer
// (HeapProfileTable::FillOrderedProfile): the maps go to the end of the
// buffer first; the header and then bucket lines are written into what is
// left, each piece (the four numbers, each " 0x%08x" frame, the newline) only
// if it fits whole with its terminating NUL; once one does not fit, the line
// stops there and the next buckets don't fit either; then the maps follow.
struct Bucket {
  int64_t inuse_objects, inuse_bytes, alloc_objects, alloc_bytes;
  std::vector<uint64_t> stack;
};

std::string gperftools_dump(const std::vector<Bucket>& buckets, const std::string& maps, size_t buffer_size) {
  const std::string maps_part = "\nMAPPED_LIBRARIES:\n" + maps;
  const size_t room = buffer_size - maps_part.size();
  std::string out;
  bool full = false;
  auto put = [&](const std::string& piece) {
    if (full || out.size() + piece.size() >= room) {
      full = true;
      return false;
    }
    out += piece;
    return true;
  };
  Bucket total{0, 0, 0, 0, {}};
  for (const Bucket& b : buckets) {
    total.inuse_objects += b.inuse_objects;
    total.inuse_bytes += b.inuse_bytes;
    total.alloc_objects += b.alloc_objects;
    total.alloc_bytes += b.alloc_bytes;
  }
  char line[128];
  auto counts = [&](const Bucket& b, const char* extra) {
    std::snprintf(line, sizeof line, "%6lld: %8lld [%6lld: %8lld] @%s", static_cast<long long>(b.inuse_objects),
                  static_cast<long long>(b.inuse_bytes), static_cast<long long>(b.alloc_objects),
                  static_cast<long long>(b.alloc_bytes), extra);
    return std::string(line);
  };
  put("heap profile: " + counts(total, " heapprofile") + "\n");
  for (const Bucket& b : buckets) {
    full = false;  // each line starts afresh, as gperftools tries every bucket
    if (!put(counts(b, ""))) continue;
    for (uint64_t pc : b.stack) {
      std::snprintf(line, sizeof line, " 0x%08llx", static_cast<unsigned long long>(pc));
      if (!put(line)) break;
    }
    put("\n");
  }
  return out + maps_part;
}

std::vector<Bucket> many_buckets(int n) {
  std::vector<Bucket> out;
  for (int i = 0; i < n; ++i) {
    Bucket b{1, 100 + i, 2, 300 + i, {}};
    for (int d = 0; d < 20; ++d) b.stack.push_back(0x401000 + 16 * ((i >> (d % 12)) & 0xff) + d + 1);
    b.stack.push_back(0x7f0000001000 + i);  // distinct
    out.push_back(b);
  }
  return out;
}

TEST(HeapProfileReader, ReadsAProfileCutByThe1MiBLimitAndSaysSo) {
  const std::vector<Bucket> buckets = many_buckets(10000);  // ~2.5 MiB of lines
  // The 1 MiB buffer, or the first size below it that cuts the last line
  // between two frames, as seen in real dumps.
  std::string text;
  for (size_t size = 1 << 20; size > (1 << 20) - 64; --size) {
    text = gperftools_dump(buckets, kMaps, size);
    ASSERT_LE(text.size(), size);
    if (text[text.find("\nMAPPED_LIBRARIES:") - 1] != '\n') break;
  }
  ASSERT_NE(text[text.find("\nMAPPED_LIBRARIES:") - 1], '\n') << "the last bucket line should be cut";

  yep::Profile p = yep::parse_heap_profile(text, "cut.heap");
  ASSERT_GT(p.samples.size(), 100u);
  ASSERT_LT(p.samples.size(), buckets.size());
  // Whole buckets are read right.
  for (size_t i = 0; i + 1 < p.samples.size(); ++i) {
    ASSERT_EQ(p.samples[i].values, (std::vector<int64_t>{2, 300 + static_cast<int64_t>(i), 1, 100 + static_cast<int64_t>(i)}));
    ASSERT_EQ(p.samples[i].location_ids.size(), 21u);
  }
  // The cut one keeps its values and the whole frames before the cut.
  const yep::Sample& last = p.samples.back();
  const size_t k = p.samples.size() - 1;
  EXPECT_EQ(last.values[3], 100 + static_cast<int64_t>(k));
  EXPECT_LT(last.location_ids.size(), 21u);
  for (size_t d = 0; d < last.location_ids.size(); ++d)
    EXPECT_EQ(p.location(last.location_ids[d]).address, buckets[k].stack[d] - 1);
  // The maps were kept.
  EXPECT_EQ(p.mappings.size(), 4u);
  // And the profile says it is truncated, with how much it holds.
  int64_t inuse = 0, total_inuse = 0;
  for (const yep::Sample& s : p.samples) inuse += s.values[3];
  for (const Bucket& b : buckets) total_inuse += b.inuse_bytes;
  EXPECT_TRUE(has_comment(p, "truncated by gperftools' 1 MiB heap profile limit: the buckets shown hold " +
                                 std::to_string(inuse) + " of " + std::to_string(total_inuse) + " in-use bytes"))
      << all_comments(p);
  EXPECT_TRUE(has_comment(p, "the last stack read was cut short")) << all_comments(p);
}

TEST(HeapProfileReader, TruncationCasesOfTheLastLine) {
  const std::string header = "heap profile:     10:    99999 [    20:   199999] @ heapprofile\n";
  const std::string whole = "     1:      100 [     2:      200] @ 0x00401105 0x7f0000000021\n";
  // Buckets missing, last line whole: truncated, nothing cut.
  yep::Profile p = yep::parse_heap_profile(header + whole + "\nMAPPED_LIBRARIES:\n" + kMaps, "t.heap");
  ASSERT_EQ(p.samples.size(), 1u);
  EXPECT_TRUE(has_comment(p, "hold 100 of 99999 in-use bytes (0.1%) and 200 of 199999 allocated bytes"))
      << all_comments(p);
  EXPECT_FALSE(has_comment(p, "cut short"));
  // Cut after a whole frame.
  p = yep::parse_heap_profile(header + whole + "     2:     1000 [     5:     2800] @ 0x00401200\nMAPPED_LIBRARIES:\n" + kMaps,
                              "t.heap");
  ASSERT_EQ(p.samples.size(), 2u);
  ASSERT_EQ(p.samples[1].location_ids.size(), 1u);
  EXPECT_EQ(p.location(p.samples[1].location_ids[0]).address, 0x4011ffu);
  EXPECT_TRUE(has_comment(p, "cut short"));
  // Cut inside a frame (not gperftools' way, but a cut token is no address).
  p = yep::parse_heap_profile(header + whole + "     2:     1000 [     5:     2800] @ 0x00401200 0x7f00\nMAPPED_LIBRARIES:\n" + kMaps,
                              "t.heap");
  ASSERT_EQ(p.samples.size(), 2u);
  EXPECT_EQ(p.samples[1].location_ids.size(), 1u);
  p = yep::parse_heap_profile(header + whole + "     2:     1000 [     5:     2800] @ 0x00401200 0x\nMAPPED_LIBRARIES:\n" + kMaps,
                              "t.heap");
  EXPECT_EQ(p.samples[1].location_ids.size(), 1u);
  // Cut before the first frame: the values stand, with no stack.
  p = yep::parse_heap_profile(header + whole + "     2:     1000 [     5:     2800] @\nMAPPED_LIBRARIES:\n" + kMaps,
                              "t.heap");
  ASSERT_EQ(p.samples.size(), 2u);
  EXPECT_TRUE(p.samples[1].location_ids.empty());
  EXPECT_EQ(p.samples[1].values, (std::vector<int64_t>{5, 2800, 2, 1000}));
  // A cut line with all its buckets' totals: still flagged (its stack is partial).
  p = yep::parse_heap_profile("heap profile: 1: 100 [ 2: 200] @ heapprofile\n" +
                                  std::string("     1:      100 [     2:      200] @ 0x00401105\nMAPPED_LIBRARIES:\n"),
                              "t.heap");
  EXPECT_TRUE(has_comment(p, "the last stack read was cut short")) << all_comments(p);
  EXPECT_FALSE(has_comment(p, "hold"));
  // A bad token anywhere else is an error, not a cut.
  EXPECT_NE(error_of(header + "     1:      100 [     2:      200] @ 0x0040 0xzz 0x00401105\n\nMAPPED_LIBRARIES:\n")
                .find("line 2: bad address '0xzz'"),
            std::string::npos);
}

TEST(HeapProfileReader, ReadsTcmallocHeapSamplesUnsampled) {
  // As MallocExtension::GetHeapSample writes it: one line per sampled object,
  // "%p" frames, header totals = sums.
  const std::string text =
      "heap profile:      3:  1050000 [     3:  1050000] @ heap_v2/524288\n"
      "     1:     1000 [     1:     1000] @ 0x7f0000000a70 0x401105 0x401200\n"
      "     1:  1048000 [     1:  1048000] @ 0x7f0000000a70 0x401300\n"
      "     1:     1000 [     1:     1000] @ 0x7f0000000a70 0x401105 0x401200\n"
      "\nMAPPED_LIBRARIES:\n" + std::string(kMaps);
  yep::Profile p = yep::parse_heap_profile(text, "sample.heap");
  EXPECT_EQ(p.period, 524288);
  EXPECT_EQ(p.period_type.type, "space");
  ASSERT_EQ(p.samples.size(), 2u);
  // Each line / (1 - exp(-size / period)): 1000-byte objects are sampled
  // with probability 1/524.79, so each line stands for 524 objects, 524788 bytes.
  EXPECT_EQ(p.samples[0].values, (std::vector<int64_t>{2 * 524, 2 * 524788, 2 * 524, 2 * 524788}));
  const double scale = 1 / (1 - std::exp(-1048000.0 / 524288));  // a big object: likely sampled
  EXPECT_EQ(p.samples[1].values[2], static_cast<int64_t>(scale));
  EXPECT_EQ(p.samples[1].values[3], static_cast<int64_t>(1048000 * scale));
  EXPECT_EQ(p.location(p.samples[0].location_ids[0]).address, 0x7f0000000a6fu);
  EXPECT_EQ(p.location(p.samples[0].location_ids[1]).address, 0x401104u);
  EXPECT_TRUE(has_comment(p, "heap_v2")) << all_comments(p);
  EXPECT_FALSE(has_comment(p, "truncated"));
}

TEST(HeapProfileReader, ReadsYepSampledDumpsAsWrittenAndSaysTheyAreEstimates) {
  // yep --heap-sample: figures already scaled, the mean in a comment line.
  const std::string text =
      "heap profile:      3:  1600000 [   131:  1600000] @ heapprofile\n"
      "# yep-sampled: 524288 (mean bytes between samples; ...)\n"
      "     2:  1048000 [     2:  1048000] @ 0x00401105 0x7f0000000021\n"
      "     1:   552000 [   129:   552000] @ 0x00401200\n"
      "\nMAPPED_LIBRARIES:\n" + std::string(kMaps);
  yep::Profile p = yep::parse_heap_profile(text, "sampled.heap");
  EXPECT_EQ(p.period, 524288);
  ASSERT_EQ(p.samples.size(), 2u);
  EXPECT_EQ(p.samples[0].values, (std::vector<int64_t>{2, 1048000, 2, 1048000}));
  EXPECT_EQ(p.samples[1].values, (std::vector<int64_t>{129, 552000, 1, 552000}));
  EXPECT_TRUE(has_comment(p, "sampled: one allocation per 512 KiB on average")) << all_comments(p);
  EXPECT_TRUE(has_comment(p, "figures are estimates")) << all_comments(p);
  EXPECT_FALSE(has_comment(p, "truncated")) << all_comments(p);
  // An exact dump says nothing of sampling.
  EXPECT_FALSE(has_comment(yep::parse_heap_profile(std::string(kNormal) + kMaps, "exact.heap"), "sampled"));
  // A mean that is not a positive number: one clear line.
  for (const char* bad : {"# yep-sampled: x", "# yep-sampled: 0", "# yep-sampled:", "# yep-sampled: -5"}) {
    const std::string broken = "heap profile: 0: 0 [0: 0] @ heapprofile\n" + std::string(bad) +
                               "\n\nMAPPED_LIBRARIES:\n";
    const std::string error = error_of(broken);
    EXPECT_NE(error.find("bad.heap: line 2: bad sampling mean"), std::string::npos) << bad << ": " << error;
  }
}

TEST(HeapProfileReader, ReadsJemallocHeapProfiles) {
  // As jemalloc's prof_dump writes it: "heap_v2/<period>", totals, one line
  // per thread, then per stack "@ frames", its totals, its threads.
  const std::string text =
      "heap_v2/524288\n"
      "  t*: 3: 3072 [0: 0]\n"
      "  t0: 2: 2048 [0: 0]\n"
      "  t1: 1: 1024 [0: 0] worker\n"
      "@ 0x7f0000000a70 0x401105 0x401200\n"
      "  t*: 2: 2048 [0: 0]\n"
      "  t0: 2: 2048 [0: 0]\n"
      "@\n"
      "  t*: 1: 1024 [0: 0]\n"
      "  t1: 1: 1024 [0: 0] worker\n"
      "\nMAPPED_LIBRARIES:\n" + std::string(kMaps);
  EXPECT_TRUE(yep::is_heap_profile(text));
  yep::Profile p = yep::parse_heap_profile(text, "jeprof.heap");
  EXPECT_EQ(p.period, 524288);
  ASSERT_EQ(p.samples.size(), 2u);
  // 1024-byte objects: each sampled one stands for 512.5.
  EXPECT_EQ(p.samples[0].values, (std::vector<int64_t>{0, 0, 1025, 1049600}));
  ASSERT_EQ(p.samples[0].location_ids.size(), 3u);
  EXPECT_EQ(p.location(p.samples[0].location_ids[0]).address, 0x7f0000000a6fu);
  EXPECT_EQ(p.location(p.samples[0].location_ids[2]).address, 0x4011ffu);
  EXPECT_TRUE(p.samples[1].location_ids.empty());  // jemalloc could not unwind it
  EXPECT_EQ(p.samples[1].values, (std::vector<int64_t>{0, 0, 512, 524800}));
  EXPECT_EQ(p.mappings.size(), 4u);
  EXPECT_TRUE(has_comment(p, "jemalloc heap profile")) << all_comments(p);
  EXPECT_FALSE(has_comment(p, "incomplete")) << all_comments(p);

  EXPECT_NE(error_of("heap_v2/524288\n  t*: 1: 1 [0: 0]\n@ 0x1\n@ 0x2\n  t*: 1: 1 [0: 0]\n\nMAPPED_LIBRARIES:\n")
                .find("line 4: jemalloc heap profile stack without a 't*:' line"),
            std::string::npos);
  EXPECT_NE(error_of("heap_v2/524288\n  t*: 1: 1 [0: 0]\n@ 0x1\n\nMAPPED_LIBRARIES:\n").find("the last stack has no 't*:' line"),
            std::string::npos);
  EXPECT_NE(error_of("heap_v2/524288\n  x: 1\n\nMAPPED_LIBRARIES:\n").find("line 2: bad jemalloc heap profile totals"),
            std::string::npos);
  EXPECT_NE(error_of("heap_v2/524288\n  t*: 1: 1 [0: 0]\nfoo\n\nMAPPED_LIBRARIES:\n").find("line 3: bad jemalloc heap profile line 'foo'"),
            std::string::npos);
  EXPECT_NE(error_of("heap_v2/524288\n  t*: 1: 1 [0: 0]\n@ 0x1\n  t*: 1: 1 [0: 0]\n").find("no MAPPED_LIBRARIES"),
            std::string::npos);
}

TEST(HeapProfileReader, KeepsTcmallocWarningsOfAnEmptySample) {
  // What GetHeapSample writes when TCMALLOC_SAMPLE_PARAMETER is unset.
  const std::string text =
      "%warn\n"
      "%warn This heap profile does not have any data in it, because\n"
      "%warn the application was run with heap sampling turned off.\n"
      "%warn\n"
      "heap profile:      0:        0 [     0:        0] @ heap_v2/0\n"
      "\nMAPPED_LIBRARIES:\n" + std::string(kMaps);
  EXPECT_TRUE(yep::is_heap_profile(text));
  yep::Profile p = yep::parse_heap_profile(text, "sample.heap");
  EXPECT_TRUE(p.samples.empty());
  EXPECT_EQ(p.mappings.size(), 4u);
  EXPECT_TRUE(has_comment(p, "tcmalloc: This heap profile does not have any data in it, because the application was "
                             "run with heap sampling turned off."))
      << all_comments(p);
}

TEST(HeapProfileReader, RefusesBrokenFilesWithClearErrors) {
  EXPECT_NE(error_of("").find("empty"), std::string::npos);
  EXPECT_NE(error_of("hello world\n").find("not a heap profile"), std::string::npos);
  EXPECT_NE(error_of(std::string("\0\0\0\0\3\0\0\0", 8)).find("not a heap profile"), std::string::npos);
  // A profile whose end is missing.
  const std::string no_maps =
      "heap profile:      4:     1600 [    10:     4000] @ heapprofile\n"
      "     1:      100 [     2:      200] @ 0x00401105 0x7f0000000021\n"
      "     2:     1000 [     5:  ";
  EXPECT_NE(error_of(no_maps).find("incomplete heap profile: no MAPPED_LIBRARIES section"), std::string::npos)
      << error_of(no_maps);
  EXPECT_NE(error_of("heap profile:      4:     1600 [    10:     4000] @ heapprofile").find("no MAPPED_LIBRARIES"),
            std::string::npos);
  // Bad numbers.
  EXPECT_NE(error_of("heap profile: x: 1 [ 1: 1] @ heapprofile\n\nMAPPED_LIBRARIES:\n").find("line 1: bad heap profile header"),
            std::string::npos);
  EXPECT_NE(error_of("heap profile: 1: 1 [ 1: 1] @ heapprofile\n 1: 1 [ 1: 99999999999999999999] @ 0x00401000\n\nMAPPED_LIBRARIES:\n")
                .find("line 2: bad heap profile bucket"),
            std::string::npos);
  EXPECT_NE(error_of("heap profile: 1: 1 [ 1: 1] @ heapprofile\n 1: 1 [ -1: 1] @ 0x00401000\n\nMAPPED_LIBRARIES:\n")
                .find("line 2: bad heap profile bucket"),
            std::string::npos);
  EXPECT_NE(error_of("heap profile: 1: 1 [ 1: 1] @ heapprofile\n 1: abc\n\nMAPPED_LIBRARIES:\n").find("bad heap profile bucket"),
            std::string::npos);
  EXPECT_NE(error_of("heap profile: 1: 1 [ 1: 1] @ heap_v2/x\n\nMAPPED_LIBRARIES:\n").find("bad sampling period"),
            std::string::npos);
  // Kinds yep does not read.
  EXPECT_NE(error_of("heap profile: 1: 1 [ 1: 1] @ growthz\n\nMAPPED_LIBRARIES:\n").find("kind 'growthz' is not supported"),
            std::string::npos);
  // Every message names the file and is one line.
  for (const std::string& bad : {std::string(), no_maps, std::string("junk")}) {
    const std::string e = error_of(bad);
    EXPECT_EQ(e.rfind("bad.heap: ", 0), 0u) << e;
    EXPECT_EQ(e.find('\n'), std::string::npos) << e;
  }
}

TEST(HeapProfileReader, DetectsHeapProfiles) {
  EXPECT_TRUE(yep::is_heap_profile("heap profile:      4:     1600 [ ..."));
  EXPECT_TRUE(yep::is_heap_profile("heap_v2/524288"));
  EXPECT_TRUE(yep::is_heap_profile("%warn\n%warn text\nheap profile: 0: 0 [ 0: 0] @ heap_v2/0\n"));
  EXPECT_FALSE(yep::is_heap_profile(std::string("\0\0\0\0\0\0\0\0\3\0\0\0\0\0\0\0", 16)));
  EXPECT_FALSE(yep::is_heap_profile("%warn only"));
  EXPECT_FALSE(yep::is_heap_profile(""));
}

// --- The loader: detection and base profiles, through real files.

std::string encode64(const std::vector<uint64_t>& words) {
  std::string out;
  for (uint64_t w : words)
    for (int b = 0; b < 8; ++b) out.push_back(static_cast<char>((w >> (8 * b)) & 0xff));
  return out;
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/yep_heap_test_XXXXXX";
    const char* d = ::mkdtemp(tmpl);
    if (d) path_ = d;
  }
  ~TempDir() {
    if (!path_.empty()) std::system(("rm -rf '" + path_ + "'").c_str());
  }
  std::string write(const std::string& name, const std::string& bytes) const {
    const std::string p = path_ + "/" + name;
    std::ofstream(p, std::ios::binary) << bytes;
    return p;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

const std::vector<uint64_t> kCpuWords = {0, 3, 0, 10000, 0, 5, 2, 0x401100, 0x401200, 0, 1, 0};

TEST(ProfileLoader, DetectsTheFormatFromTheFirstBytes) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  yep::Profile heap = yep::read_profile(dir.write("a.heap", std::string(kNormal) + kMaps));
  EXPECT_EQ(heap.sample_types.size(), 4u);
  EXPECT_EQ(heap.sample_types[3].type, "inuse_space");
  yep::Profile cpu = yep::read_profile(dir.write("a.prof", encode64(kCpuWords) + kMaps));
  EXPECT_EQ(cpu.sample_types.size(), 2u);
  EXPECT_EQ(cpu.sample_types[1].type, "cpu");
  // A sampled heap with warnings first is a heap profile too.
  yep::Profile sample = yep::read_profile(
      dir.write("s.heap", "%warn x\nheap profile: 0: 0 [ 0: 0] @ heap_v2/0\n\nMAPPED_LIBRARIES:\n" + std::string(kMaps)));
  EXPECT_EQ(sample.sample_types.size(), 4u);
  // Loading symbolizes (the crafted files' objects don't exist: fallback names).
  yep::Profile loaded = yep::load_profile(dir.write("b.heap", std::string(kNormal) + kMaps));
  EXPECT_FALSE(loaded.functions.empty());
  for (const yep::Location& loc : loaded.locations) EXPECT_FALSE(loc.lines.empty());
  // Errors still name the file.
  try {
    yep::read_profile(dir.write("garbage.heap", "heap profile: junk\n"));
    FAIL() << "no error";
  } catch (const yep::ProfileError& e) {
    EXPECT_EQ(std::string(e.what()).rfind(dir.path() + "/garbage.heap: ", 0), 0u) << e.what();
  }
}

TEST(ProfileLoader, ComparesWithABaseAndRefusesAnotherKind) {
  TempDir dir;
  const std::string now = dir.write("now.heap", std::string(kNormal) + kMaps);
  const std::string before = dir.write(
      "before.heap",
      "heap profile:      1:      100 [     2:      200] @ heapprofile\n"
      "     1:      100 [     2:      200] @ 0x00401105 0x7f0000000021\n\nMAPPED_LIBRARIES:\n" + std::string(kMaps));
  const yep::Profile p = yep::load_profiles({now}, before);
  ASSERT_TRUE(p.diff);
  ASSERT_EQ(p.samples.size(), 3u);  // the profile's two stacks, then the base's one, negated
  EXPECT_FALSE(p.in_base(p.samples[0]));
  EXPECT_TRUE(p.in_base(p.samples[2]));
  EXPECT_EQ(p.samples[2].values, (std::vector<int64_t>{-2, -200, -1, -100}));
  EXPECT_TRUE(has_comment(p, "base: " + before + " subtracted")) << all_comments(p);
  for (const yep::Location& loc : p.locations) EXPECT_FALSE(loc.lines.empty());  // both symbolized

  const std::string cpu = dir.write("cpu.prof", encode64(kCpuWords) + kMaps);
  try {
    yep::load_profiles({now}, cpu);
    FAIL() << "no error";
  } catch (const yep::ProfileError& e) {
    const std::string m = e.what();
    EXPECT_EQ(m.rfind(cpu + " (samples/count, cpu/nanoseconds) cannot be compared with " + now, 0), 0u) << m;
    EXPECT_NE(m.find("compare profiles of one kind"), std::string::npos) << m;
    EXPECT_EQ(m.find('\n'), std::string::npos);
  }
  EXPECT_THROW(yep::load_profiles({now}, dir.path() + "/missing.heap"), yep::ProfileError);
  EXPECT_THROW(yep::load_profiles({now}, "", true), yep::ProfileError);  // --normalize without a base
}

// --- diff() on crafted, symbolized profiles: functions matched by identity.

// A profile of one sample type ("cpu"/nanoseconds) whose samples are stacks
// of named functions (leaf first), each function one location.
struct Stack {
  std::vector<yep::Function> frames;  // leaf first
  int64_t value;
};

yep::Profile crafted(const std::vector<Stack>& stacks) {
  yep::Profile p;
  p.sample_types = {{"cpu", "nanoseconds"}};
  for (const Stack& stack : stacks) {
    yep::Sample s;
    for (yep::Function f : stack.frames) {
      f.id = p.functions.size() + 1;  // one function per frame: the combiner must join equal ones
      p.functions.push_back(f);
      yep::Location loc;
      loc.id = p.locations.size() + 1;
      loc.address = 0x1000 * loc.id;  // addresses differ between profiles: never matched by them
      loc.lines.push_back({f.id, f.start_line + 1});
      p.locations.push_back(loc);
      s.location_ids.push_back(loc.id);
    }
    s.values = {stack.value};
    p.samples.push_back(s);
  }
  return p;
}

yep::Function py(const std::string& name, const std::string& file, int64_t line) {
  yep::Function f;
  f.name = name;
  f.system_name = "py:" + file + ":" + name;
  f.filename = file;
  f.start_line = line;
  return f;
}

yep::Function native(const std::string& name, const std::string& object) {
  yep::Function f;
  f.name = f.system_name = name;
  f.object = object;
  return f;
}

// The value of every function (by name and object) over samples, base and now apart.
std::map<std::string, std::pair<int64_t, int64_t>> flat_by_function(const yep::Profile& p) {
  std::map<std::string, std::pair<int64_t, int64_t>> out;
  for (const yep::Sample& s : p.samples) {
    const yep::Function& f = p.function(p.location(s.location_ids[0]).lines[0].function_id);
    auto& slot = out[f.name + "@" + f.object + ":" + std::to_string(f.start_line)];
    (p.in_base(s) ? slot.first : slot.second) += s.values[0];
  }
  return out;
}

TEST(Diff, MatchesFunctionsByIdentityNeverByAddressOrIndex) {
  // The base loaded one more module first: its functions come in another
  // order, at other addresses; blas in two objects stays two functions.
  const yep::Profile base = crafted({{{py("imported", "extra.py", 1)}, 50},
                                     {{py("work", "prog.py", 10), py("<module>", "prog.py", 1)}, 400},
                                     {{native("blas", "libopenblas-a.so")}, 30},
                                     {{native("blas", "libopenblas-b.so")}, 70}});
  const yep::Profile now = crafted({{{py("work", "prog.py", 10), py("<module>", "prog.py", 1)}, 800},
                                    {{native("blas", "libopenblas-b.so")}, 70},
                                    {{native("blas", "libopenblas-a.so")}, 30}});
  const yep::Profile d = yep::diff(now, base, "now.prof", "base.prof", false);
  EXPECT_TRUE(d.diff);
  EXPECT_TRUE(d.base_scales.empty());
  const auto flat = flat_by_function(d);
  EXPECT_EQ(flat.at("work@:10"), std::make_pair(int64_t{-400}, int64_t{800}));
  EXPECT_EQ(flat.at("blas@libopenblas-a.so:0"), std::make_pair(int64_t{-30}, int64_t{30}));
  EXPECT_EQ(flat.at("blas@libopenblas-b.so:0"), std::make_pair(int64_t{-70}, int64_t{70}));
  EXPECT_EQ(flat.at("imported@:1"), std::make_pair(int64_t{-50}, int64_t{0}));
  EXPECT_EQ(flat.size(), 4u);
  size_t blas = 0;
  for (const yep::Function& f : d.functions) blas += f.name == "blas";
  EXPECT_EQ(blas, 2u);
  EXPECT_EQ(d.comments.back(), "base: base.prof subtracted");
}

TEST(Diff, AFunctionWhoseDefinitionMovedIsStillOneFunction) {
  // Two lines added at the top of prog.py: work moved from line 10 to 12.
  const yep::Profile base = crafted({{{py("work", "prog.py", 10)}, 400}, {{py("<lambda>", "prog.py", 3)}, 5},
                                     {{py("<lambda>", "prog.py", 4)}, 6}});
  const yep::Profile now = crafted({{{py("work", "prog.py", 12)}, 800}, {{py("<lambda>", "prog.py", 5)}, 5},
                                    {{py("<lambda>", "prog.py", 6)}, 6}});
  const yep::Profile d = yep::diff(now, base, "now.prof", "base.prof", false);
  size_t works = 0, lambdas = 0;
  for (const yep::Function& f : d.functions) {
    works += f.name == "work";
    lambdas += f.name == "<lambda>";
  }
  EXPECT_EQ(works, 1u);    // unambiguous: matched without its line
  EXPECT_EQ(lambdas, 4u);  // two of one name in one file: never guessed
}

TEST(Diff, NormalizeScalesTheBaseToTheProfilesTotal) {
  const yep::Profile base = crafted({{{py("a", "p.py", 1)}, 300}, {{py("b", "p.py", 5)}, 100}});
  const yep::Profile now = crafted({{{py("a", "p.py", 1)}, 600}, {{py("b", "p.py", 5)}, 600}});
  const yep::Profile d = yep::diff(now, base, "now.prof", "base.prof", true);
  ASSERT_EQ(d.base_scales, (std::vector<double>{3.0}));
  const auto flat = flat_by_function(d);
  EXPECT_EQ(flat.at("a@:1"), std::make_pair(int64_t{-900}, int64_t{600}));  // a's share fell from 3/4 to 1/2
  EXPECT_EQ(flat.at("b@:5"), std::make_pair(int64_t{-300}, int64_t{600}));
  EXPECT_EQ(d.comments.back(), "base: base.prof subtracted (scaled by 3 to this profile's total)");
}

TEST(Diff, RefusesProfilesOfAnotherKind) {
  const yep::Profile now = crafted({{{py("a", "p.py", 1)}, 300}});
  yep::Profile heap = now;
  heap.sample_types = {{"inuse_space", "bytes"}};
  try {
    yep::diff(now, heap, "now.prof", "old.heap", false);
    FAIL() << "no error";
  } catch (const yep::ProfileError& e) {
    EXPECT_EQ(std::string(e.what()), "old.heap (inuse_space/bytes) cannot be compared with now.prof "
                                     "(cpu/nanoseconds): compare profiles of one kind");
  }
}

// --- A real dump: gperftools cutting a profile of 65,536 stacks at 1 MiB.

TEST(RealHeapDump, GperftoolsCutsABigProfileAndTheReaderSaysSo) {
#ifndef YEP_HEAP_TRUNCATION_PROGRAM
  GTEST_SKIP() << "libtcmalloc (gperftools' heap profiler) was not found at build time";
#else
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::string prefix = dir.path() + "/big";
  const std::string command = std::string("'") + YEP_HEAP_TRUNCATION_PROGRAM + "' '" + prefix + "' >/dev/null 2>&1";
  const int status = std::system(command.c_str());
  ASSERT_TRUE(WIFEXITED(status)) << command;
  if (WEXITSTATUS(status) == 77) GTEST_SKIP() << "tcmalloc's heap profiler did not start";
  ASSERT_EQ(WEXITSTATUS(status), 0) << command;
  const std::string path = prefix + ".0001.heap";
  const std::string text = yep::read_file(path);
  ASSERT_LE(text.size(), 1u << 20) << "gperftools >= 2.16 no longer caps heap profiles; this test needs <= 2.15";

  yep::Profile p = yep::read_profile(path);
  EXPECT_TRUE(has_comment(p, "truncated by gperftools' 1 MiB heap profile limit: the buckets shown hold"))
      << all_comments(p);
  EXPECT_GT(p.samples.size(), 1000u);
  EXPECT_LT(p.samples.size(), 65536u);
  // The maps, written first, were kept: the program's own mapping is there.
  bool program_mapped = false;
  const std::string program = "/heap_truncation_program";
  for (const yep::Mapping& m : p.mappings)
    program_mapped = program_mapped || (m.executable && m.filename.size() > program.size() &&
                                        m.filename.compare(m.filename.size() - program.size(), program.size(), program) == 0);
  EXPECT_TRUE(program_mapped);
  // Symbolized, the stacks go through the program's functions.
  p = yep::load_profile(path);
  bool dispatch_seen = false;
  for (const yep::Function& f : p.functions) dispatch_seen = dispatch_seen || f.name.find("dispatch") != std::string::npos;
  EXPECT_TRUE(dispatch_seen);
#endif
}

// --- Stack reference dumps (yep's exact --heap mode): buckets "@ =<id>",
// stacks in a session-wide stacks file next to the dump.

// Everything a Profile read from a heap dump holds, as text.
std::string describe(const yep::Profile& p) {
  std::string out;
  for (const yep::Sample& s : p.samples) {
    out += "sample";
    for (uint64_t id : s.location_ids) out += " " + std::to_string(id);
    out += " =";
    for (int64_t v : s.values) out += " " + std::to_string(v);
    for (const yep::Label& l : s.labels) out += " [" + l.key + "=" + l.value + "]";
    out += "\n";
  }
  for (const yep::Location& l : p.locations) {
    out += "location " + std::to_string(l.id) + " " + std::to_string(l.mapping_id) + " " + std::to_string(l.address) +
           (l.interpreter ? " plumbing" : "");
    for (const yep::Line& line : l.lines) out += " " + std::to_string(line.function_id) + ":" + std::to_string(line.line);
    out += "\n";
  }
  for (const yep::Function& f : p.functions)
    out += "function " + std::to_string(f.id) + " " + f.name + " " + f.system_name + " " + f.filename + " " +
           std::to_string(f.start_line) + "\n";
  for (const yep::Mapping& m : p.mappings)
    out += "mapping " + std::to_string(m.id) + " " + std::to_string(m.memory_start) + " " + m.filename + " " +
           m.build_id + "\n";
  for (const yep::FunctionHint& h : p.function_hints)
    out += "hint " + std::to_string(h.start) + " " + std::to_string(h.end) + " " + h.name + "\n";
  for (const std::string& c : p.comments) out += "comment " + c + "\n";
  out += "period " + std::to_string(p.period) + (p.python_frames ? " python" : "") +
         (p.interpreter_marked ? " marked" : "") + "\n";
  return out;
}

std::string error_reading(const std::string& path) {
  try {
    yep::read_profile(path);
  } catch (const yep::ProfileError& e) {
    return e.what();
  }
  return "";
}

const char kMixedHeader[] = "heap profile:      6:     2600 [    14:     6000] @ heapprofile\n";
// After the maps: the process, and a build id (the dump's own, both ways).
const char kMixedTail[] =
    "# yep-build-id:\t401000\t0123abcd\n"
    "# yep-process:\t42\t1\trun\tpython c.py\n";

// Bucket 0 and 2: one stack (stack A + main); 3: stack A under helper; 1: native.
const char kWholeBuckets[] =
    "     1:      100 [     2:      200] @ 0x00401105 0x7f0000000021\n"
    "     2:     1000 [     5:     2800] @ 0x00401200 0x00401301\n"
    "     1:      500 [     3:     1000] @ 0x00401105 0x7f0000000021\n"
    "     2:     1000 [     4:     2000] @ 0x00401105 0x7f0000000021\n"
    "\n"
    "MAPPED_LIBRARIES:\n";
const char kWholeAnnotations[] =
    "# yep-python:\t0\t12\t10\t/p/script.py\tmain\n"
    "# yep-python:\t1\t5\t3\t/p/script.py\thelper\n"
    "# yep-stack:\t0\t-\t1:0\t0\n"
    "# yep-stack:\t1\t-\t\t\n"
    "# yep-stack:\t2\t-\t1:0\t0\n"
    "# yep-stack:\t3\t-\t1:1,2:0\t0\n"
    "# yep-function:\t401100\t401110\tlen\n";

// The same dump as a reference dump: stacks 17 (A + main), 3 (native) and
// 5 (A under helper), keyed by the session's own Python keys.
const char kReferenceBuckets[] =
    "# yep-stacks:\trun.stacks\n"
    "     1:      100 [     2:      200] @ =17\n"
    "     2:     1000 [     5:     2800] @ =3\n"
    "     1:      500 [     3:     1000] @ =17\n"
    "     2:     1000 [     4:     2000] @ =5\n"
    "\n"
    "MAPPED_LIBRARIES:\n";
// Interleaved batches, another dump's stacks (9, 99) and their frames, a
// builtin no referenced stack holds, the one used written twice, and an
// append in progress.
const char kStacksFile[] =
    "yep heap stacks 1\n"
    "9 @ 0x00401200\n"
    "# yep-python:\t1b\t7\t3\t/p/other.py\tunused\n"
    "# yep-stack:\t9\t-\t0:1b\t\n"
    "# yep-python:\t1a\t12\t10\t/p/script.py\tmain\n"
    "17 @ 0x00401105 0x7f0000000021\n"
    "# yep-stack:\t17\t-\t1:1a\t0\n"
    "# yep-function:\t401100\t401110\tlen\n"
    "# yep-function:\t7f0000000800\t7f0000000900\tunused\n"
    "3 @ 0x00401200 0x00401301\n"
    "# yep-stack:\t3\t-\t\t\n"
    "# yep-python:\t2c\t5\t3\t/p/script.py\thelper\n"
    "# yep-stack:\t5\t-\t1:2c,2:1a\t0\n"
    "5 @ 0x00401105 0x7f0000000021\n"
    "# yep-function:\t401100\t401110\tlen\n"
    "99 @ 0x00401105\n"
    "# yep-stack:\t99\t-\t0:1b\t\n"
    "# yep-python:\t3d\t1\t1\t/p/x.py\tpartly";

TEST(StackReferenceDump, ReadsIntoTheProfileOfTheSameDumpWrittenWhole) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::string whole =
      dir.write("whole.heap", std::string(kMixedHeader) + kWholeBuckets + kMaps + kMixedTail + kWholeAnnotations);
  const std::string reference =
      dir.write("run.0001.heap", std::string(kMixedHeader) + kReferenceBuckets + kMaps + kMixedTail);
  dir.write("run.stacks", kStacksFile);
  const yep::Profile expected = yep::read_profile(whole);
  ASSERT_EQ(expected.samples.size(), 3u);  // buckets 0 and 2 summed
  EXPECT_TRUE(expected.python_frames);
  EXPECT_TRUE(expected.interpreter_marked);
  ASSERT_EQ(expected.function_hints.size(), 1u);
  const yep::Profile p = yep::read_profile(reference);
  EXPECT_EQ(describe(p), describe(expected));
  EXPECT_EQ(describe(yep::read_heap_profile(reference)), describe(expected));
  // Either order of the two comment lines after the header.
  const std::string sampled_first = dir.write(
      "run.0002.heap", std::string(kMixedHeader) + "# yep-sampled: 1024\n" + kReferenceBuckets + kMaps + kMixedTail);
  const std::string sampled_whole = dir.write(
      "whole2.heap", std::string(kMixedHeader) + "# yep-sampled: 1024\n" + kWholeBuckets + kMaps + kMixedTail +
                         kWholeAnnotations);
  EXPECT_EQ(describe(yep::read_profile(sampled_first)), describe(yep::read_profile(sampled_whole)));
  std::string stacks_first = std::string(kReferenceBuckets);
  stacks_first.insert(stacks_first.find('\n') + 1, "# yep-sampled: 1024\n");
  EXPECT_EQ(describe(yep::read_profile(dir.write("run.0003.heap", kMixedHeader + stacks_first + kMaps + kMixedTail))),
            describe(yep::read_profile(sampled_whole)));
}

TEST(StackReferenceDump, RefusesWhatItCannotResolveWithOneLineErrors) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::string dump = std::string(kMixedHeader) + kReferenceBuckets + kMaps;
  auto one_line = [](const std::string& e) { return !e.empty() && e.find('\n') == std::string::npos; };

  // The stacks file was not copied along.
  const std::string alone = dir.write("run.0001.heap", dump);
  std::string e = error_reading(alone);
  EXPECT_TRUE(one_line(e)) << e;
  EXPECT_EQ(e.rfind(alone + ": its stacks are in run.stacks, not found in the same folder: copy run.stacks", 0), 0u)
      << e;

  // Another run's stacks file: stack 5 is not in it.
  std::string other = kStacksFile;
  other.replace(other.find("5 @ 0x00401105"), 1, "6");
  dir.write("run.stacks", other);
  e = error_reading(alone);
  EXPECT_TRUE(one_line(e)) << e;
  EXPECT_NE(e.find("stack 5 is not in run.stacks"), std::string::npos) << e;
  EXPECT_NE(e.find("does not match the dump"), std::string::npos) << e;
  // Cut short before stack 5 was written whole: its unfinished line is not read.
  const std::string cut = std::string(kStacksFile).substr(0, std::string(kStacksFile).find("5 @ 0x00401105") + 10);
  dir.write("run.stacks", cut);
  e = error_reading(alone);
  EXPECT_NE(e.find("stack 5 is not in run.stacks"), std::string::npos) << e;

  // A symbolic link planted as the stacks file is never followed.
  const std::string real = dir.write("real.stacks", kStacksFile);
  ASSERT_EQ(std::remove((dir.path() + "/run.stacks").c_str()), 0);
  ASSERT_EQ(::symlink(real.c_str(), (dir.path() + "/run.stacks").c_str()), 0);
  e = error_reading(alone);
  EXPECT_TRUE(one_line(e)) << e;
  EXPECT_NE(e.find("a symbolic link"), std::string::npos) << e;

  // Names that are not a plain file name in the dump's folder.
  for (const char* name : {"../run.stacks", "/etc/passwd", "sub/run.stacks", "..", ""}) {
    std::string bad = dump;
    bad.replace(bad.find("run.stacks"), 10, name);
    e = error_reading(dir.write("bad.heap", bad));
    EXPECT_TRUE(one_line(e)) << e;
    EXPECT_NE(e.find("bad stacks file name"), std::string::npos) << name << ": " << e;
  }

  // Not a stacks file; a bad line in one.
  dir.write("real.heap", std::string(kMixedHeader) + kWholeBuckets + kMaps);
  std::string named = dump;
  named.replace(named.find("run.stacks"), 10, "real.heap");
  e = error_reading(dir.write("named.heap", named));
  EXPECT_TRUE(one_line(e)) << e;
  EXPECT_NE(e.find("not a yep heap stacks file"), std::string::npos) << e;
  dir.write("junk.stacks", "yep heap stacks 1\n17 0x00401105\n");
  named = dump;
  named.replace(named.find("run.stacks"), 10, "junk.stacks");
  e = error_reading(dir.write("named.heap", named));
  EXPECT_TRUE(one_line(e)) << e;
  EXPECT_NE(e.find("junk.stacks: line 2: bad line"), std::string::npos) << e;

  // "@ =<id>" without a "# yep-stacks:" line is a bad bucket; a reference
  // dump given as text cannot be resolved.
  std::string unnamed = dump;
  unnamed.erase(unnamed.find("# yep-stacks:"), std::string("# yep-stacks:\trun.stacks\n").size());
  e = error_of(unnamed);
  EXPECT_NE(e.find("bad.heap: line 2: stack reference '=17' in a heap profile without a '# yep-stacks:' line"),
            std::string::npos)
      << e;
  e = error_of(dump);
  EXPECT_TRUE(one_line(e)) << e;
  EXPECT_NE(e.find("its stacks are in run.stacks"), std::string::npos) << e;
}

// --- Bounded memory: a file is read as a stream, never whole.

// The process's peak resident memory since the last reset_peak(), in bytes.
int64_t peak_rss() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::atoll(line.c_str() + 6) * 1024;
  return -1;
}

// Resets the peak to the current resident memory (Linux >= 4.0).
bool reset_peak() {
  std::ofstream clear("/proc/self/clear_refs");
  clear << "5";
  clear.close();
  return static_cast<bool>(clear);
}

int64_t file_size(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  return static_cast<int64_t>(in.tellg());
}

TEST(HeapProfileMemory, ABigDumpOfFewStacksIsReadInLittleMemory) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  // 900,000 buckets (about 170 MB) repeating 4 stacks of 8 frames.
  const std::string path = dir.path() + "/big.heap";
  const int buckets = 900000;
  {
    std::FILE* f = std::fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fprintf(f, "heap profile: %8d: %8lld [%8d: %8lld] @ heapprofile\n", buckets, 100LL * buckets, buckets,
                 100LL * buckets);
    for (int i = 0; i < buckets; ++i) {
      std::fprintf(f, "     1:      100 [     1:      100] @");
      for (int frame = 0; frame < 8; ++frame) std::fprintf(f, " 0x%016llx", 0x401000ULL + 0x10 * frame + (i % 4));
      std::fputc('\n', f);
    }
    std::fprintf(f, "\nMAPPED_LIBRARIES:\n%s", kMaps);
    ASSERT_EQ(std::fclose(f), 0);
  }
  const int64_t size = file_size(path);
  ASSERT_GT(size, 150 << 20);
  if (!reset_peak()) GTEST_SKIP() << "cannot reset the peak resident memory here";
  const int64_t before = peak_rss();
  const yep::Profile p = yep::read_profile(path);
  const int64_t growth = peak_rss() - before;
  ASSERT_EQ(p.samples.size(), 4u);
  EXPECT_EQ(p.samples[0].values[3], 100LL * buckets / 4);
  EXPECT_LT(growth, size / 4) << "peak RSS grew by " << growth << " bytes reading a " << size << "-byte file";
  std::printf("read a %lld-byte heap dump: peak RSS +%lld bytes\n", static_cast<long long>(size),
              static_cast<long long>(growth));
  // The measure sees a file held whole (as the reader once did).
  ASSERT_TRUE(reset_peak());
  const int64_t whole_before = peak_rss();
  EXPECT_EQ(yep::parse_heap_profile(yep::read_file(path), path).samples.size(), 4u);
  EXPECT_GT(peak_rss() - whole_before, size / 2);
}

TEST(HeapProfileMemory, AReferenceDumpReadsOnlyItsStacksOfABigStacksFile) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  // 400,000 stacks of 8 frames, each with its Python frames (about 130 MB);
  // the dump refers to three of them.
  const int stacks = 400000;
  {
    std::FILE* f = std::fopen((dir.path() + "/big.stacks").c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs("yep heap stacks 1\n", f);
    for (int i = 0; i < stacks; ++i) {
      std::fprintf(f, "%d @", i);
      for (int frame = 0; frame < 8; ++frame) std::fprintf(f, " 0x%016llx", 0x401000ULL + 0x10 * frame + i);
      std::fprintf(f, "\n# yep-python:\t%x\t%d\t1\t/p/module_%d.py\tfunction_%d\n", i, i % 1000, i, i);
      std::fprintf(f, "# yep-stack:\t%d\t-\t2:%x\t0\n", i, i);
      std::fprintf(f, "# yep-function:\t%x\t%x\tbuiltin_%d\n", 0x800000 + 2 * i, 0x800000 + 2 * i + 1, i);
    }
    ASSERT_EQ(std::fclose(f), 0);
  }
  const int64_t size = file_size(dir.path() + "/big.stacks");
  ASSERT_GT(size, 100 << 20);
  const std::string dump = dir.write("big.0001.heap", "heap profile: 3: 300 [ 3: 300] @ heapprofile\n"
                                                      "# yep-stacks:\tbig.stacks\n"
                                                      " 1: 100 [ 1: 100] @ =7\n"
                                                      " 1: 100 [ 1: 100] @ =123456\n"
                                                      " 1: 100 [ 1: 100] @ =399999\n"
                                                      "\nMAPPED_LIBRARIES:\n" + std::string(kMaps));
  if (!reset_peak()) GTEST_SKIP() << "cannot reset the peak resident memory here";
  const int64_t before = peak_rss();
  const yep::Profile p = yep::read_profile(dump);
  const int64_t growth = peak_rss() - before;
  ASSERT_EQ(p.samples.size(), 3u);
  EXPECT_EQ(p.functions.size(), 3u);  // only the referenced stacks' Python frames
  EXPECT_TRUE(p.function_hints.empty());
  EXPECT_LT(growth, size / 4) << "peak RSS grew by " << growth << " bytes reading a " << size << "-byte stacks file";
  std::printf("read a reference dump of a %lld-byte stacks file: peak RSS +%lld bytes\n", static_cast<long long>(size),
              static_cast<long long>(growth));
}

// A line longer than the limit is refused, never grown without end.
TEST(HeapProfileMemory, RefusesAnEndlessLine) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::string path = dir.path() + "/long.heap";
  {
    std::FILE* f = std::fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs("heap profile: 1: 1 [ 1: 1] @ heapprofile\n 1: 1 [ 1: 1] @", f);
    const std::string frames(1 << 20, ' ');
    for (int i = 0; i < 20; ++i) std::fputs(frames.c_str(), f);
    ASSERT_EQ(std::fclose(f), 0);
  }
  const std::string e = error_reading(path);
  EXPECT_EQ(e, path + ": line 2 is longer than 16 MiB: not a profile yep reads (a corrupt or foreign file?)");
}

}  // namespace
